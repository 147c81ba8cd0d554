"""Canaries, exposure, extraction and membership inference on a tiny model that saw a canary many times;
the privacy CLI in-process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from alignkit.cli.main import cli
from alignkit.core.errors import ConfigError
from alignkit.core.jsonl import read_jsonl, write_jsonl
from alignkit.core.messages import user
from alignkit.core.records import SFTExample
from alignkit.privacy.canaries import Canary, CanarySpec, insert_canaries, make_canaries
from tests.conftest import needs_torch


def _examples(lo: int, hi: int) -> list[SFTExample]:
    return [SFTExample(prompt=(user(f"question {i}"),), completion=f"the quick brown fox {i}") for i in range(lo, hi)]


def test_canaries_are_distinct_and_inserted_as_often_as_asked() -> None:
    made = make_canaries(CanarySpec(repeats=(0, 3, 5), per_count=2, digits=4), seed=7)
    assert len({c.secret for c in made}) == 6 and all(len(c.secret) == 4 for c in made)
    mixed = insert_canaries(_examples(0, 10), made)
    for c in made:
        assert sum(e.completion == f"{c.prefix}{c.secret}" for e in mixed) == c.repeats
    assert make_canaries(CanarySpec(digits=4), seed=7) == make_canaries(CanarySpec(digits=4), seed=7)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"repeats": ()}, "repetition counts"), ({"digits": 13}, "1 to 12 digits"), ({"per_count": 0}, "per count")],
)
def test_bad_canary_specs_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CanarySpec(**kwargs)


@pytest.fixture(scope="module")
def memorized(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Canary]]:
    """The tiny model fine-tuned (no DP) on 16 examples plus a canary repeated 24 times; a second
    canary of the same format is never shown."""
    from alignkit.rlhf.trl_config import TrainConfig
    from alignkit.rlhf.trl_methods import train_sft

    canaries = make_canaries(CanarySpec(repeats=(0, 24), per_count=1, digits=2), seed=3)
    out = tmp_path_factory.mktemp("memorized")
    config = TrainConfig(output_dir=out, batch_size=8, epochs=5, learning_rate=3e-3)
    train_sft(str(tiny_model_dir), insert_canaries(_examples(0, 16), canaries), config)
    return out, canaries


@needs_torch
def test_a_repeated_canary_is_more_exposed_than_an_unseen_one(memorized: tuple[Path, list[Canary]]) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from alignkit.privacy.memorization import exposure, extract, membership

    folder, (unseen, seen) = memorized
    model, tok = AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    low, high = exposure(model, tok, unseen, candidates=99), exposure(model, tok, seen, candidates=99)
    assert high["exhaustive"] and high["candidates"] == 100
    assert high["exposure"] > low["exposure"]
    assert high["exposure"] > 4  # ranked in the top ~6 of 100
    assert extract(model, tok, seen)["extracted"]
    # members: the 16 training examples; non-members: the same template, never trained on
    result = membership(model, tok, _examples(0, 16), _examples(16, 32))
    assert result["auroc"] > 0.5 and result["member_loss_mean"] < result["non_member_loss_mean"]


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@needs_torch
def test_the_privacy_cli_end_to_end(memorized: tuple[Path, list[Canary]], tmp_path: Path) -> None:
    folder, canaries = memorized
    write_jsonl(tmp_path / "train.jsonl", _examples(0, 16))
    write_jsonl(tmp_path / "held.jsonl", _examples(16, 32))
    r = _invoke("privacy", "canaries", str(tmp_path / "train.jsonl"), "--out", str(tmp_path / "mixed.jsonl"),
                "--canaries-out", str(tmp_path / "canaries.jsonl"), "--repeats", "0,2", "--digits", "3")  # fmt: skip
    assert r.exit_code == 0, r.output
    listed = list(read_jsonl(tmp_path / "canaries.jsonl", Canary))
    assert [c.repeats for c in listed] == [0, 0, 2, 2]
    assert len(list(read_jsonl(tmp_path / "mixed.jsonl", SFTExample))) == 16 + 4
    write_jsonl(tmp_path / "known.jsonl", canaries)
    r = _invoke("privacy", "exposure", str(folder), "--canaries", str(tmp_path / "known.jsonl"), "--candidates", "99",
                "--out", str(tmp_path / "exposure.json"))  # fmt: skip
    assert r.exit_code == 0, r.output
    by = json.loads((tmp_path / "exposure.json").read_text())["by_repeats"]
    assert by["24"]["mean_exposure"] > by["0"]["mean_exposure"]
    r = _invoke("privacy", "membership", str(folder), "--members", str(tmp_path / "train.jsonl"),
                "--non-members", str(tmp_path / "held.jsonl"), "--out", str(tmp_path / "m.json"))  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "m.json").read_text())["auroc"] > 0.5
    r = CliRunner().invoke(cli, ["privacy", "membership", str(folder), "--members", str(tmp_path / "train.jsonl"),
                                 "--non-members", str(tmp_path / "train.jsonl")])  # fmt: skip
    assert r.exit_code != 0 and "in both --members and --non-members" in r.output


@needs_torch
def test_dp_flags_on_training_commands(tiny_model_dir: Path, tmp_path: Path) -> None:
    write_jsonl(tmp_path / "sft.jsonl", _examples(0, 40))
    r = CliRunner().invoke(cli, ["rlhf", "sft", "--policy", str(tiny_model_dir), "--data", str(tmp_path / "sft.jsonl"),
                                 "--out", str(tmp_path / "x"), "--dp-delta", "1e-3"])  # fmt: skip
    assert r.exit_code != 0 and "--dp-delta need --dp-epsilon" in r.output
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text('{"prompt": "hi", "chosen": "a", "rejected": "b"}\n')
    r = CliRunner().invoke(cli, ["rlhf", "dpo", "--pairs", str(pairs), "--out", str(tmp_path / "d"),
                                 "--dp-epsilon", "8"])  # fmt: skip
    assert r.exit_code != 0 and "rlhf dpo does not support DP" in r.output
    r = CliRunner().invoke(cli, ["cai", "train", "--rl", "dpo", "--pairs", str(pairs), "--out", str(tmp_path / "c"),
                                 "--dp-epsilon", "8"])  # fmt: skip
    assert r.exit_code != 0 and "does not support DP" in r.output
    r = _invoke("rlhf", "sft", "--policy", str(tiny_model_dir), "--data", str(tmp_path / "sft.jsonl"),
                "--out", str(tmp_path / "dp"), "--max-steps", "2", "--batch-size", "4", "--dp-epsilon", "8",
                "--dp-delta", "1e-3")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "dp" / "alignkit-train.json").read_text())["privacy"]["epsilon_spent"] <= 8.01
    assert "differential privacy" in (tmp_path / "dp" / "README.md").read_text()
