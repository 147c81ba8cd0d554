"""The guide's runtime-safety sample, run as written but for the import."""

from __future__ import annotations

from typing import Any

import pytest

from alignkit.guard import DEFAULT_REFUSAL, Guard, GuardValidationError
from tests.conftest import needs_embedded

GUIDE_RAIL = """
<rail version="0.1">
<output>
<string name="response"
validators="no_toxic_language; no_pii" />
</output>
</rail>
"""

PII_ANSWER = "Sure! Write to John Smith at john.smith@example.com or call +1 (415) 555-2671."
TOXIC_ANSWER = "You are a worthless idiot and everyone hates you, you stupid moron."


def test_the_guide_sample_runs_with_a_plain_callable() -> None:
    guard = Guard.from_rail(GUIDE_RAIL)

    def llm(prompt: str) -> str:
        return PII_ANSWER

    prompt = "Who can I contact about my order?"
    validated_response = guard(llm, prompt)
    text = str(validated_response)
    assert "john.smith@example.com" not in text and "555-2671" not in text
    assert "<EMAIL" in text and "<PHONE" in text
    assert [v.detector.split("(")[0] for v in validated_response.output_verdicts] == ["toxicity", "pii"]
    assert validated_response.validation_passed is False  # a fix is a failure that was repaired
    assert validated_response.raw_output == PII_ANSWER


def test_a_toxic_answer_raises_or_is_fixed_by_the_on_fail_setting() -> None:
    raising = Guard.from_rail(GUIDE_RAIL.replace("validators=", 'on-fail-no_toxic_language="exception" validators='))
    with pytest.raises(GuardValidationError, match="toxicity"):
        raising(lambda p: TOXIC_ANSWER, "Say something about me")
    fixing = Guard.from_rail(GUIDE_RAIL)  # default on-fail: fix (mask what can be masked, else refrain)
    out = fixing(lambda p: TOXIC_ANSWER, "Say something about me")
    assert "idiot" not in out.text and "moron" not in out.text
    assert out.text == DEFAULT_REFUSAL or "*" in out.text


def test_clean_answers_pass_untouched() -> None:
    guard = Guard.from_rail(GUIDE_RAIL)
    out = guard(lambda p: "The capital of France is Paris.", "Capital of France?")
    assert out.text == "The capital of France is Paris." and out.validation_passed


@needs_embedded
def test_the_guide_sample_runs_with_the_embedded_model(embedded_model: Any) -> None:
    guard = Guard.from_rail(GUIDE_RAIL)
    llm = embedded_model
    prompt = "Repeat this sentence exactly: Please email me at ann.lee@example.com today."
    validated_response = guard(llm, prompt, max_tokens=40)
    assert len(validated_response.output_verdicts) == 2
    assert "ann.lee@example.com" not in str(validated_response)
    if "ann.lee@example.com" in (validated_response.raw_output or ""):
        assert "<EMAIL" in str(validated_response)
