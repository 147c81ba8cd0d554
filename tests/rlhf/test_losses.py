"""The RLHF math against values computed by hand."""

from __future__ import annotations

import math

import pytest

from tests.conftest import needs_torch

pytestmark = needs_torch


def t(x: object) -> torch.Tensor:  # noqa: F821
    import torch

    return torch.tensor(x, dtype=torch.float32)


def test_bradley_terry_hard_soft_and_margin() -> None:
    from alignkit.rlhf.losses import bradley_terry_loss

    assert bradley_terry_loss(t([1.0]), t([0.0])).item() == pytest.approx(math.log(1 + math.exp(-1)))
    assert bradley_terry_loss(t([0.0]), t([0.0]), chosen_prob=t([0.5])).item() == pytest.approx(math.log(2))
    # a margin of 1 turns a gap of 1 into a gap of 0
    assert bradley_terry_loss(t([1.0]), t([0.0]), margin=t([1.0])).item() == pytest.approx(math.log(2))


def test_gae_by_hand() -> None:
    from alignkit.rlhf.losses import gae

    adv, ret = gae(t([[0.0, 1.0]]), t([[0.5, 0.2]]), t([[1.0, 1.0]]), gamma=1.0, lam=1.0)
    assert adv.tolist()[0] == pytest.approx([0.5, 0.8])
    assert ret.tolist()[0] == pytest.approx([1.0, 1.0])
    adv, _ = gae(t([[0.0, 1.0]]), t([[0.5, 0.2]]), t([[1.0, 1.0]]), gamma=0.9, lam=0.95)
    assert adv.tolist()[0] == pytest.approx([-0.32 + 0.9 * 0.95 * 0.8, 0.8])


def test_gae_ignores_padding_after_the_end() -> None:
    from alignkit.rlhf.losses import gae

    adv, ret = gae(t([[0.0, 1.0, 5.0]]), t([[0.5, 0.2, 9.0]]), t([[1.0, 1.0, 0.0]]), gamma=1.0, lam=1.0)
    assert adv.tolist()[0] == pytest.approx([0.5, 0.8, 0.0])
    assert ret.tolist()[0][2] == 0.0


def test_kl_shaped_rewards_put_the_score_on_the_last_real_token() -> None:
    from alignkit.rlhf.losses import kl_shaped_rewards

    rewards, kl = kl_shaped_rewards(
        t([2.0, 1.0]),
        t([[-1.0, -1.0, -1.0], [-1.0, -2.0, 0.0]]),
        t([[-1.5, -1.0, -1.0], [-1.0, -1.0, 0.0]]),
        t([[1, 1, 1], [1, 1, 0]]),
        kl_coef=0.1,
    )
    assert rewards.tolist()[0] == pytest.approx([-0.05, 0.0, 2.0])
    assert rewards.tolist()[1] == pytest.approx([0.0, 0.1 + 1.0, 0.0])
    assert kl.tolist()[1] == pytest.approx([0.0, -1.0, 0.0])


def test_policy_loss_clips_and_reports_the_fraction() -> None:
    from alignkit.rlhf.losses import policy_loss

    loss, stats = policy_loss(t([[0.0, 0.0]]), t([[0.0, 0.0]]), t([[1.0, -1.0]]), t([[1.0, 1.0]]), clip=0.2)
    assert loss.item() == pytest.approx(0.0) and stats["clipfrac"] == 0.0
    loss, stats = policy_loss(t([[0.5]]), t([[0.0]]), t([[1.0]]), t([[1.0]]), clip=0.2)
    assert loss.item() == pytest.approx(-1.2) and stats["clipfrac"] == 1.0
    assert stats["approx_kl"] == pytest.approx(0.125)


def test_value_loss_clipped() -> None:
    from alignkit.rlhf.losses import value_loss

    loss, stats = value_loss(t([[1.0]]), t([[0.0]]), t([[0.0]]), t([[1.0]]), clip=0.2)
    assert loss.item() == pytest.approx(0.5) and stats["vf_clipfrac"] == 0.0
    loss, stats = value_loss(t([[1.0]]), t([[0.0]]), t([[2.0]]), t([[1.0]]), clip=0.2)
    assert loss.item() == pytest.approx(0.5 * 1.8**2) and stats["vf_clipfrac"] == 1.0


def test_whiten_entropy_logprobs_and_adaptive_kl() -> None:
    import torch

    from alignkit.rlhf.losses import AdaptiveKLController, entropy_from_logits, logprobs_of, masked_whiten

    w = masked_whiten(t([[1.0, 2.0, 3.0, 100.0]]), t([[1, 1, 1, 0]]))
    assert w[0, :3].mean().item() == pytest.approx(0.0, abs=1e-6) and w[0, 3].item() == 0.0
    assert entropy_from_logits(torch.zeros(1, 1, 4)).item() == pytest.approx(math.log(4))
    logits = t([[[0.0, math.log(3.0)]]])
    assert logprobs_of(logits, torch.tensor([[1]])).item() == pytest.approx(math.log(0.75))
    assert logprobs_of(logits, torch.tensor([[1]]), temperature=2.0).item() == pytest.approx(
        math.log(math.sqrt(3) / (1 + math.sqrt(3)))
    )
    kl = AdaptiveKLController(0.1, target=6.0, horizon=10_000)
    assert kl.update(12.0, 1000) == pytest.approx(0.1 * (1 + 0.2 * 0.1))
    assert kl.update(6.0, 1000) == pytest.approx(0.102)
