from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from alignkit.guard import DEFAULT_REFUSAL, Guard, GuardValidationError
from alignkit.guard.stream import STOPPED_NOTE


def chunks(text: str, size: int = 3) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def test_clean_stream_passes_through_whole() -> None:
    g = Guard().use("banned_words", words=["darn"], on_fail="fix")
    text = "A perfectly ordinary streamed answer, sentence after sentence."
    assert "".join(g.stream(chunks(text), check_every=8, holdback=10)) == text


def test_a_word_split_across_chunks_is_fixed_before_it_is_shown() -> None:
    g = Guard().use("banned_words", words=["darn"], on_fail="fix")
    out = list(g.stream(["well d", "a", "rn it, ", "that is all ", "for today"], check_every=1, holdback=8))
    assert "".join(out) == "well **** it, that is all for today"
    assert all("darn" not in piece and piece != "d" for piece in out)


def test_refrain_stops_the_stream() -> None:
    g = Guard().use("banned_words", words=["darn"], on_fail="refrain")
    out = list(
        g.stream(
            chunks("Here is a long clean start to the answer, and then darn it all."),
            check_every=4,
            holdback=4,
        )
    )
    assert out[-1] == STOPPED_NOTE and "darn" not in "".join(out)
    out = list(g.stream(["darn"], check_every=1))
    assert out == [DEFAULT_REFUSAL]


def test_exception_raises_mid_stream() -> None:
    g = Guard().use("banned_words", words=["darn"], on_fail="exception")
    with pytest.raises(GuardValidationError):
        list(g.stream(chunks("fine so far, then darn"), check_every=2))


def test_async_stream() -> None:
    g = Guard().use("banned_words", words=["heck"], on_fail="fix")

    async def source() -> AsyncIterator[str]:
        for c in ["what the ", "he", "ck is ", "this"]:
            await asyncio.sleep(0)
            yield c

    async def collect() -> str:
        return "".join([piece async for piece in g.astream(source(), check_every=1, holdback=6)])

    assert asyncio.run(collect()) == "what the **** is this"


def test_padding_an_entity_with_invisible_characters_does_not_get_its_start_shown() -> None:
    g = Guard().use("pii", on_fail="fix")
    answer = "Sure, call 4" + "\u200b" * 200 + "15-555-2671 today and ask for the order desk, they are open late."
    out = "".join(g.stream(chunks(answer, 1), check_every=8, holdback=24))
    assert "<PHONE>" in out and not any(c.isdigit() for c in out)


def test_the_stream_keeps_what_the_checks_found() -> None:
    g = Guard().use("banned_words", words=["darn"], on_fail="noop")
    stream = g.stream(chunks("oh darn, it streams on anyway"), check_every=4)
    assert stream.result is None
    assert "".join(stream) == "oh darn, it streams on anyway"
    assert stream.result is not None and stream.result.passed is False  # noop: on record, not a pass
    assert [a.action for a in stream.result.actions] == ["noop"]


def test_a_fix_that_cannot_remove_what_was_flagged_stops_the_stream() -> None:
    g = Guard().use("valid_json", on_fail="fix")
    assert list(g.stream(chunks("not json at all"), check_every=4)) == [DEFAULT_REFUSAL]


def test_a_repair_of_text_already_shown_stops_the_stream_on_record() -> None:
    g = Guard().use("pii", on_fail="fix", entities=["PHONE"])
    stream = g.stream(["call me on 415 555 ", "2671 today"], check_every=1, holdback=0)
    assert "".join(stream) == "call me on 415 555 " + STOPPED_NOTE  # too few digits for a number, then too late
    assert stream.result is not None and stream.result.stopped
    assert [(a.validator, a.action) for a in stream.result.actions] == [("pii", "fix"), ("stream", "refrain")]


def test_a_long_token_is_held_back_until_it_ends() -> None:
    g = Guard().use("secrets", on_fail="fix")
    token = "ghp_" + "q7Xk2mP9vR4tZ8wL3nB6yH1cJ5dF0gS" * 3
    out = list(g.stream(["Your token: ", *chunks(token, 2), " is set."], check_every=1, holdback=4))
    assert "".join(out) == "Your token: <GITHUB_TOKEN> is set." and not any("ghp" in p for p in out)
