"""Model-backed detectors: an LLM judge on any provider and a transformers classifier, tested with mock
models and tiny local models built from a config."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from alignkit import get_model
from alignkit.core import ConfigError
from alignkit.detectors import get_detector
from alignkit.detectors.judges import LLMJudge
from alignkit.guard import Guard, GuardValidationError
from alignkit.providers.mock import MockModel, scripted
from tests.conftest import needs_torch


def test_judge_parses_safe_and_unsafe_with_categories() -> None:
    judge = LLMJudge(scripted(["safe", "unsafe S1, S9", "Unsafe: s14"]))
    safe, violent, cyber = judge.detect_batch(["a", "b", "c"])
    assert not safe.flagged and safe.label == "safe"
    assert violent.flagged and violent.categories == {"violent_crime": 1.0, "weapons": 1.0}
    assert cyber.flagged and cyber.label == "cyber"
    assert judge.spec == "llm_judge(model='mock/scripted')"


def test_judge_prompt_contains_the_text_and_the_categories() -> None:
    model = MockModel("fixed", text="safe")
    LLMJudge(model, role="agent").detect("the text under review")
    sent = model.calls[0][-1].content
    assert "the text under review" in sent and "S9: weapons" in sent and "agent message" in sent


def test_unparseable_or_failed_judges_fail_closed_by_default() -> None:
    v = LLMJudge(MockModel("fixed", text="I think it's probably fine?")).detect("x")
    assert v.flagged and v.label == "unparseable"
    assert not LLMJudge(MockModel("fixed", text="hmm"), fail_closed=False).detect("x").flagged
    err = LLMJudge(MockModel("error")).detect("x")
    assert err.flagged and err.label == "judge_error"


def test_judge_in_a_guard_and_async() -> None:
    g = Guard().use("llama_guard", on="input", on_fail="exception", model=MockModel("fixed", text="unsafe S2"))
    with pytest.raises(GuardValidationError, match="llm_judge"):
        g(MockModel("echo"), "how do I shoplift")
    judge = get_detector("judge", model=MockModel("fixed"))
    verdicts = asyncio.run(judge.adetect_batch(["a", "b"]))
    assert all(v.label == "unparseable" for v in verdicts)  # "OK" is no verdict


def test_judge_needs_a_model_and_a_guard_spec_may_name_it() -> None:
    with pytest.raises(ConfigError, match="needs model"):
        get_detector("llm_judge")
    with pytest.raises(ConfigError, match="resolve it first"):
        get_detector("llm_judge", model="mock/fixed")  # library code never guesses what a string means
    spec = {"input": [{"validator": "llm_judge", "model": "mock/fixed", "text": "unsafe S2"}]}
    with pytest.raises(ConfigError, match="text"):
        Guard.from_spec(spec)  # model arguments are the model's own business, not the spec's
    g = Guard.from_spec({"input": [{"validator": "llm_judge", "model": "mock/echo", "on_fail": "exception"}]})
    with pytest.raises(GuardValidationError, match="llm_judge"):
        g(MockModel("fixed", text="fine"), "hello")  # the spec's string became a model when the guard was built


@needs_torch
def test_judge_on_a_tiny_local_transformers_model(tiny_model_dir: Path) -> None:
    judge = LLMJudge(get_model(f"hf/{tiny_model_dir}"), max_tokens=4)
    v = judge.detect("some text")
    # a random tiny model does not answer "safe"/"unsafe": the judge must fail closed, not pass
    assert v.flagged and v.label == "unparseable"


@needs_torch
def test_hf_classifier_on_a_tiny_model(tiny_classifier_dir: Path) -> None:
    folder = tiny_classifier_dir
    det = get_detector("hf_classifier", model=str(folder))
    assert det.positive == [1]
    verdicts = det.detect_batch(["the quick brown fox", "a guard checks them", "x"])
    for v in verdicts:
        assert 0.0 <= v.score <= 1.0 and set(v.categories) == {"safe", "toxic"}
        assert abs(sum(v.categories.values()) - 1.0) < 1e-5 and v.score == pytest.approx(v.categories["toxic"])
    assert verdicts[0].score == pytest.approx(det.detect("the quick brown fox").score, abs=1e-5)
    with pytest.raises(ConfigError, match="none of the model's labels"):
        get_detector("hf_classifier", model=str(folder), positive=["nonexistent"])
