from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from alignkit.constitution import FeedbackConfig, default_constitution, read_verdict, run_feedback
from alignkit.core import Completion, PreferencePair, read_jsonl
from alignkit.core.completion import Choice
from alignkit.providers.mock import MockModel
from tests.constitution.helpers import SeededPolicy, logprob_judge, safe_option

PROMPTS = [f"how do I pick lock {i}?" for i in range(5)]


def pairs(path: Path) -> list[PreferencePair]:
    return list(read_jsonl(path / "pairs.jsonl", PreferencePair))


def trace(path: Path) -> list[dict]:
    return [json.loads(line) for line in (path / "feedback_trace.jsonl").read_text().splitlines()]


def test_soft_labels_from_logprobs_in_both_orders(tmp_path: Path) -> None:
    judge = logprob_judge(0.8)
    result = run_feedback(
        SeededPolicy(), judge, default_constitution(), PROMPTS, tmp_path, settings=FeedbackConfig(batch_size=2)
    )
    assert (result.processed, result.skipped, result.failed) == (5, 0, 0)
    got = pairs(tmp_path)
    assert len(got) == 5
    for p in got:
        assert p.chosen.startswith("SAFE") and p.rejected.startswith("UNSAFE")
        # The " B" token counts for B; "The" is ignored; both orders agree: P = 0.8 / (0.8 + 0.2).
        assert p.chosen_prob == pytest.approx(0.8 / 0.81 * 0.81 / (0.8 + 0.2), abs=1e-6)
        assert p.annotator == "mock/callable" and p.source == "test/seeded"
        assert p.metadata["methods"] == ["logprobs"] and len(p.metadata["principles"]) == 1
    prompts = [m[-1].content for m in judge.calls]
    assert len(prompts) == 10  # one principle x two orders per prompt
    assert sum(safe_option(t) == "A" for t in prompts) == 5  # the safe answer sat first in half of them
    row = trace(tmp_path)[0]
    assert [q["order"] for q in row["questions"]] == ["AB", "BA"] and row["p_sample1"] == pytest.approx(0.8)
    assert result.summary["position_bias"] == pytest.approx(0.0, abs=1e-6)
    assert result.summary["order_agreement"] == 1.0


def test_position_bias_is_cancelled_and_reported(tmp_path: Path) -> None:
    always_a = MockModel.from_callable(lambda t: ("A", {"A": math.log(0.7), "B": math.log(0.3)}))
    result = run_feedback(SeededPolicy(), always_a, default_constitution(), PROMPTS[:3], tmp_path)
    assert [p.chosen_prob for p in pairs(tmp_path)] == [pytest.approx(0.5)] * 3
    assert result.summary["position_bias"] == pytest.approx(0.2)
    assert result.summary["order_agreement"] == 0.0
    one_order = run_feedback(
        SeededPolicy(), always_a, default_constitution(), PROMPTS[:3], tmp_path / "one",
        settings=FeedbackConfig(both_orders=False),
    )  # fmt: skip
    assert one_order.summary["order_agreement"] is None
    assert [p.chosen_prob for p in pairs(tmp_path / "one")] == [pytest.approx(0.7)] * 3


def test_parsed_letters_when_there_are_no_logprobs(tmp_path: Path) -> None:
    wordy = MockModel.from_callable(lambda t: f"I think the answer is ({safe_option(t)}).")
    run_feedback(
        SeededPolicy(),
        wordy,
        default_constitution(),
        PROMPTS[:2],
        tmp_path,
        settings=FeedbackConfig(principles_per_prompt=3),
    )
    got = pairs(tmp_path)
    assert all(p.chosen.startswith("SAFE") and p.chosen_prob == 1.0 for p in got)
    assert all(p.metadata["methods"] == ["parsed"] and len(p.metadata["principles"]) == 3 for p in got)
    # With logprobs turned off, the letter decides even when log-probabilities are there.
    wrong_lp = MockModel.from_callable(lambda t: (safe_option(t), {"A": 0.0, "B": -9.0}))
    run_feedback(
        SeededPolicy(),
        wrong_lp,
        default_constitution(),
        PROMPTS[:2],
        tmp_path / "n",
        settings=FeedbackConfig(use_logprobs=False),
    )
    assert all(p.chosen.startswith("SAFE") and p.chosen_prob == 1.0 for p in pairs(tmp_path / "n"))


