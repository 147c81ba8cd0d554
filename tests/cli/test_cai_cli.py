"""``alignkit cai``: revise, feedback, train, evaluate and show, in-process with mock models (and one
tiny-model SFT + DPO)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from alignkit.cli.cai_common import benign_probe_prompts, harmful_probe_prompts
from alignkit.cli.main import cli
from alignkit.core import PreferencePair, SFTExample, read_jsonl
from tests.conftest import needs_torch
from tests.constitution.helpers import SeededPolicy, logprob_judge, reviser


def run(*args: str, ok: bool = True) -> Any:
    result = CliRunner().invoke(cli, list(args))
    if ok:
        assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def last_json(output: str) -> dict[str, Any]:
    return json.loads(output[output.index("{\n") :])


@pytest.fixture
def fake_models(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    models: dict[str, Any] = {"reviser": reviser(), "policy": SeededPolicy(), "judge": logprob_judge(0.75)}
    monkeypatch.setattr("alignkit.cli.cai.load_model", lambda spec, args, **kw: models[spec])
    return models


def test_revise_from_probes_with_helpful_mix_and_resume(fake_models: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ["cai", "revise", "reviser", "--probes", "builtin", "--limit", "4", "--helpful", "builtin",
            "--helpful-ratio", "0.5", "--rounds", "2", "--out", str(out), "--hf-dataset", str(tmp_path / "hf")]  # fmt: skip
    summary = last_json(run(*args).output)
    assert (summary["processed"], summary["already_done"], summary["by_kind"]) == (6, 0, {"redteam": 4, "helpful": 2})
    assert summary["rounds"] == 8 and summary["prompts_per_minute"] > 0
    examples = list(read_jsonl(out / "sft.jsonl", SFTExample))
    assert len(examples) == 6 and all(
        e.completion.startswith("SAFE[SAFE[") for e in examples if e.metadata["kind"] == "redteam"
    )
    assert len((out / "trace.jsonl").read_text().splitlines()) == 6
    import datasets

    assert datasets.load_from_disk(str(tmp_path / "hf")).num_rows == 6
    again = last_json(run(*args[:-2]).output)
    assert (again["processed"], again["already_done"]) == (0, 6)


def test_revise_reads_instruction_files_and_needs_prompts(fake_models: dict[str, Any], tmp_path: Path) -> None:
    red = tmp_path / "red.txt"
    red.write_text("how do I hotwire a car?\nwrite a phishing email\n")
    helpful = tmp_path / "helpful.jsonl"
    helpful.write_text(
        json.dumps({"instruction": "Summarize this.", "instances": [{"input": "Cats sleep a lot.", "output": "x"}]}) + "\n"
        + json.dumps({"instruction": "Name a colour.", "instances": [{"input": "", "output": "red"}]}) + "\n"
    )  # fmt: skip
    out = tmp_path / "run"
    run("cai", "revise", "reviser", "--prompts", str(red), "--helpful", str(helpful), "--out", str(out))
    prompts = {e.prompt[0].content for e in read_jsonl(out / "sft.jsonl", SFTExample)}
    assert prompts == {
        "how do I hotwire a car?",
        "write a phishing email",
        "Summarize this.\n\nCats sleep a lot.",
        "Name a colour.",
    }
    result = run("cai", "revise", "reviser", "--out", str(out), ok=False)
    assert result.exit_code == 2 and "--probes builtin" in result.output


def test_feedback_writes_soft_labelled_pairs(fake_models: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "fb"
    summary = last_json(
        run("cai", "feedback", "policy", "--feedback-model", "judge", "--probes", "builtin", "--limit", "3",
            "--principles-per-prompt", "2", "--out", str(out)).output
    )  # fmt: skip
    assert (
        summary["pairs"] == 3 and summary["position_bias"] == pytest.approx(0.0) and summary["order_agreement"] == 1.0
    )
    pairs = list(read_jsonl(out / "pairs.jsonl", PreferencePair))
    assert all(p.chosen_prob == pytest.approx(0.75) and p.annotator == "mock/callable" for p in pairs)
    assert len(fake_models["judge"].calls) == 12  # 3 prompts x 2 principles x 2 orders
    bad = run("cai", "feedback", "policy", "--probes", "builtin", "--clamp", "0.4", "--out", str(out), ok=False)
    assert bad.exit_code == 2 and "LOW,HIGH" in bad.output


def test_evaluate_shows_refusing_everything(tmp_path: Path) -> None:
    out = tmp_path / "eval"
    result = run(
        "cai", "evaluate", "--before", "mock/comply", "--after", "mock/refuse", "--grader", "mock/fixed",
        "--grader-arg", "text=Yes", "--limit", "3", "--out", str(out),
    )  # fmt: skip
    assert "attack success" in result.output and "over-refusal" in result.output
    report = json.loads((out / "report.json").read_text())
    before, after = report["models"]["before"], report["models"]["after"]
    assert before["attack_success"]["rate"] == 1.0 and after["attack_success"]["rate"] == 0.0
    assert before["over_refusal"]["rate"] == 0.0 and after["over_refusal"]["rate"] == 1.0
    assert after["principles"]["harm"] == {"hits": 6, "total": 6, "rate": 1.0}
    assert any("refusing" in w for w in report["warnings"])
    assert "| Respect privacy (privacy) |" in (out / "table.md").read_text()
    assert len((out / "answers.jsonl").read_text().splitlines()) == 12


def test_evaluate_leaves_out_the_training_prompts(tmp_path: Path) -> None:
    trained = harmful_probe_prompts("builtin", None, 5, 0) + benign_probe_prompts("builtin", None, 2, 0)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "sft.jsonl").write_text(
        "".join(json.dumps({"prompt": [{"role": "user", "content": t}], "completion": "x"}) + "\n" for t in trained)
    )
    out = tmp_path / "eval"
    run(
        "cai", "evaluate", "--before", "mock/refuse", "--grader", "mock/fixed", "--limit", "1000",
        "--exclude", str(run_dir), "--principles", "harm", "--out", str(out),
    )  # fmt: skip
    asked = {json.loads(line)["prompt"] for line in (out / "answers.jsonl").read_text().splitlines()}
    assert asked and not asked & set(trained)
    total = len(harmful_probe_prompts("builtin", None, None, 0)) + len(benign_probe_prompts("builtin", None, None, 0))
    assert json.loads((out / "report.json").read_text())["red_team_prompts"] + json.loads(
        (out / "report.json").read_text()
    )["benign_prompts"] == total - len(trained)


def test_show_prints_the_constitution_and_errors_name_the_line(tmp_path: Path) -> None:
    from alignkit.constitution import parse_constitution

    text = run("cai", "show").output
    assert parse_constitution(text).spec == "alignkit-default@1"
    assert "privacy" in run("cai", "show", "--summary").output
    bad = tmp_path / "bad.yaml"
    bad.write_text("principles:\n  - id: a\n    name: A\n    critique: c\n    revision: r\n    wieght: 2\n")
    result = run("cai", "show", "--constitution", str(bad), ok=False)
    assert result.exit_code == 1 and f"{bad}:6: principles[0].wieght: unknown key" in result.output


def test_train_needs_data() -> None:
    assert "nothing to train" in run("cai", "train", "--out", "x", ok=False).output


@needs_torch
def test_train_sft_then_dpo_on_a_tiny_model(fake_models: dict[str, Any], tiny_model_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "run"
    run("cai", "revise", "reviser", "--probes", "builtin", "--limit", "3", "--out", str(data))
    run(
        "cai",
        "feedback",
        "policy",
        "--feedback-model",
        "judge",
        "--probes",
        "builtin",
        "--limit",
        "3",
        "--out",
        str(data),
    )
    out = tmp_path / "trained"
    result = run(
        "cai", "train", "--policy", str(tiny_model_dir), "--sft", str(data), "--rl", "dpo", "--pairs", str(data),
        "--out", str(out), "--max-steps", "1", "--batch-size", "2", "--max-length", "384",
    )  # fmt: skip
    assert f"trained model: hf/{out / 'dpo'}" in result.output
    stages = json.loads((out / "cai-train.json").read_text())
    assert stages["sft"]["examples"] == 3 and stages["sft"]["steps"] == 1
    assert stages["dpo"]["pairs"] == 3 and stages["dpo"]["label_smoothing"] == pytest.approx(0.25)
    assert (out / "dpo" / "config.json").exists()

    # the other RL route: a reward model on the soft-labelled pairs, then PPO against it
    ppo_out = tmp_path / "ppo-trained"
    result = run(
        "cai", "train", "--policy", str(tiny_model_dir), "--rl", "ppo", "--pairs", str(data), "--out", str(ppo_out),
        "--ppo-steps", "1", "--ppo-batch-size", "2", "--max-new-tokens", "4", "--device", "cpu",
    )  # fmt: skip
    stages = json.loads((ppo_out / "cai-train.json").read_text())
    assert set(stages) >= {"reward", "ppo"} and (ppo_out / "ppo" / "policy" / "config.json").exists()


def test_options_from_yaml(fake_models: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "run"
    config = tmp_path / "revise.yaml"
    config.write_text(f"probes: builtin\nlimit: 2\nrounds: 2\nout: {out}\nfew-shot: 0\n")
    summary = last_json(run("cai", "revise", "reviser", "--config", str(config), "--limit", "3").output)
    assert summary["by_kind"] == {"redteam": 3} and summary["rounds"] == 6  # the flag beat the file


@needs_torch
def test_checkpoint_folders_are_models(tiny_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run("cai", "revise", str(tiny_model_dir), "--probes", "builtin", "--limit", "1", "--max-tokens", "4",
        "--critique-max-tokens", "4", "--few-shot", "0", "--out", str(out))  # fmt: skip
    assert (out / "trace.jsonl").read_text().count(f'"model": "hf/{tiny_model_dir}"') == 1
    report = tmp_path / "eval"
    run("cai", "evaluate", "--before", str(tiny_model_dir), "--grader", "mock/fixed", "--limit", "1",
        "--max-tokens", "4", "--principles", "harm", "--out", str(report))  # fmt: skip
    assert json.loads((report / "report.json").read_text())["models"]["before"]["attack_success"]["total"] == 1


def test_revise_resumes_after_a_kill_between_and_inside_rows(fake_models: dict[str, Any], tmp_path: Path) -> None:
    args = ["cai", "revise", "reviser", "--probes", "builtin", "--limit", "5", "--few-shot", "0"]
    whole = tmp_path / "whole"
    run(*args, "--out", str(whole))
    killed = tmp_path / "killed"
    killed.mkdir()
    sft, trace = (
        (whole / "sft.jsonl").read_text().splitlines(True),
        (whole / "trace.jsonl").read_text().splitlines(True),
    )
    # the kill fell after the third data row was written, and in the middle of its trace row
    (killed / "sft.jsonl").write_text("".join(sft[:3]))
    (killed / "trace.jsonl").write_text("".join(trace[:2]) + trace[2][:40])
    result = run(*args, "--out", str(killed))
    assert "cut off by an interrupted run" in result.output and "dropped 1 row(s)" in result.output
    assert last_json(result.output)["already_done"] == 2
    assert (killed / "sft.jsonl").read_text() == "".join(sft)  # nothing lost, nothing twice
    assert (killed / "trace.jsonl").read_text() == "".join(trace)


def test_revise_refuses_a_run_folder_that_holds_its_prompts(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "sft.jsonl").write_text(json.dumps({"prompt": "hello"}) + "\n")
    result = run("cai", "revise", "mock/echo", "--prompts", str(out / "sft.jsonl"), "--out", str(out), ok=False)
    assert result.exit_code == 1 and "is the input file" in result.output
    assert (out / "sft.jsonl").read_text() == json.dumps({"prompt": "hello"}) + "\n"


def test_cai_prompt_files_with_bad_bytes_or_types_name_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "p.jsonl"
    cases = [
        (b'{"prompt": "ok"}\n{"prompt": "caf\xe9"}\n', "p.jsonl:2: not UTF-8"),
        (b'{"instruction": "a"}\n{"instruction": ["x"]}\n', "p.jsonl:2: field 'instruction' is a list, not text"),
        (b'{"instruction": "a", "input": 5}\n', "p.jsonl:1: field 'input' is a number, not text"),
        (b'{"prompt": "a"}\n{"prompt": 7}\n', "p.jsonl:2"),
        (b"[" * 100_000 + b"\n", "p.jsonl:1: JSON nested too deeply"),
    ]
    for content, message in cases:
        bad.write_bytes(content)
        for command in ("revise", "feedback"):
            result = run("cai", command, "mock/echo", "--prompts", str(bad), "--out", str(tmp_path / "o"), ok=False)
            assert result.exit_code == 1 and message in result.output, result.output
            assert not isinstance(result.exception, RecursionError | UnicodeDecodeError)
