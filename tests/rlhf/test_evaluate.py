"""Policy evaluation: KL is zero against an identical reference and positive after training; win rate
by reward or by an LLM grader asked both ways round."""

from __future__ import annotations

from pathlib import Path

import pytest

from alignkit.core import ConfigError
from alignkit.providers.mock import MockModel
from tests.conftest import needs_torch
from tests.rlhf.test_ppo import PROMPTS, tiny_trainer, vowel_fraction

pytestmark = needs_torch


def test_identical_reference_has_zero_kl_and_even_win_rate(tiny_model_dir: Path) -> None:
    from alignkit.rlhf.evaluate import evaluate_policy
    from alignkit.rlhf.policy import ValueHeadModel

    policy = ValueHeadModel.from_pretrained(tiny_model_dir, device="cpu")
    ref = ValueHeadModel.from_pretrained(tiny_model_dir, device="cpu")
    policy.max_new_tokens = 6
    result = evaluate_policy(policy, ref, PROMPTS[:8], vowel_fraction, batch_size=4)
    assert result["n"] == 8
    assert result["kl"] == pytest.approx(0.0, abs=1e-4)
    # same weights and seeds: the same answers, so every comparison is a tie
    assert result["win_rate"] == 0.5
    assert all(r["policy"] == r["reference"] for r in result["rows"])
    with pytest.raises(ConfigError, match="no prompts"):
        evaluate_policy(policy, ref, [], vowel_fraction)


def test_trained_policy_beats_reference_and_judge_position_bias_cancels(tiny_model_dir: Path) -> None:
    from alignkit.rlhf.evaluate import evaluate_policy, grade_pairs

    trainer = tiny_trainer(tiny_model_dir)
    trainer.train(PROMPTS, vowel_fraction, steps=30)
    result = evaluate_policy(trainer.policy, trainer.ref_model, PROMPTS[:32], vowel_fraction)
    assert result["reward_policy"] > result["reward_reference"]
    assert result["win_rate"] > 0.5 and result["kl"] > 0

    always_a = MockModel("fixed", text="A")  # a judge that always picks the first answer
    assert grade_pairs(always_a, ["q1", "q2"], ["x", "y"], ["z", "w"]) == [0.5, 0.5]
    prefers_vowels = MockModel.from_callable(
        lambda p: "A" if vowel_fraction([], [p.split("Answer A:\n")[1].split("\n\nAnswer B")[0]])[0]
        > vowel_fraction([], [p.split("Answer B:\n")[1].split("\n\nReply")[0]])[0] else "B"
    )  # fmt: skip
    assert grade_pairs(prefers_vowels, ["q"], ["aaaa"], ["xyz"]) == [1.0]
    judged = evaluate_policy(trainer.policy, trainer.ref_model, PROMPTS[:8], vowel_fraction, grader=prefers_vowels)
    assert judged["grader"] == "llm" and 0.0 <= judged["win_rate"] <= 1.0
    garbled = MockModel("fixed", text="no idea")
    assert grade_pairs(garbled, ["q"], ["x"], ["y"]) == [0.5]
