"""The leak suite: PII and secrets hidden by each obfuscation never come out of a guard un-redacted.

For every entity (e-mail, phone, card, IBAN, SSN; AWS key, OpenAI-style key, GitHub token, JWT, private
key) hidden by every obfuscation (zero-width characters inside, soft hyphens, a right-to-left override,
full-width and look-alike letters, Arabic-Indic digits, "at"/"dot" spelled out) and every on-fail action,
on the input rail (what the model sees), the output rail (what the user sees) and a streamed answer (split
into small chunks): the value does not appear in any form. "Any form" is checked on a canonical reading
of what came out (invisible characters stripped, digits and look-alikes mapped, reversed runs read as
shown, only letters and digits kept, case folded), for the whole value and for any 10-character piece.

``noop`` is "log only": its text passes on purpose, and the test checks that the outcome says the
validation failed instead. Test keys are assembled from harmless pieces at run time.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from alignkit.core.errors import ConfigError
from alignkit.detectors.normalize import entity_readings
from alignkit.guard import ACTIONS, DEFAULT_ESCALATION, DEFAULT_REFUSAL, Guard, GuardOutcome, GuardValidationError
from alignkit.guard.stream import STOPPED_NOTE
from alignkit.providers.mock import MockModel

RANDOM = "q7Xk2mP9vR4tZ8wL3nB6yH1cJ5dF0gS"


def _b64url(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


@dataclass(frozen=True)
class Entity:
    name: str
    value: str  # as written
    template: str  # the sentence it sits in
    secret: str = ""  # the part that must not leak (default: the whole value)

    @property
    def must_not_leak(self) -> str:
        return self.secret or self.value


PEM_BODY = "MIIEow" + RANDOM * 2 + "\n" + RANDOM[::-1] + "=="
ENTITIES = [
    Entity("email", "jane.doe@example.com", "Mail {} for details."),
    Entity("phone", "415-555-2671", "Call {} today."),
    Entity("card", "4111 1111 1111 1111", "Card number {} works."),
    Entity("iban", "GB82 WEST 1234 5698 7654 32", "IBAN {} for the transfer."),
    Entity("ssn", "536-22-1234", "My SSN is {} as asked."),
    Entity("aws_key", "AKIA" + "IOSFODNN7" + "EXAMPLE", "The key is {} now."),
    Entity("openai_key", "sk-proj-" + RANDOM + "Ab9" + RANDOM[:10], "Use {} please."),
    Entity("github_token", "ghp_" + RANDOM + "abcde", "Token {} here."),
    Entity(
        "jwt",
        f"{_b64url({'alg': 'HS256', 'typ': 'JWT'})}.{_b64url({'sub': '42', 'name': 'x'})}.{RANDOM[:22]}",
        "Session {} set.",
    ),
    Entity(
        "private_key",
        "-----BEGIN RSA PRIVATE KEY-----\n" + PEM_BODY + "\n-----END RSA PRIVATE KEY-----",
        "Here:\n{}\nthanks",
        secret=PEM_BODY,
    ),
]

# -- obfuscations -----------------------------------------------------------------------------------
_LOOK_ALIKES = str.maketrans("aceopxyABCEHKMOPTX", "асеорхуАВСЕНКМОРТХ")  # Latin -> Cyrillic


def _every(n: int, mark: str) -> Callable[[str], str]:
    return lambda v: "".join(c + mark if i % n == n - 1 and i < len(v) - 1 else c for i, c in enumerate(v))


def _override(v: str) -> str:  # stored reversed, displayed right way round: one override per line
    return "\n".join("\u202e" + line[::-1] + "\u202c" for line in v.split("\n"))


def _fullwidth(v: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in v)


def _arabic_digits(v: str) -> str:
    return "".join(chr(0x0660 + int(c)) if c.isdigit() else c for c in v)


def _spelled(v: str) -> str:
    return v.replace(".", " dot ").replace("@", " at ")


def _bracketed(v: str) -> str:
    return v.replace(".", " [dot] ").replace("@", " [at] ")


OBFUSCATIONS: dict[str, Callable[[str], str]] = {
    "plain": lambda v: v,
    "zero_width": _every(2, "\u200b"),
    "joiners": _every(3, "\u2060"),
    "soft_hyphen": _every(3, "\u00ad"),
    "bidi_override": _override,
    "fullwidth": _fullwidth,
    "confusable": lambda v: v.translate(_LOOK_ALIKES),
    "arabic_digits": _arabic_digits,
    "spelled": _spelled,
    "bracketed": _bracketed,
}
EMAIL_ONLY = {"spelled", "bracketed"}
CASES = [
    pytest.param(e, o, id=f"{e.name}-{o}")
    for e in ENTITIES
    for o in OBFUSCATIONS
    if o not in EMAIL_ONLY or e.name == "email"
]


def hidden(entity: Entity, obfuscation: str) -> str:
    return entity.template.format(OBFUSCATIONS[obfuscation](entity.value))


# -- "in any form" ----------------------------------------------------------------------------------
_SPELLED_SEPARATORS = re.compile(r"(?i)[\s\[({<]*\b(?:at|dot)\b[\s\])}>]*")
WINDOW = 10


def _canon(text: str) -> str:
    return "".join(c for c in text if c.isascii() and c.isalnum()).lower()


def canonical_forms(shown: str) -> list[str]:
    """What a reader could make of ``shown``: every reading, with and without spelled separators, both ways."""
    readings = [shown, *(r.text for r in entity_readings(shown))]
    forms = [_canon(f) for r in readings for f in (r, _SPELLED_SEPARATORS.sub("", r))]
    return forms + [f[::-1] for f in forms]


def leaks(entity: Entity, shown: str) -> str | None:
    """The piece of the entity's value found in ``shown`` (None when there is none)."""
    target = _canon(entity.must_not_leak)
    forms = canonical_forms(shown)
    for i in range(max(1, len(target) - WINDOW + 1)):
        piece = target[i : i + WINDOW]
        if any(piece in f for f in forms):
            return piece
    return None


