"""docs/reward-hacking.md's Python examples run, and the commands, options and flags it names exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from alignkit.cli.rlhf_hacking import hacking_options
from alignkit.rlhf.shortcuts import ShortcutConfig, measure_shortcuts, shortcut_flags

DOC = Path(__file__).resolve().parents[2] / "docs" / "reward-hacking.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_doc_has_examples() -> None:
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_doc_example_runs(code: str) -> None:
    exec(compile(code, str(DOC), "exec"), {"__name__": "__doc_example__"})


def test_doc_names_real_options_and_flags() -> None:
    import click

    text = DOC.read_text()
    options = {p.opts[0] for p in hacking_options(click.command()(lambda **_: None)).params}
    named = set(re.findall(r"`(--(?:gold|held-out|hack-[a-z]+|on-hack|label-store))", text))
    assert named and named <= options
    flags = set(re.findall(r"^\| `(\w+)` \|", text, flags=re.M))
    many = ["x " * 60 + "<|im_start|> Great question! " + "a b c " * 30] * 4
    seen = {f.name for f in shortcut_flags(measure_shortcuts(many, None), measure_shortcuts(["hi"] * 4, None),
                                           ShortcutConfig(), many)}  # fmt: skip
    assert flags == seen | {"refusal_collapse"}  # no refusal detector here: that one is tested elsewhere
