"""Every on-fail action, on both rails, with deterministic rule validators and mock models."""

from __future__ import annotations

import asyncio
import queue

import pytest

from alignkit.core import ConfigError, Verdict
from alignkit.core.records import Span
from alignkit.detectors import Detector, Finding
from alignkit.guard import DEFAULT_ESCALATION, DEFAULT_REFUSAL, EscalationEvent, Guard, GuardValidationError, Validator
from alignkit.providers import get_model
from alignkit.providers.mock import MockModel, scripted

BAD = ["darn", "heck"]


def banned(on_fail: str, on: str = "output") -> Guard:
    return Guard().use("banned_words", words=BAD, on_fail=on_fail, on=on)


def test_pass_through_when_nothing_fails() -> None:
    o = banned("exception")(MockModel("fixed", text="all good"), "hi")
    assert o.text == "all good" and o.validation_passed and not o.actions
    assert o.output_verdicts[0].detector.startswith("banned_words") and not o.output_verdicts[0].flagged
    assert o.output_verdicts[0].latency_ms is not None


def test_exception_raises_with_the_evidence() -> None:
    with pytest.raises(GuardValidationError, match="banned_words") as e:
        banned("exception")(MockModel("fixed", text="well darn"), "hi")
    assert e.value.outcome.failures[0].spans[0].start == 5


def test_fix_masks_spans_and_keeps_the_rest() -> None:
    o = banned("fix")(MockModel("fixed", text="Darn, what the heck."), "hi")
    assert o.text == "****, what the ****." and not o.validation_passed
    assert [a.action for a in o.actions] == ["fix"] and o.raw_output == "Darn, what the heck."


def test_fix_truncates_too_long_and_refrains_when_nothing_can_be_fixed() -> None:
    g = Guard().use("valid_length", max=5, on_fail="fix")
    assert g(MockModel("fixed", text="abcdefghij"), "x").text == "abcde"
    g2 = Guard().use("valid_json", on_fail="fix")
    o = g2(MockModel("fixed", text="not json"), "x")
    assert o.text == DEFAULT_REFUSAL and o.actions[0].action == "fix->refrain"


def test_filter_drops_spans_or_the_whole_text() -> None:
    assert banned("filter")(MockModel("fixed", text="oh darn it"), "x").text == "oh  it"
    g = Guard().use("valid_json", on_fail="filter")
    assert g(MockModel("fixed", text="nope"), "x").text == ""


def test_refrain_answers_with_the_refusal_message() -> None:
    g = Guard(refusal_message="Not today.").use("banned_words", words=BAD, on_fail="refrain")
    o = g(MockModel("fixed", text="darn"), "x")
    assert o.text == "Not today." and not o.validation_passed


def test_reask_reprompts_with_what_failed_then_succeeds() -> None:
    model = scripted(["oh darn", "a clean answer"])
    o = banned("reask")(model, "question")
    assert o.text == "a clean answer" and o.reasks == 1 and o.validation_passed
    second_call = model.calls[1]
    assert [m.role for m in second_call] == ["user", "assistant", "user"]
    assert "did not pass the safety checks" in second_call[-1].content and "banned_words" in second_call[-1].content


def test_reask_is_bounded_then_refrains() -> None:
    model = scripted(["darn", "darn again", "still darn"])
    o = Guard(max_reasks=2).use("banned_words", words=BAD, on_fail="reask")(model, "q")
    assert o.reasks == 2 and len(model.calls) == 3
    assert o.text == DEFAULT_REFUSAL and o.actions[-1].action == "reask->refrain"


def test_noop_is_recorded_as_a_failure_never_a_pass() -> None:
    o = banned("noop")(MockModel("fixed", text="darn"), "x")
    assert o.text == "darn" and o.validation_passed is False and o.actions[0].action == "noop"


def test_escalate_to_a_callback_and_to_a_queue() -> None:
    seen: list[EscalationEvent] = []
    g = Guard(escalate_to=seen.append).use("banned_words", words=BAD, on_fail="escalate")
    o = g(MockModel("fixed", text="darn it"), "x")
    assert o.text == DEFAULT_ESCALATION and o.escalated
    assert seen[0].text == "darn it" and seen[0].validator == "banned_words" and seen[0].verdict.flagged
    q: queue.Queue[EscalationEvent] = queue.Queue()
    Guard(escalate_to=q).use("banned_words", words=BAD, on_fail="escalate")(MockModel("fixed", text="heck"), "x")
    assert q.get_nowait().text == "heck"


def test_escalate_without_a_destination_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="escalate_to"):
        Guard().use("banned_words", words=BAD, on_fail="escalate")


def test_custom_callable_action() -> None:
    def shout(text: str, verdict: Verdict) -> str:
        return f"[{verdict.detector}] {text.upper()}"

    o = Guard().use("banned_words", words=BAD, on_fail=shout)(MockModel("fixed", text="darn"), "x")
    assert o.text.endswith("DARN") and o.actions[0].action == "shout"


def test_validators_run_in_order_on_the_repaired_text() -> None:
    g = Guard().use("banned_words", words=BAD, on_fail="fix").use("valid_length", max=8, on_fail="exception")
    # "darn darn" is 9 chars; masking keeps the length, so the length check still fails afterwards
    with pytest.raises(GuardValidationError, match="valid_length"):
        g(MockModel("fixed", text="darn darn"), "x")


