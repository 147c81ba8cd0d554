"""``alignkit bias eval / audit / augment / terms`` in-process, on mock models and made-up data folders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from alignkit.bias.choice import LETTERS
from alignkit.cli.main import cli
from alignkit.core.jsonl import read_jsonl
from alignkit.core.records import PreferencePair
from alignkit.providers.mock import MockModel
from tests.bias.conftest import write_bbq, write_winobias


def run(*args: str, ok: bool = True) -> Any:
    result = CliRunner().invoke(cli, list(args))
    if ok:
        assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def _data(tmp_path: Path) -> Path:
    write_bbq(tmp_path / "data" / "bbq")
    write_winobias(tmp_path / "data" / "winobias")
    return tmp_path / "data"


def test_eval_writes_json_and_escaped_html(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("Write a poem about her <script>alert(1)</script>.\nWhy did he leave?\nWhat is 2+2?\n")
    out = tmp_path / "report"
    result = run(
        "bias",
        "eval",
        "mock/fixed",
        "-M",
        "text=A",
        "--data-dir",
        str(_data(tmp_path)),
        "--limit",
        "8",
        "--prompts",
        str(prompts),
        "--sentiment",
        "none",
        "--out",
        str(out),
    )
    assert "BBQ" in result.output and "WinoBias all" in result.output and "Counterfactual gender" in result.output
    report = json.loads((out / "bias-report.json").read_text())
    assert report["model"]["spec"] == "mock/fixed"
    assert report["bbq"]["methods"]["text"] == 8 and len(report["bbq"]["answers"]) == 8
    cf = report["counterfactual"][0]
    assert (cf["measured"], cf["untouched"]) == (2, 1) and "sentiment" not in cf["measures"]
    page = (out / "bias-report.html").read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_eval_reads_logprobs_from_a_provider_that_gives_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a model whose first-token log-probabilities always favour "B" while its text says nothing readable
    model = MockModel.from_callable(lambda prompt: ("Well...", {"B": -0.1, "A": -3.0}))
    monkeypatch.setattr("alignkit.cli.bias.load_model", lambda spec, args: model)
    run(
        "bias",
        "eval",
        "mock/logprobs",
        "--data-dir",
        str(_data(tmp_path)),
        "--no-winobias",
        "--limit",
        "4",
        "--out",
        str(tmp_path / "r"),
    )
    report = json.loads((tmp_path / "r" / "bias-report.json").read_text())
    assert report["bbq"]["methods"]["logprobs"] == 4
    assert {a["pick"] for a in report["bbq"]["answers"]} == {LETTERS.index("B")}


def test_eval_needs_something_to_run_and_existing_data(tmp_path: Path) -> None:
    r = run("bias", "eval", "mock/echo", "--no-bbq", "--no-winobias", ok=False)
    assert r.exit_code == 2 and "nothing to run" in r.output
    r = run("bias", "eval", "mock/echo", "--data-dir", str(tmp_path), "--no-winobias", ok=False)
    assert r.exit_code == 1 and "no BBQ files" in r.output
    r = run(
        "bias", "eval", "mock/echo", "--no-bbq", "--no-winobias", "--prompts", __file__, "--swap", "gender", ok=False
    )
    assert r.exit_code == 1 and "AXIS:GROUP_A,GROUP_B" in r.output


def test_audit_and_augment_round_trip(tmp_path: Path) -> None:
    src = tmp_path / "pairs.jsonl"
    rows = [
        PreferencePair(prompt="Is she a good doctor?", chosen="She is a wonderful doctor.", rejected="No."),
        PreferencePair(prompt="Is he a good doctor?", chosen="Unclear.", rejected="He is an awful doctor."),
    ]
    src.write_text("".join(p.model_dump_json() + "\n" for p in rows))
    audit = run(
        "bias", "audit", str(src), "--terms", "gender", "--sentiment", "none", "--json", str(tmp_path / "audit.json")
    )
    assert "female" in audit.output and "male" in audit.output
    data = json.loads((tmp_path / "audit.json").read_text())
    assert data["axes"]["gender"]["female"]["chosen_only"] == 1
    assert data["axes"]["gender"]["male"]["rejected_only"] == 1
    out = tmp_path / "aug.jsonl"
    stats = json.loads(run("bias", "augment", str(src), "-o", str(out)).output)
    assert stats["written"] == 4
    pairs = list(read_jsonl(out, PreferencePair))
    assert pairs[1].chosen == "He is a wonderful doctor." and pairs[3].rejected == "She is an awful doctor."


def test_terms_lists_the_shipped_axes() -> None:
    out = run("bias", "terms").output
    assert all(axis in out for axis in ("gender:", "race:", "religion:", "age:"))


def test_eval_rotate_asks_every_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = MockModel.from_callable(lambda prompt: ("A", {"A": -0.1, "B": -3.0, "C": -4.0}))
    monkeypatch.setattr("alignkit.cli.bias.load_model", lambda spec, args: model)
    run(
        "bias",
        "eval",
        "mock/position",
        "--data-dir",
        str(_data(tmp_path)),
        "--no-winobias",
        "--limit",
        "4",
        "--rotate",
        "--out",
        str(tmp_path / "r"),
    )
    report = json.loads((tmp_path / "r" / "bias-report.json").read_text())
    assert report["settings"]["rotate"] is True and len(model.calls) == 12
    assert report["bbq"]["methods"]["unparseable"] == 4  # by position alone: no option named
