"""Steps 1-4 of a PPO step (see :mod:`alignkit.rlhf.ppo`), with gradients off: shape the scores, take
the log-probs of the sampled tokens under the policy and the reference, the values, the KL-shaped
per-token rewards, and GAE advantages and returns. The result is a :class:`Rollout`, which the update
(step 5) reads. Shapes: B rollouts, R response tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from alignkit.core.errors import ConfigError
from alignkit.rlhf.losses import (
    entropy_from_logits,
    gae,
    kl_shaped_rewards,
    logprobs_of,
    masked_mean,
    masked_whiten,
)
from alignkit.rlhf.policy import Batch, forward_response
from alignkit.rlhf.ppo_config import PPOConfig

Forward = Callable[[Batch], tuple[torch.Tensor, torch.Tensor]]
"""The policy's forward pass: response logits [B, R, V] and values [B, R]."""

__all__ = ["Forward", "Rollout", "as_scores", "rollout", "shape_scores", "token_lists"]


@dataclass(frozen=True)
class Rollout:
    """What the update needs from the sampling policy, fixed for the whole step."""

    raw_scores: torch.Tensor  # [B] as the reward function gave them
    scores: torch.Tensor  # [B] after the missing-EOS penalty and clipping
    old_logp: torch.Tensor  # [B, R] log-probs of the sampled tokens at the sampling temperature
    values: torch.Tensor  # [B, R]
    kl: torch.Tensor  # [B, R] per-token log π - log π_ref
    advantages: torch.Tensor  # [B, R] (whitened when the config says so)
    returns: torch.Tensor  # [B, R]
    entropy: float  # mean per-token entropy of the policy at the sampling temperature


def shape_scores(scores: torch.Tensor, has_eos: torch.Tensor, cfg: PPOConfig) -> torch.Tensor:
    """Step 1: subtract ``missing_eos_penalty`` from answers cut off at the length limit, then clip to
    ``±score_clip`` (each when set)."""
    if cfg.missing_eos_penalty is not None:
        scores = scores - cfg.missing_eos_penalty * (~has_eos).float()
    if cfg.score_clip is not None:
        scores = scores.clamp(-cfg.score_clip, cfg.score_clip)
    return scores


def rollout(
    forward: Forward, ref_model: Any, batch: Batch, scores: torch.Tensor, cfg: PPOConfig, kl_coef: float
) -> Rollout:
    """Steps 1-4 for ``batch`` (already on the device) and its ``scores`` [B], with gradients off."""
    mask, tokens = batch.response_mask, batch.responses
    raw = scores.to(mask.device).float()
    shaped = shape_scores(raw, batch.has_eos, cfg)
    with torch.no_grad():
        # 2: log-probs under the policy and the frozen reference, and the values
        logits, values = forward(batch)
        old_logp = logprobs_of(logits, tokens, cfg.temperature)
        entropy = masked_mean(entropy_from_logits(logits / cfg.temperature), mask).item()
        ref_logits, _ = forward_response(ref_model, batch)
        ref_logp = logprobs_of(ref_logits, tokens, cfg.temperature)
        del logits, ref_logits
        # 3: per-token rewards: -β·KL on every token, the score on the last
        rewards, kl = kl_shaped_rewards(shaped, old_logp, ref_logp, mask, kl_coef)
        # 4: GAE advantages and returns
        advantages, returns = gae(rewards, values, mask, cfg.gamma, cfg.lam)
        if cfg.whiten_advantages:
            advantages = masked_whiten(advantages, mask)
    return Rollout(raw, shaped, old_logp, values, kl, advantages, returns, entropy)


def token_lists(x: Any) -> list[list[int]] | None:
    """Token tensors (2-D, or a list of 1-D) as lists; None for texts."""
    if isinstance(x, torch.Tensor):
        return [row.tolist() for row in (x if x.dim() == 2 else x.unsqueeze(0))]
    if isinstance(x, Sequence) and x and isinstance(x[0], torch.Tensor):
        return [t.tolist() for t in x]
    return None


def as_scores(rewards: Any, n: int) -> torch.Tensor:
    """Rewards (floats or a tensor) as a float tensor [n]; wrong counts and NaNs are errors."""
    if isinstance(rewards, torch.Tensor):
        scores = rewards.detach().float().reshape(-1).cpu()
    else:
        try:
            scores = torch.tensor([float(r) for r in rewards], dtype=torch.float32)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"rewards must be numbers (a list of floats or a tensor), got {rewards!r:.80}") from e
    if scores.numel() != n:
        raise ConfigError(f"{scores.numel()} rewards for {n} responses; the reward function must return one per answer")
    if not torch.isfinite(scores).all():
        raise ConfigError("a reward is NaN or infinite; check the reward function")
    return scores
