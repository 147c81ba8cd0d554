"""The ``grounded`` validator in a guard: the answer is checked against the sources in its own prompt."""

from __future__ import annotations

from pathlib import Path

from alignkit.core.messages import system, user
from alignkit.detectors.grounding import Source, format_sources
from alignkit.guard import Guard
from alignkit.providers.mock import MockModel

SOURCES = format_sources(
    [
        Source("1", "Refunds are paid within 14 days of the return being received."),
        Source("2", "Opened software cannot be returned."),
    ]
)
ASK = [system("Answer only from the sources and cite them as [n]."), user(f"{SOURCES}\nHow fast are refunds paid?")]
GOOD = "Refunds are paid within 14 days of the return being received [1]."
MISCITED = "Refunds are paid within 3 days [2]."


def test_a_guard_refuses_an_answer_its_sources_do_not_support() -> None:
    guard = Guard().use("grounded", on_fail="refrain", require_citations=True)
    ok = guard(MockModel("fixed", text=GOOD), ASK)
    assert ok.validation_passed and ok.validated_output == GOOD
    bad = guard(MockModel("fixed", text=MISCITED), ASK)
    assert not bad.validation_passed and bad.validated_output == guard.refusal_message
    (verdict,) = bad.output_verdicts
    assert verdict.label == "ungrounded" and verdict.spans[0].label == "unsupported"


def test_a_grounded_validator_from_a_yaml_spec_reasks_then_refrains(tmp_path: Path) -> None:
    spec = tmp_path / "guard.yaml"
    spec.write_text("output:\n  - {validator: grounded, on_fail: reask, require_citations: true, min_support: 0.6}\n")
    guard = Guard.from_file(spec)
    fixed_on_reask = MockModel("scripted", responses=[MISCITED, GOOD])
    outcome = guard(fixed_on_reask, ASK)
    assert outcome.reasks == 1 and outcome.validated_output == GOOD and outcome.validation_passed


def test_a_stream_is_held_back_whole_and_checked_against_its_conversation() -> None:
    guard = Guard().use("grounded", on_fail="refrain")
    pieces = [GOOD[i : i + 7] for i in range(0, len(GOOD), 7)]
    shown = list(stream := guard.stream(iter(pieces), context=ASK))
    assert shown == [GOOD] and stream.result is not None and stream.result.passed
    refused = list(guard.stream(iter([MISCITED]), context=ASK))
    assert refused == [guard.refusal_message]


def test_without_its_conversation_a_grounded_check_fails_closed() -> None:
    result = Guard().use("grounded", on_fail="noop").validate(GOOD)
    assert not result.passed and "no sources" in result.verdicts[0].reason
