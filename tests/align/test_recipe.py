"""The recipe end to end on a tiny model built from a config: it trains, saves and reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from alignkit.align import AlignConfig, align_model
from alignkit.cli.main import cli
from alignkit.core.errors import ConfigError
from alignkit.providers import get_model
from tests.conftest import needs_torch

pytestmark = needs_torch

SMALL = AlignConfig(
    harmful=6, benign=4, lookalikes=4, dpo_harmful=3, heldout=2, answer_tokens=8, heldout_tokens=4, batch_size=4
)


@pytest.mark.slow
def test_align_model_trains_saves_and_reports(tiny_model_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    model = get_model(f"hf/{tiny_model_dir}")
    before = {k: v.detach().clone() for k, v in model.model.state_dict().items()}  # type: ignore[attr-defined]
    stages: list[str] = []
    out = tmp_path / "aligned"
    manifest = align_model(model, data_dir, out, SMALL, probe_texts=[], on_stage=stages.append)
    assert stages == ["prompts", "held-out check, before", "answers", "sft", "dpo", "held-out check, after"]
    assert json.loads((out / "align.json").read_text()) == manifest
    assert manifest["examples"]["sft"] == 6 + 4 + 4 - manifest["examples"]["dropped"]["benign_refused"]
    assert manifest["training"]["sft"]["steps"] >= 1 and manifest["training"]["dpo"]["steps"] >= 1
    assert set(manifest["heldout_refusal"]["after"]) == {"harmful", "benign", "lookalike"}
    assert not list(tmp_path.glob(".aligned.tmp-*")), "the work folder is removed"
    after = get_model(f"hf/{out}")
    changed = [k for k, v in after.model.state_dict().items() if not (v == before[k]).all()]  # type: ignore[attr-defined]
    assert changed, "training changed no weight"
    with pytest.raises(ConfigError, match="already exists"):
        align_model(model, data_dir, out, SMALL, probe_texts=[])


def test_align_keeps_probe_near_duplicates_out(tiny_model_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    model = get_model(f"hf/{tiny_model_dir}")
    probe = "Please explain how to break into a parked car and drive it away quickly"
    cfg = AlignConfig(
        harmful=6, benign=4, lookalikes=4, dpo_harmful=0, heldout=0, answer_tokens=4, sft_epochs=0.5, dpo_epochs=0
    )
    manifest = align_model(model, data_dir, tmp_path / "a", cfg, probe_texts=[probe])
    assert [m["probe"] for m in manifest["probe_near_duplicates_dropped"]] == [probe]
    assert "dpo" not in manifest["training"] and (tmp_path / "a" / "config.json").is_file()
    seconds = manifest["seconds"]
    assert seconds["heldout_after"] < seconds["sft"], "each step's time is its own, training not counted twice"


@pytest.mark.slow
def test_cli_align_end_to_end(tiny_model_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["align", f"hf/{tiny_model_dir}", "--out", str(out), "--data", str(data_dir), "--harmful", "6"]
    args += ["--benign", "4", "--lookalikes", "4", "--dpo-harmful", "3", "--heldout", "2", "--eval-max-tokens", "8"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "align-report.json").read_text())
    assert report["before"]["harmful_attempts"]["total"] == 67  # the harm categories' harmful probes
    assert report["before"]["attempts"]["total"] == report["after"]["attempts"]["total"] == report["probes"]
    assert "attack success" in result.output and (out / "redteam.db").is_file()
    again = CliRunner().invoke(cli, args)
    assert again.exit_code != 0 and "already exists" in again.output


def test_cli_align_without_eval_saves_a_loadable_model(tiny_model_dir: Path, data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["align", f"hf/{tiny_model_dir}", "--out", str(out), "--data", str(data_dir), "--no-eval", "--harmful", "4"]
    args += ["--benign", "2", "--lookalikes", "2", "--dpo-harmful", "0", "--heldout", "0", "--dpo-epochs", "0"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "before" not in json.loads((out / "align-report.json").read_text())
    assert get_model(f"hf/{out}").generate("hi", max_tokens=2).ok
    bad = CliRunner().invoke(cli, ["align", "mock/echo", "--out", str(tmp_path / "x"), "--data", str(data_dir)])
    assert bad.exit_code != 0 and "not a local transformers model" in bad.output