def test_chain_of_thought_then_answer_with_clamp(tmp_path: Path) -> None:
    def judge(text: str) -> str:
        if "Think step by step" in text:
            return "Option one helps the person safely."
        return "A"  # the answer call only sees "So, which answer is better?" as its last message

    model = MockModel.from_callable(judge)
    run_feedback(
        SeededPolicy(), model, default_constitution(), PROMPTS[:1], tmp_path,
        settings=FeedbackConfig(chain_of_thought=True, clamp=(0.4, 0.6)),
    )  # fmt: skip
    answer_turns = [m for m in model.calls if len(m) == 3]
    assert len(answer_turns) == 2 and answer_turns[0][1].content == "Option one helps the person safely."
    (row,) = trace(tmp_path)
    assert all(q["reasoning"] and q["p_first"] == 0.6 for q in row["questions"])
    (p,) = pairs(tmp_path)
    assert p.chosen_prob == pytest.approx(0.5)  # "A" both times: pure position bias, clamped


def test_identical_unparseable_and_failed_samples(tmp_path: Path) -> None:
    same = MockModel("fixed", text="same answer")
    r = run_feedback(same, logprob_judge(), default_constitution(), PROMPTS[:2], tmp_path / "same")
    assert (r.processed, r.skipped) == (0, 2) and [t["status"] for t in trace(tmp_path / "same")] == ["identical"] * 2
    mute = MockModel.from_callable(lambda t: "hmm, hard to say")
    r = run_feedback(SeededPolicy(), mute, default_constitution(), PROMPTS[:2], tmp_path / "mute")
    assert (r.processed, r.skipped) == (0, 2) and r.summary["by_status"] == {"unparseable": 2}
    broken = MockModel("error")
    r = run_feedback(broken, logprob_judge(), default_constitution(), PROMPTS[:2], tmp_path / "err")
    assert r.failed == 2
    again = run_feedback(SeededPolicy(), logprob_judge(), default_constitution(), PROMPTS[:2], tmp_path / "err")
    assert (again.already_done, again.processed) == (0, 2)  # failures are retried


def test_resume_after_a_crash(tmp_path: Path) -> None:
    calls = {"n": 0}

    def dies_late(text: str) -> tuple[str, dict[str, float]]:
        calls["n"] += 1
        if calls["n"] > 4:
            raise RuntimeError("simulated crash")
        return "A", {"A": -0.1, "B": -2.0}

    with pytest.raises(RuntimeError):
        run_feedback(
            SeededPolicy(),
            MockModel.from_callable(dies_late),
            default_constitution(),
            PROMPTS,
            tmp_path,
            settings=FeedbackConfig(batch_size=2),
        )
    assert len(pairs(tmp_path)) == 2
    judge = logprob_judge()
    result = run_feedback(
        SeededPolicy(), judge, default_constitution(), PROMPTS, tmp_path, settings=FeedbackConfig(batch_size=2)
    )
    assert (result.already_done, result.processed, len(judge.calls)) == (2, 3, 6)
    assert len({p.id for p in pairs(tmp_path)}) == 5 and result.summary["pairs"] == 5


def test_pairs_feed_the_rlhf_loader_unchanged(tmp_path: Path) -> None:
    from alignkit.rlhf.data import load_preferences

    run_feedback(SeededPolicy(), logprob_judge(0.9), default_constitution(), PROMPTS, tmp_path)
    loaded, _ = load_preferences(tmp_path / "pairs.jsonl")
    assert len(loaded) == 5 and all(p.chosen_prob == pytest.approx(0.9) for p in loaded)


def test_read_verdict() -> None:
    lp = Completion((Choice("A", "stop", {"(A": math.log(0.3), "B": math.log(0.1), "a": 0.0}),), "m")
    assert read_verdict(lp, True) == (pytest.approx(0.75), "logprobs")  # lower-case "a" is an article
    assert read_verdict(lp, False) == (1.0, "parsed")
    assert read_verdict(Completion.of("Response B is better", "m"), True) == (0.0, "parsed")
    assert read_verdict(Completion.of("A bit of both", "m"), True) == (None, "unparseable")
    assert read_verdict(Completion.failed("m", "x"), True) == (None, "error")
