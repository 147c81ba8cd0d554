"""The README's Python examples run, so they cannot drift from the code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_example_runs(code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    monkeypatch.setenv("ALIGNKIT_VULN_LOG", str(tmp_path / "vulns.jsonl"))
    exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})


def test_quickstart_is_two_make_commands() -> None:
    quick = README.read_text().split("## Quickstart", 1)[1].split("##", 1)[0]
    commands = re.findall(r"```sh\n(.*?)```", quick, flags=re.S)[0].strip().splitlines()
    assert [c.split("#")[0].strip() for c in commands] == ["make demo", "make test"]


def test_cli_commands_in_readme_exist() -> None:
    from alignkit.cli.main import COMMANDS

    used = set(re.findall(r"^alignkit (\w+)", README.read_text(), flags=re.M))
    assert used <= set(COMMANDS), used - set(COMMANDS)