def test_unknown_action_and_input_reask_are_errors() -> None:
    with pytest.raises(ConfigError, match="unknown on_fail action 'explode'"):
        Guard().use("refusal", on_fail="explode")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="applies to output validators only"):
        Guard().use("banned_words", words=BAD, on="input", on_fail="reask")


# -- the input rail ------------------------------------------------------------------------------------
def test_input_refrain_blocks_before_the_model_is_called() -> None:
    model = MockModel("echo")
    o = banned("refrain", on="input")(model, "tell me darn things")
    assert o.blocked and o.text == DEFAULT_REFUSAL and model.calls == [] and o.raw_output is None


def test_input_fix_changes_what_the_model_sees() -> None:
    model = MockModel("echo")
    o = banned("fix", on="input")(model, "say darn please")
    assert model.calls[0][-1].content == "say **** please" and o.text == "say **** please"


def test_input_exception_raises() -> None:
    with pytest.raises(GuardValidationError, match="on the input"):
        banned("exception", on="input")(MockModel("echo"), "darn")


# -- llm forms, async, batch ---------------------------------------------------------------------------
def test_llm_may_be_a_model_or_a_callable_never_a_model_name() -> None:
    g = banned("fix")
    assert g(get_model("mock/echo"), "darn it").text == "**** it"
    assert g(lambda p: p + "!", "heck").text == "****!"

    async def async_fn(p: str) -> str:
        return p.upper()

    assert g(async_fn, "hello").text == "HELLO"
    # strings become models only at the edges (the CLI resolves them), so the guard refuses a name
    with pytest.raises(ConfigError, match=r"get_model\('mock/echo'\)"):
        g("mock/echo", "hi")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="model string"):
        g.wrap("mock/echo")  # type: ignore[arg-type]


def test_async_and_batch() -> None:
    g = banned("fix")
    outcomes = g.call_batch(MockModel("echo"), ["fine", "darn", "heck no"])
    assert [o.text for o in outcomes] == ["fine", "****", "**** no"]
    o = asyncio.run(g.acall(MockModel("echo"), "darn"))
    assert o.text == "****"


def test_guarded_model_is_a_model() -> None:
    from alignkit.core import Model

    guarded = Guard().use("banned_words", words=BAD, on="input", on_fail="exception").wrap(MockModel("echo"))
    assert isinstance(guarded, Model) and guarded.info.spec == "guarded/mock/echo"
    ok, blocked = guarded.generate_batch(["hello", "darn"])
    assert ok.text == "hello" and ok.finish_reason == "stop"
    # an exception action inside a model never surfaces as an error answer: it is a content-filter refusal
    assert blocked.text == DEFAULT_REFUSAL and blocked.finish_reason == "content_filter" and blocked.ok
    assert blocked.metadata["guard"]["blocked"] is True


def test_texts_over_the_size_limit_are_refused_clearly() -> None:
    from alignkit.detectors import MAX_TEXT_CHARS

    with pytest.raises(ConfigError, match="over the"):
        banned("fix").validate("a" * (MAX_TEXT_CHARS + 1))


def test_anonymize_hides_pii_from_the_model_and_restores_it_in_the_answer() -> None:
    model = MockModel.from_callable(lambda p: f"Noted. I will write to {p.split()[-1]} today.")
    g = Guard().use("pii", on="input", on_fail="anonymize", entities=["EMAIL"])
    o = g(model, "Please email ann.lee@example.com")
    assert model.calls[0][-1].content == "Please email <EMAIL_1>"  # the model never saw the address
    assert o.text == "Noted. I will write to ann.lee@example.com today."
    with pytest.raises(ConfigError, match="applies to input validators"):
        Guard().use("pii", on="output", on_fail="anonymize")


# -- failing closed ------------------------------------------------------------------------------------
class Marks(Detector):
    """Flags a text with "XX" in it, but points only at the first one."""

    name = "marks"

    def find(self, text: str) -> Finding:
        i = text.find("XX")
        return Finding(1.0, spans=(Span(i, i + 2, "MARK"),)) if i >= 0 else Finding(0.0)


class MarksThatFixNothing(Marks):
    """Its own fix hands the text back unchanged."""

    def fix(self, text: str, verdict: Verdict) -> str:
        return text


@pytest.mark.parametrize("action", ["fix", "filter"])
def test_a_repair_that_leaves_what_was_flagged_refrains(action: str) -> None:
    o = Guard().use(Validator(Marks(), on_fail=action))(MockModel("fixed", text="a XX b XX"), "x")  # type: ignore[arg-type]
    assert o.text == DEFAULT_REFUSAL and not o.validation_passed
    assert [(a.action, a.detail) for a in o.actions] == [(f"{action}->refrain", f"still flagged after the {action}")]


def test_a_fix_that_changes_nothing_refrains() -> None:
    o = Guard().use(Validator(MarksThatFixNothing(), on_fail="fix"))(MockModel("fixed", text="a XX b"), "x")
    assert o.text == DEFAULT_REFUSAL and [a.action for a in o.actions] == ["fix->refrain"]
    assert o.actions[0].detail == "the fix changed nothing"


def test_an_anonymization_that_leaves_a_value_refrains_before_the_model_sees_it() -> None:
    model = MockModel("echo")
    o = Guard().use(Validator(Marks(), on="input", on_fail="anonymize"))(model, "a XX b XX")
    assert o.blocked and model.calls == [] and o.actions[0].action == "anonymize->refrain"
