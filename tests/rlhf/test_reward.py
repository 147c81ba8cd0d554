"""Reward-model training on a tiny model built from a config: it learns a preference it could not know."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from alignkit.core import ConfigError, PreferencePair
from tests.conftest import needs_torch

pytestmark = needs_torch


def toy_pairs(n: int, seed: int) -> list[PreferencePair]:
    """Answers that mention paris are preferred; the words around it vary."""
    rng = random.Random(seed)
    fillers = ["the quick brown fox", "a guard checks them", "the lazy dog", "a red team attacks them"]
    out = []
    for _ in range(n):
        a, b = rng.sample(fillers, 2)
        out.append(PreferencePair(prompt="what is the capital of france?", chosen=f"{a} paris", rejected=f"{b} london"))
    return out


def test_reward_model_learns_a_preference_and_centres_rewards(tiny_model_dir: Path, tmp_path: Path) -> None:
    from alignkit.rlhf.reward import RewardConfig, RewardModel, evaluate_reward_model, train_reward_model

    rm = RewardModel.from_backbone(str(tiny_model_dir))
    held_out = toy_pairs(40, seed=1)
    before = evaluate_reward_model(rm, held_out)
    stats = train_reward_model(rm, toy_pairs(96, seed=0), RewardConfig(learning_rate=3e-3, batch_size=8, epochs=2))
    after = evaluate_reward_model(rm, held_out)
    assert after["pairwise_accuracy"] >= 0.9
    assert after["mean_margin"] > before["mean_margin"] + 1.0  # it learned the preference, not a lucky init
    assert stats["loss_last"] < stats["loss_first"] and 0.0 <= after["ece"] <= 1.0
    scores = rm.score([p.prompt for p in held_out] * 2, [p.chosen for p in held_out] + [p.rejected for p in held_out])
    assert abs(sum(scores) / len(scores)) < 1.0  # centred
    rewards = rm(["what is the capital of france?"] * 2, ["it is paris", "it is london"])
    assert rewards.shape == (2,) and rewards[0] > rewards[1]
    rm.save(tmp_path / "rm")
    again = RewardModel.load(tmp_path / "rm")
    assert again.offset == pytest.approx(rm.offset)
    assert again.score(["q"], ["paris"]) == pytest.approx(rm.score(["q"], ["paris"]), abs=1e-4)


def test_reward_model_errors(tiny_model_dir: Path) -> None:
    from alignkit.rlhf.reward import RewardModel, train_reward_model

    rm = RewardModel.from_backbone(str(tiny_model_dir))
    with pytest.raises(ConfigError, match="no preference pairs"):
        train_reward_model(rm, [])
    with pytest.raises(ConfigError, match="2 prompts but 1 responses"):
        rm.score(["a", "b"], ["x"])
    with pytest.raises(ConfigError, match="takes lists"):
        rm(["a"], "x")


def test_reward_config_is_checked_when_built() -> None:
    from alignkit.rlhf.reward import RewardConfig

    with pytest.raises(ConfigError, match="batch_size must be at least 1"):
        RewardConfig(batch_size=0)
    with pytest.raises(ConfigError, match="learning_rate > 0"):
        RewardConfig(learning_rate=0)
    with pytest.raises(ConfigError, match="train_layers"):
        RewardConfig(train_layers=-1)


def test_lora_reward_model_learns_and_saves_merged_weights(tiny_model_dir: Path, tmp_path: Path) -> None:
    from alignkit.rlhf.reward import RewardConfig, RewardModel, evaluate_reward_model, train_reward_model

    rm = RewardModel.from_backbone(str(tiny_model_dir), lora_rank=8)
    trainable = sum(p.numel() for p in rm.model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in rm.model.parameters())
    assert trainable < total / 2  # only adapters and the head
    train_reward_model(rm, toy_pairs(96, seed=0), RewardConfig(learning_rate=1e-2, batch_size=8, epochs=2))
    assert evaluate_reward_model(rm, toy_pairs(40, seed=1))["pairwise_accuracy"] >= 0.8
    before = rm.score(["q"], ["paris"])
    rm.save(tmp_path / "rm")
    assert not (tmp_path / "rm" / "adapter_config.json").exists()
    assert RewardModel.load(tmp_path / "rm").score(["q"], ["paris"]) == pytest.approx(before, abs=1e-4)


def test_ties_train_towards_equal_rewards() -> None:
    from alignkit.rlhf.reward import _chosen_prob

    assert _chosen_prob(PreferencePair(prompt="q", chosen="a", rejected="b", tie=True)) == 0.5
    assert _chosen_prob(PreferencePair(prompt="q", chosen="a", rejected="b", chosen_prob=0.7)) == 0.7
    assert _chosen_prob(PreferencePair(prompt="q", chosen="a", rejected="b")) == 1.0


def test_train_layers_freezes_everything_below_the_top_blocks(tiny_model_dir: Path) -> None:
    from alignkit.rlhf.reward import RewardModel, freeze_below

    rm = RewardModel.from_backbone(str(tiny_model_dir))
    freeze_below(rm.model, 1)
    trainable = {n for n, p in rm.model.named_parameters() if p.requires_grad}
    assert any(n.startswith("model.layers.1.") for n in trainable) and "score.weight" in trainable
    assert not any(n.startswith("model.layers.0.") or "embed_tokens" in n for n in trainable)
