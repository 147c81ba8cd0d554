"""docs/bias.md's Python examples run, and the commands and term lists it names exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from alignkit.bias import shipped_lists
from alignkit.cli.bias import bias

DOC = Path(__file__).resolve().parents[2] / "docs" / "bias.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_doc_example_runs(code: str) -> None:
    exec(compile(code, str(DOC), "exec"), {"__name__": "__doc_example__"})


def test_doc_names_real_commands_and_lists() -> None:
    text = DOC.read_text()
    assert set(re.findall(r"^alignkit bias (\w+)", text, flags=re.M)) <= set(bias.commands)
    assert set(re.findall(r"^\| `(\w+)` \| \w+ \|", text, flags=re.M)) == set(shipped_lists())
