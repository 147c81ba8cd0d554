"""The math of RLHF, as small pure functions: reward-model loss, KL-shaped rewards, GAE, PPO's clipped
losses. Shapes: B = batch, T = response tokens; ``mask`` is 1 for real response tokens, 0 for padding
(and for everything after end-of-sequence). This module needs torch (the ``hf`` extra); ``import
alignkit.rlhf`` does not import it.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F


def bradley_terry_loss(
    r_chosen: torch.Tensor,
    r_rejected: torch.Tensor,
    *,
    margin: torch.Tensor | None = None,
    chosen_prob: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean of -log σ(r_c - r_r - margin) over the batch [B]. ``chosen_prob`` (soft labels from AI
    feedback) gives -(p log σ(d) + (1 - p) log σ(-d)); p = 1 is the hard-label loss."""
    d = r_chosen - r_rejected
    if margin is not None:
        d = d - margin
    if chosen_prob is None:
        return -F.logsigmoid(d).mean()
    return -(chosen_prob * F.logsigmoid(d) + (1 - chosen_prob) * F.logsigmoid(-d)).mean()


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of ``x`` where ``mask`` is 1 (over everything, or along ``dim``); 0 where nothing is masked in."""
    if dim is None:
        return (x * mask).sum() / mask.sum().clamp(min=1)
    return (x * mask).sum(dim) / mask.sum(dim).clamp(min=1)


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True) -> torch.Tensor:
    """(x - mean) / std over the masked entries; padding stays 0."""
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    out = (x - mean) * torch.rsqrt(var + 1e-8)
    if not shift_mean:
        out = out + mean
    return out * mask


def kl_shaped_rewards(
    score: torch.Tensor, logp: torch.Tensor, ref_logp: torch.Tensor, mask: torch.Tensor, kl_coef: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token rewards [B, T]: -kl_coef * (logp - ref_logp) on every response token, plus the
    sequence score [B] on the last real token. Returns (rewards, per-token kl)."""
    kl = (logp - ref_logp) * mask  # the k1 estimator of KL(policy || reference), per token
    rewards = -kl_coef * kl
    last = (mask.sum(1).long() - 1).clamp(min=0)  # index of the last real token of each row
    rewards[torch.arange(rewards.size(0)), last] += score
    return rewards * mask, kl


def gae(
    rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalized advantage estimation, right to left over T. Returns (advantages, returns) [B, T]."""
    B, T = rewards.shape
    advantages = torch.zeros_like(rewards)
    last_gae = torch.zeros(B, dtype=rewards.dtype, device=rewards.device)
    for t in reversed(range(T)):
        next_value = values[:, t + 1] * mask[:, t + 1] if t + 1 < T else torch.zeros_like(last_gae)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last_gae = (delta + gamma * lam * last_gae * (mask[:, t + 1] if t + 1 < T else 0.0)) * mask[:, t]
        advantages[:, t] = last_gae
    return advantages, (advantages + values) * mask


def policy_loss(
    logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor, clip: float
) -> tuple[torch.Tensor, dict[str, Any]]:
    """PPO's clipped surrogate: mean of max(-A r, -A clip(r, 1-ε, 1+ε)), r = exp(logp - old_logp)."""
    ratio = torch.exp(logp - old_logp)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip, 1.0 + clip)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    stats = {
        "clipfrac": masked_mean((clipped > unclipped).float(), mask).item(),
        "approx_kl": masked_mean(0.5 * (logp - old_logp) ** 2, mask).item(),
    }
    return loss, stats


def value_loss(
    values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor, clip: float
) -> tuple[torch.Tensor, dict[str, Any]]:
    """Clipped value loss: 0.5 * mean of max((v - R)^2, (clip(v, v_old ± ε) - R)^2)."""
    clipped_values = old_values + torch.clamp(values - old_values, -clip, clip)
    a, b = (values - returns) ** 2, (clipped_values - returns) ** 2
    loss = 0.5 * masked_mean(torch.maximum(a, b), mask)
    return loss, {"vf_clipfrac": masked_mean((b > a).float(), mask).item()}


def entropy_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Per-position entropy [B, T] of the categorical distributions in ``logits`` [B, T, V]."""
    logp = F.log_softmax(logits, dim=-1)
    return -(logp.exp() * logp).sum(-1)


def logprobs_of(logits: torch.Tensor, tokens: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """log p(tokens) [B, T] under ``logits`` [B, T, V] divided by the sampling temperature (PPO must score
    samples with the distribution they were drawn from)."""
    logp = F.log_softmax(logits / temperature, dim=-1)
    return logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)


class AdaptiveKLController:
    """Adaptive KL coefficient (Ziegler et al., 2019): move the coefficient so the measured KL tracks
    ``target``, by at most ±20% per ``horizon`` samples."""

    def __init__(self, init_kl_coef: float, target: float, horizon: int) -> None:
        self.value, self.target, self.horizon = init_kl_coef, target, horizon

    def update(self, current_kl: float, n_samples: int) -> float:
        """Move β towards the KL target after ``n_samples`` rollouts with mean KL ``current_kl``; the new β."""
        error = max(-0.2, min(0.2, current_kl / self.target - 1.0))
        self.value *= 1.0 + error * n_samples / self.horizon
        return self.value
