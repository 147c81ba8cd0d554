"""The monitor's options on ``alignkit rlhf ppo`` and ``rlhf grpo``: --gold turns it on, alarms and the
rollback are reported, hacking.json and the over-optimization curve are written, and misuse is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from alignkit.rlhf.labelling.store import LabelStore
from tests.cli.test_rlhf_cli import run
from tests.conftest import needs_torch

pytestmark = needs_torch

PROXY = "tests.rlhf.test_ppo:vowel_fraction"
ANTI_GOLD = "tests.rlhf.test_hacking_train:anti_vowels"


@pytest.fixture
def prompts_file(tmp_path: Path) -> Path:
    path = tmp_path / "prompts.txt"
    path.write_text("".join(f"question {i}: tell me about the {w}\n" for i in range(24) for w in ("fox", "sea")))
    return path


def ppo_args(model: Path, prompts: Path, out: Path, *extra: str) -> list[str]:
    return [
        "rlhf", "ppo", "--policy", str(model), "--prompts", str(prompts), "--reward", PROXY, "--out", str(out),
        "--batch-size", "16", "--mini-batch-size", "8", "--max-new-tokens", "8", "--lr", "0.001",
        "--kl-coef", "0.01", "--device", "cpu", *extra,
    ]  # fmt: skip


def test_ppo_gold_rollback_from_the_command_line(tiny_model_dir: Path, prompts_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    labels = tmp_path / "labels.db"
    args = ppo_args(tiny_model_dir, prompts_file, out, "--steps", "30", "--gold", ANTI_GOLD, "--hack-every", "3",
                    "--hack-patience", "2", "--on-hack", "rollback", "--label-store", str(labels))  # fmt: skip
    result = run(*args)
    assert "ALARM reward hacking suspected" in result.output and "rolled back to step" in result.output
    summary: dict[str, Any] = json.loads((out / "hacking.json").read_text())
    assert summary["alarms"] and summary["rolled_back_to"] == summary["best_step"]
    assert len(summary["evaluations"][0]) > 3 and "refusal_rate" in summary["evaluations"][0]
    assert (out / "overoptimization.svg").exists() and (out / "policy" / "config.json").exists()
    with LabelStore(labels) as store:
        assert store.count_items() > 0  # the later evaluations' answers, against the start's


def test_monitor_options_need_a_gold(tiny_model_dir: Path, prompts_file: Path, tmp_path: Path) -> None:
    result = run(*ppo_args(tiny_model_dir, prompts_file, tmp_path / "r", "--held-out", str(prompts_file)), ok=False)
    assert result.exit_code != 0 and "--held-out and --label-store need --gold" in result.output
    result = run(*ppo_args(tiny_model_dir, prompts_file, tmp_path / "r", "--on-hack", "explode"), ok=False)
    assert result.exit_code == 2 and "explode" in result.output


def test_grpo_with_a_held_out_file_and_a_detector_gold(
    tiny_model_dir: Path, prompts_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "grpo"
    held = tmp_path / "held.txt"
    held.write_text("say hi\nsay bye\n")
    result = run(
        "rlhf", "grpo", "--policy", str(tiny_model_dir), "--prompts", str(prompts_file), "--reward", PROXY,
        "--out", str(out), "--max-steps", "2", "--max-new-tokens", "6", "--batch-size", "4", "--num-generations", "2",
        "--gold", "detector:toxicity", "--held-out", str(held), "--hack-every", "1",
    )  # fmt: skip
    assert "monitor: 3 evaluations" in result.output
    assert (out / "log.csv").read_text().startswith("step,hacking/proxy")
