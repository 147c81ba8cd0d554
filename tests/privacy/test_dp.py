"""DP accounting against Opacus' own accountants, config errors, and DP training on tiny models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alignkit.core.errors import ConfigError
from alignkit.core.messages import user
from alignkit.core.records import PreferencePair, SFTExample
from alignkit.privacy.dp import DPConfig, epsilon_spent, plan, steps_for
from alignkit.rlhf.trl_config import LoraAdapterConfig, TrainConfig
from tests.conftest import needs_torch

opacus = pytest.importorskip("opacus", reason="needs the privacy extra: pip install 'alignkit[privacy]'")


@pytest.mark.parametrize(("mechanism", "epsilon"), [("rdp", 1.0), ("rdp", 8.0), ("prv", 4.0)])
def test_the_planned_noise_meets_the_target_by_opacus_own_accountant(mechanism: str, epsilon: float) -> None:
    from opacus.accountants import create_accountant

    dp = DPConfig(epsilon=epsilon, delta=1e-5, accountant=mechanism)
    p = plan(dp, examples=10_000, batch_size=64, steps=steps_for(10_000, 64, 2, None))
    assert p.steps == 313 and p.sample_rate == pytest.approx(0.0064)
    accountant = create_accountant(mechanism=mechanism)
    for _ in range(p.steps):  # step by step, as the training loop's hook does
        accountant.step(noise_multiplier=p.noise_multiplier, sample_rate=p.sample_rate)
    spent = accountant.get_epsilon(delta=1e-5)
    assert spent <= epsilon * 1.001  # within the target ...
    assert spent >= epsilon * 0.97  # ... and not wastefully below it (the noise is the smallest that fits)
    assert epsilon_spent(dp, p.noise_multiplier, p.sample_rate, p.steps) == pytest.approx(spent, rel=1e-6)


def test_more_steps_or_a_smaller_epsilon_need_more_noise() -> None:
    loose, tight = DPConfig(epsilon=8.0), DPConfig(epsilon=1.0)
    assert plan(tight, 1000, 10, 100).noise_multiplier > plan(loose, 1000, 10, 100).noise_multiplier
    assert plan(loose, 1000, 10, 400).noise_multiplier > plan(loose, 1000, 10, 100).noise_multiplier


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epsilon": 0}, "epsilon must be a positive"),
        ({"epsilon": float("inf")}, "epsilon must be a positive"),
        ({"epsilon": 1, "delta": 1.5}, "delta must be in"),
        ({"epsilon": 1, "max_grad_norm": 0}, "max_grad_norm"),
        ({"epsilon": 1, "accountant": "gdpx"}, "accountant must be one of"),
    ],
)
def test_bad_dp_configs_say_what_to_give(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DPConfig(**kwargs)  # type: ignore[arg-type]


def test_a_delta_not_below_one_over_n_is_refused() -> None:
    with pytest.raises(ConfigError, match="not below 1/N"):
        plan(DPConfig(epsilon=8, delta=0.01), examples=200, batch_size=8, steps=10)
    with pytest.raises(ConfigError, match="batch size"):
        plan(DPConfig(epsilon=8, delta=1e-5), examples=200, batch_size=500, steps=10)


def _sft_examples(n: int) -> list[SFTExample]:
    return [SFTExample(prompt=(user(f"question {i}"),), completion=f"the quick brown fox {i}") for i in range(n)]


@needs_torch
@pytest.mark.parametrize("lora", [None, LoraAdapterConfig(rank=4, alpha=8)])
def test_dp_sft_writes_the_spent_budget_into_the_manifest_and_card(
    tiny_model_dir: Path, tmp_path: Path, lora: LoraAdapterConfig | None
) -> None:
    from transformers import AutoModelForCausalLM

    from alignkit.privacy.dp_sft import train_sft_dp

    dp = DPConfig(epsilon=4.0, delta=1e-3)
    config = TrainConfig(output_dir=tmp_path / "out", batch_size=4, max_steps=3, lora=lora)
    stats = train_sft_dp(str(tiny_model_dir), _sft_examples(40), config, dp)
    privacy = stats["privacy"]
    assert privacy["steps"] == privacy["planned_steps"] == 3
    assert 0 < privacy["epsilon_spent"] <= 4.0 * 1.001
    assert privacy["epsilon_spent"] == pytest.approx(
        epsilon_spent(dp, privacy["noise_multiplier"], privacy["sample_rate"], 3), rel=1e-6
    )
    manifest = json.loads((tmp_path / "out" / "alignkit-train.json").read_text())
    assert manifest["privacy"]["epsilon_spent"] == privacy["epsilon_spent"]
    card = (tmp_path / "out" / "README.md").read_text()
    assert "differential privacy" in card and f"{privacy['epsilon_spent']:.3g}" in card
    AutoModelForCausalLM.from_pretrained(tmp_path / "out")  # loads as a plain model (LoRA merged)


@needs_torch
def test_dp_sft_refuses_options_it_cannot_honour(tiny_model_dir: Path, tmp_path: Path) -> None:
    from alignkit.privacy.dp_sft import train_sft_dp

    config = TrainConfig(output_dir=tmp_path, batch_size=4, gradient_accumulation=2)
    with pytest.raises(ConfigError, match="raise --batch-size"):
        train_sft_dp(str(tiny_model_dir), _sft_examples(40), config, DPConfig(epsilon=4.0, delta=1e-3))


@needs_torch
def test_dp_reward_model_folds_each_pair_into_one_example(tiny_model_dir: Path) -> None:
    from alignkit.privacy.dp_reward import train_reward_model_dp
    from alignkit.rlhf.reward import RewardConfig, RewardModel

    pairs = [
        PreferencePair(prompt=(user(f"q{i}"),), chosen="paris is the capital", rejected="the lazy dog")
        for i in range(30)
    ]
    rm = RewardModel.from_backbone(str(tiny_model_dir), device="cpu")
    stats = train_reward_model_dp(
        rm, pairs, RewardConfig(batch_size=6, learning_rate=1e-3), DPConfig(epsilon=8.0, delta=1e-3), max_steps=4
    )
    assert stats["privacy"]["steps"] == 4 and stats["privacy"]["examples"] == 30
    assert stats["privacy"]["privacy_unit"] == "one training example"
    assert stats["offset"] == 0.0 and stats["centered"].startswith("no")
    assert len(rm.score([p.prompt for p in pairs[:2]], ["a", "b"])) == 2


@needs_torch
def test_train_reward_and_cai_train_with_dp_write_the_budget(tiny_model_dir: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from alignkit.cli.main import cli
    from alignkit.core.jsonl import write_jsonl

    pairs = tmp_path / "pairs.jsonl"
    rows = [{"prompt": f"q{i}", "chosen": "paris is the capital", "rejected": f"the lazy dog {i}"} for i in range(30)]
    write_jsonl(pairs, rows)
    args = ["rlhf", "train-reward", str(pairs), "--backbone", str(tiny_model_dir), "--out", str(tmp_path / "rm"),
            "--batch-size", "6", "--lr", "1e-3", "--dp-epsilon", "8", "--dp-delta", "1e-3", "--device", "cpu"]  # fmt: skip
    r = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    metrics = json.loads((tmp_path / "rm" / "metrics.json").read_text())
    assert 0 < metrics["privacy"]["epsilon_spent"] <= 8.01 and metrics["privacy"]["examples"] == 27
    assert "differential privacy" in (tmp_path / "rm" / "README.md").read_text()
    write_jsonl(tmp_path / "sft.jsonl", _sft_examples(40))
    args = ["cai", "train", "--policy", str(tiny_model_dir), "--sft", str(tmp_path / "sft.jsonl"), "--out",
            str(tmp_path / "cai"), "--max-steps", "2", "--dp-epsilon", "8", "--dp-delta", "1e-3"]  # fmt: skip
    r = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    stages = json.loads((tmp_path / "cai" / "cai-train.json").read_text())
    assert stages["sft"]["privacy"]["steps"] == 2
