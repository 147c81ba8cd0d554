"""Real-browser tests drive Debian's chromium through playwright (no browser download)."""

from __future__ import annotations

import os
import shutil

import pytest


def chromium_or_fail() -> str:
    """The chromium executable; the test skips only when ALIGNKIT_SKIP_BROWSER=1 and fails, saying how to
    install it, when it is missing (a browser test that silently skipped would prove nothing)."""
    if os.environ.get("ALIGNKIT_SKIP_BROWSER") == "1":
        pytest.skip("ALIGNKIT_SKIP_BROWSER=1")
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail(
            "the browser test needs Debian's chromium: run `apt-get install chromium` (make unit does it), "
            "or set ALIGNKIT_SKIP_BROWSER=1 to skip it"
        )
    return chromium