def test_the_leak_check_sees_through_every_obfuscation() -> None:
    for entity in ENTITIES:
        for name in OBFUSCATIONS:
            if name not in EMAIL_ONLY or entity.name == "email":
                assert leaks(entity, hidden(entity, name)), (entity.name, name)
    assert leaks(ENTITIES[0], "nothing to see <EMAIL>") is None


# -- guards -----------------------------------------------------------------------------------------
OUTPUT_ACTIONS = [a for a in ACTIONS if a != "anonymize"]  # anonymize is for the input (a ConfigError)
INPUT_ACTIONS = [a for a in ACTIONS if a != "reask"]  # reask re-prompts about an answer (a ConfigError)
STOPPING = {DEFAULT_REFUSAL, DEFAULT_ESCALATION}


def guard_for(action: str, on: str) -> Guard:
    g = Guard(escalate_to=lambda event: None, max_reasks=1)
    return g.use("pii", on=on, on_fail=action).use("secrets", on=on, on_fail=action)  # type: ignore[arg-type]


def test_actions_that_do_not_fit_a_rail_are_refused() -> None:
    with pytest.raises(ConfigError):
        guard_for("anonymize", "output")
    with pytest.raises(ConfigError):
        guard_for("reask", "input")


def _assert_honest_noop(passed: bool, actions: list[str]) -> None:
    assert passed is False and "noop" in actions, "noop must record the failure"


def guarded(action: str, on: str, model: MockModel, prompt: str) -> GuardOutcome | str:
    """The outcome, or for ``exception`` (which must raise) what the error shows: message and text."""
    if action != "exception":
        return guard_for(action, on)(model, prompt)
    with pytest.raises(GuardValidationError) as raised:
        guard_for(action, on)(model, prompt)
    return f"{raised.value} {raised.value.outcome.text}"


