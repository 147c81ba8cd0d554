"""Reward-model training with differential privacy: the Bradley-Terry loss of ``train_reward_model``
through :func:`~alignkit.privacy.dp_train.dp_train`, one preference pair per privacy unit (its chosen
and rejected rows are folded into one gradient before clipping)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import torch

from alignkit.core.errors import ConfigError
from alignkit.core.records import PreferencePair
from alignkit.privacy.dp import DPConfig, plan, steps_for
from alignkit.privacy.dp_train import DPLoopConfig, dp_train
from alignkit.rlhf.losses import bradley_terry_loss
from alignkit.rlhf.reward import RewardConfig, RewardModel, _chosen_prob, freeze_below


def train_reward_model_dp(
    rm: RewardModel,
    pairs: Sequence[PreferencePair],
    config: RewardConfig | None,
    dp: DPConfig,
    *,
    max_steps: int | None = None,
    on_step: Callable[[int, int, float], None] | None = None,
) -> dict[str, Any]:
    """Bradley-Terry training on ``pairs`` with DP-SGD to the target ``dp``: ``config.batch_size`` is
    the expected number of pairs per step and ``config.epochs`` (or ``max_steps``) plans the steps the
    noise is calibrated for. Returns statistics like ``train_reward_model`` plus ``privacy``.

    Reward centring reads the training pairs' mean reward, which is not private; a DP run does not
    centre (the offset stays 0) and says so in the statistics."""
    cfg = config or RewardConfig()
    if not pairs:
        raise ConfigError("no preference pairs to train on")
    torch.manual_seed(cfg.seed)
    steps = steps_for(len(pairs), cfg.batch_size, cfg.epochs, max_steps)
    p = plan(dp, len(pairs), cfg.batch_size, steps)
    if cfg.train_layers is not None:
        freeze_below(rm.model, cfg.train_layers)

    def batch_loss(batch: list[PreferencePair]) -> tuple[Any, int]:
        texts = [rm.render(x.prompt, x.chosen) for x in batch] + [rm.render(x.prompt, x.rejected) for x in batch]
        rewards = rm._raw(texts, cfg.max_length)  # [2B]: chosen first, then rejected
        n = len(batch)
        margin = torch.tensor([x.margin or 0.0 for x in batch], device=rewards.device)
        prob = torch.tensor([_chosen_prob(x) for x in batch], device=rewards.device)
        return bradley_terry_loss(rewards[:n], rewards[n:], margin=margin, chosen_prob=prob), 2

    loop = DPLoopConfig(learning_rate=cfg.learning_rate, weight_decay=cfg.weight_decay, seed=cfg.seed)
    result = dp_train(rm.model, list(pairs), batch_loss, dp, p, loop, on_step=on_step)
    rm.offset = 0.0
    return {
        **{k: v for k, v in result.items() if k != "losses"},
        "offset": 0.0,
        "centered": "no: the training pairs' mean reward is not private, so a DP run keeps offset 0",
        "config": asdict(cfg),
    }
