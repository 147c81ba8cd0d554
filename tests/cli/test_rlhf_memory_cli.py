"""The training commands print a memory estimate before they start and stop, saying how to fit, when the
run will not fit; train-reward warns when held-out accuracy stays at chance. On a tiny model built from a
config."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_rlhf_cli import pairs_file, run  # noqa: F401 (pairs_file is a fixture)
from tests.conftest import needs_torch

pytestmark = needs_torch


@pytest.fixture
def no_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("alignkit.rlhf.memory.available_bytes", lambda: 1024.0**2)  # 1 MiB free


@pytest.mark.usefixtures("no_memory")
def test_commands_that_will_not_fit_stop_before_loading_and_say_how(
    tiny_model_dir: Path,
    pairs_file: Path,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
) -> None:
    out = tmp_path / "rm"
    result = run(
        "rlhf", "train-reward", str(pairs_file), "--backbone", str(tiny_model_dir), "--out", str(out), ok=False
    )
    assert result.exit_code != 0 and not out.exists()
    message = result.output + str(result.exception)
    assert "reward model: memory estimate" in message and "will not fit" in message
    assert "--micro-batch-tokens" in message and "--max-length" in message and "ALIGNKIT_MEMORY_CHECK=off" in message
    dpo = run("rlhf", "dpo", "--policy", str(tiny_model_dir), "--pairs", str(pairs_file), "--out", str(tmp_path / "d"),
              ok=False)  # fmt: skip
    assert dpo.exit_code != 0 and "rlhf dpo: memory estimate" in dpo.output + str(dpo.exception)
    assert "--lora-rank 16" in dpo.output + str(dpo.exception)


def test_the_escape_hatch_runs_anyway(
    tiny_model_dir: Path,
    pairs_file: Path,  # noqa: F811 (the fixture imported above)
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("alignkit.rlhf.memory.available_bytes", lambda: 1024.0**2)
    monkeypatch.setenv("ALIGNKIT_MEMORY_CHECK", "off")
    result = run(
        "rlhf", "train-reward", str(pairs_file), "--backbone", str(tiny_model_dir), "--out", str(tmp_path / "rm"),
        "--eval-fraction", "0.5", "--max-length", "32",
    )  # fmt: skip
    assert "reward model: memory estimate" in result.output and "saved" in result.output  # printed, then it ran


def test_flat_held_out_accuracy_is_warned_about(capsys: pytest.CaptureFixture[str]) -> None:
    from alignkit.cli.rlhf_common import warn_if_flat

    warn_if_flat({"pairwise_accuracy": 0.483}, 60)  # the README example at the old learning rate
    assert "within chance (0.5 + 0.129)" in capsys.readouterr().err
    warn_if_flat({"pairwise_accuracy": 0.66}, 500)
    assert capsys.readouterr().err == ""