@pytest.mark.parametrize("action", OUTPUT_ACTIONS)
@pytest.mark.parametrize(("entity", "obfuscation"), CASES)
def test_output_rail(entity: Entity, obfuscation: str, action: str) -> None:
    answer = hidden(entity, obfuscation)
    outcome = guarded(action, "output", MockModel.from_callable(lambda prompt: answer), "What is it?")
    if isinstance(outcome, str):
        assert leaks(entity, outcome) is None
        return
    if action == "noop":
        _assert_honest_noop(outcome.validation_passed, [a.action for a in outcome.actions])
        return
    assert leaks(entity, outcome.text) is None, (outcome.text, [a.action for a in outcome.actions])
    assert outcome.validation_passed is False and outcome.actions
    if action == "fix" and outcome.text not in STOPPING:  # redacted: it says what it put in place of the value
        assert "<" in outcome.text and all(a.action == "fix" for a in outcome.actions)


@pytest.mark.parametrize("action", INPUT_ACTIONS)
@pytest.mark.parametrize(("entity", "obfuscation"), CASES)
def test_input_rail(entity: Entity, obfuscation: str, action: str) -> None:
    model = MockModel.from_callable(lambda prompt: "I read: " + prompt)
    outcome = guarded(action, "input", model, hidden(entity, obfuscation))
    seen = "\n".join(m.content for call in model.calls for m in call)
    if isinstance(outcome, str):
        assert leaks(entity, outcome) is None and model.calls == []
        return
    if action == "noop":
        _assert_honest_noop(outcome.validation_passed, [a.action for a in outcome.actions])
        return
    assert leaks(entity, seen) is None, (seen, [a.action for a in outcome.actions])
    assert outcome.validation_passed is False
    if action != "anonymize":  # anonymize puts the user's own value back into the answer, by design
        assert leaks(entity, outcome.text) is None


CHUNK_SIZES = (1, 3, 7)


@pytest.mark.parametrize("action", OUTPUT_ACTIONS)
@pytest.mark.parametrize(("entity", "obfuscation"), CASES)
def test_stream(entity: Entity, obfuscation: str, action: str) -> None:
    answer = "Sure. " + hidden(entity, obfuscation) + " That is all I know about it, really."
    size = CHUNK_SIZES[len(obfuscation) % len(CHUNK_SIZES)]
    stream = guard_for(action, "output").stream([answer[i : i + size] for i in range(0, len(answer), size)])
    shown: list[str] = []
    try:
        shown.extend(stream)
    except GuardValidationError:
        assert action == "exception"
    text = "".join(shown)
    if action == "noop":
        assert text == answer and stream.result is not None
        _assert_honest_noop(stream.result.passed, [a.action for a in stream.result.actions])
        return
    assert leaks(entity, text) is None, (text, stream.result)
    assert stream.result is not None and stream.result.passed is False
    if action in ("refrain", "reask", "escalate"):
        assert text.endswith(STOPPED_NOTE) or text in STOPPING


@pytest.mark.parametrize(("entity", "obfuscation"), CASES)
def test_the_default_guard(entity: Entity, obfuscation: str) -> None:
    guard = Guard.default()
    answer = hidden(entity, obfuscation)
    outcome = guard(lambda prompt: answer, "What is it?")
    assert leaks(entity, outcome.text) is None and outcome.validation_passed is False
    streamed = "".join(guard.stream([answer[i : i + 2] for i in range(0, len(answer), 2)]))
    assert leaks(entity, streamed) is None


def test_the_issue_example() -> None:
    outcome = Guard.default()(lambda prompt: "call 415\u200b-555\u200b-2671 please", "number?")
    assert outcome.text == "call <PHONE> please" and not outcome.validation_passed
    assert [a.action for a in outcome.actions] == ["fix"]


def test_the_async_stream() -> None:
    guard = guard_for("fix", "output")

    async def source(text: str) -> AsyncIterator[str]:
        for i in range(0, len(text), 3):
            await asyncio.sleep(0)
            yield text[i : i + 3]

    async def shown(text: str) -> str:
        return "".join([piece async for piece in guard.astream(source(text))])

    for entity, obfuscation in (p.values for p in CASES):
        text = asyncio.run(shown(hidden(entity, obfuscation)))  # type: ignore[arg-type]
        assert leaks(entity, text) is None, (entity.name, obfuscation, text)  # type: ignore[arg-type]
