"""docs/privacy.md's Python examples run, and the commands and flags it names exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from alignkit.cli.privacy import privacy

DOC = Path(__file__).resolve().parents[2] / "docs" / "privacy.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_doc_example_runs(code: str) -> None:
    pytest.importorskip("opacus", reason="needs the privacy extra: pip install 'alignkit[privacy]'")
    exec(compile(code, str(DOC), "exec"), {"__name__": "__doc_example__"})


def test_doc_names_real_commands() -> None:
    text = DOC.read_text()
    assert BLOCKS
    assert set(re.findall(r"^alignkit privacy (\w+)", text, flags=re.M)) <= set(privacy.commands)
