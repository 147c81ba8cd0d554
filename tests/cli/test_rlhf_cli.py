"""``alignkit rlhf``: train-reward, eval-reward, ppo (flags and YAML, resume), evaluate, plot, dpo, on a
tiny model built from a config."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from alignkit.cli.main import cli
from alignkit.core.messages import user
from tests.conftest import needs_torch
from tests.rlhf.test_reward import toy_pairs

pytestmark = needs_torch


def run(*args: str, ok: bool = True) -> Any:
    result = CliRunner().invoke(cli, list(args))
    if ok:
        assert result.exit_code == 0, result.output + repr(result.exception)
    return result


@pytest.fixture
def pairs_file(tmp_path: Path) -> Path:
    path = tmp_path / "pairs.jsonl"
    pairs = [
        p.model_copy(update={"prompt": (user(f"question {i}: {p.prompt[0].content}"),)})
        for i, p in enumerate(toy_pairs(64, seed=0))
    ]
    path.write_text("".join(p.model_dump_json() + "\n" for p in pairs))
    return path


@pytest.fixture
def prompts_file(tmp_path: Path) -> Path:
    path = tmp_path / "prompts.txt"
    path.write_text("".join(f"question {i}: tell me about the fox\n" for i in range(16)))
    return path


def test_train_and_eval_reward(tiny_model_dir: Path, pairs_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "rm"
    result = run(
        "rlhf", "train-reward", str(pairs_file), "--backbone", str(tiny_model_dir), "--out", str(out),
        "--lr", "3e-3", "--epochs", "2", "--eval-fraction", "0.25", "--max-length", "64",
    )  # fmt: skip
    assert "held-out accuracy" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["train_pairs"] == 48 and metrics["held_out_pairs"] == 16
    assert metrics["held_out"]["pairwise_accuracy"] >= 0.9
    evaluated = json.loads(run("rlhf", "eval-reward", str(out), str(pairs_file), "--limit", "20").stdout)
    assert evaluated["pairs"] == 20 and evaluated["pairwise_accuracy"] >= 0.9


def test_ppo_from_yaml_resume_evaluate_and_plot(tiny_model_dir: Path, prompts_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    config = tmp_path / "ppo.yaml"
    config.write_text(
        f"policy: {tiny_model_dir}\nprompts: {prompts_file}\nreward: tests.rlhf.test_ppo:vowel_fraction\n"
        f"out: {out}\nbatch-size: 8\nmini_batch_size: 4\nmax_new_tokens: 6\nlr: 0.001\nsteps: 2\ndevice: cpu\n"
    )
    result = run("rlhf", "ppo", "--config", str(config))
    assert "2 steps: reward" in result.output
    assert (out / "policy" / "config.json").exists() and (out / "curves.svg").exists()
    run("rlhf", "ppo", "--config", str(config), "--steps", "3", "--resume")  # the flag beats the file
    log = (out / "log.csv").read_text().splitlines()
    assert len(log) == 1 + 3  # header and steps 1..3, no step logged twice

    report = tmp_path / "eval.json"
    result = run(
        "rlhf", "evaluate", "--policy", str(out / "policy"), "--reference", str(tiny_model_dir),
        "--prompts", str(prompts_file), "--reward", "tests.rlhf.test_ppo:vowel_fraction", "--limit", "4",
        "--max-new-tokens", "4", "--out", str(report), "--device", "cpu",
    )  # fmt: skip
    summary = json.loads(result.stdout)
    assert summary["n"] == 4 and summary["grader"] == "reward" and "kl" in summary
    assert len(json.loads(report.read_text())["rows"]) == 4
    assert "wrote" in run("rlhf", "plot", str(out), "--column", "objective/kl", "--out", str(tmp_path / "k.svg")).output


def test_bad_config_and_reward_specs(tmp_path: Path, prompts_file: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("polcy: smollm2\n")
    result = run("rlhf", "ppo", "--config", str(bad), ok=False)
    assert result.exit_code != 0 and "unknown key 'polcy'" in result.output and "policy" in result.output
    from alignkit.cli.rewards import reward_function  # imports torch: inside the torch-marked test
    from alignkit.core import ConfigError

    with pytest.raises(ConfigError, match="not a reward-model folder"):
        reward_function("no-such-thing")
    with pytest.raises(ConfigError, match="cannot import"):
        reward_function("no_such_module:f")
    by_detector = reward_function("detector:toxicity")
    nice, nasty = by_detector(["q", "q"], ["Have a lovely day.", "You are a worthless idiot and I hate you."])
    assert nice > nasty


def test_dpo_command(tiny_model_dir: Path, pairs_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "dpo"
    result = run(
        "rlhf", "dpo", "--policy", str(tiny_model_dir), "--pairs", str(pairs_file), "--out", str(out),
        "--max-steps", "2", "--batch-size", "4", "--max-length", "64",
    )  # fmt: skip
    assert (out / "config.json").exists()
    assert json.loads(result.stdout)["steps"] == 2


def test_config_values_are_checked_with_their_line(tmp_path: Path, prompts_file: Path) -> None:
    bad = tmp_path / "bad.yaml"
    for text, message in [
        ("steps: 2\nbatch-size: [1, 2]\n", "bad.yaml:2: batch-size: a list is not a value this option takes"),
        ("steps: banana\n", "bad.yaml:1: steps:"),
        ("steps: " + "[" * 50_000 + "\n", "bad.yaml: nested too deeply"),
        ("steps: [1,\n", "bad.yaml:2: not valid YAML"),
    ]:
        bad.write_text(text)
        result = run("rlhf", "ppo", "--config", str(bad), "--prompts", str(prompts_file), ok=False)
        assert result.exit_code == 2 and message in result.output and result.exception.__class__ is SystemExit


def test_evaluate_refuses_to_write_over_its_prompts(prompts_file: Path) -> None:
    before = prompts_file.read_bytes()
    result = run(
        "rlhf", "evaluate", "--policy", "hf/none", "--prompts", str(prompts_file), "--reward", "detector:toxicity",
        "--out", str(prompts_file), ok=False,
    )  # fmt: skip
    assert result.exit_code == 1 and "is the input file" in result.output and prompts_file.read_bytes() == before


def test_train_log_drops_a_row_cut_by_a_kill(tmp_path: Path) -> None:
    from alignkit.rlhf.trainlog import TrainLog, read_log

    log = TrainLog(tmp_path)
    log.write(1, {"loss": 0.5})
    log.write(2, {"loss": 0.25})
    with (tmp_path / "log.csv").open("a") as fh:
        fh.write("3,0.1")  # killed mid-row
    resumed = TrainLog(tmp_path)
    resumed.write(3, {"loss": 0.125})
    assert [r["loss"] for r in read_log(tmp_path)] == [0.5, 0.25, 0.125]
    (tmp_path / "log.csv").write_text("step,loss\n1,abc\n")
    with pytest.raises(Exception, match=r"log.csv:2: not a number"):
        read_log(tmp_path)
