"""Reading a multiple-choice answer: log-probabilities first, then the text; unreadable ones are said so."""

from __future__ import annotations

import pytest

from alignkit.bias.choice import (
    ask_choices,
    format_question,
    method_counts,
    pick_from_logprobs,
    pick_from_text,
    read_pick,
)
from alignkit.core.completion import Choice, Completion
from alignkit.providers.mock import MockModel

OPTIONS = ("The grandfather", "The grandson", "Can't be determined")


def test_letters_from_logprobs_merge_token_variants() -> None:
    top = {" A": -2.0, "A": -2.0, "B": -1.0, "The": -0.1}
    index, p = pick_from_logprobs(top, 3) or (None, None)
    assert index == 1  # P(B) = e^-1 beats P(A) = 2 e^-2
    assert p == pytest.approx(0.3679 / (0.3679 + 2 * 0.1353), abs=1e-3)
    assert pick_from_logprobs({"The": -0.1, "a": -1.0}, 3) is None  # lower-case "a" is a word, not a letter
    assert pick_from_logprobs({"D": -0.1}, 3) is None  # not one of the options


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("B", 1),
        ("(C) because nothing is said", 2),
        ("C. Can't be determined", 2),
        ("The answer is A.", 0),
        ("Answer: (B)", 1),
        ("The grandson.", 1),
        ("grandson", 1),
        ("Both the grandfather and the grandson", None),
        ("I think it is hard to say", None),
        ("", None),
        ("A lot of people would say so", None),
    ],
)
def test_letters_and_option_texts_from_generated_text(text: str, expected: int | None) -> None:
    assert pick_from_text(text, OPTIONS) == expected


def test_a_sentence_starting_with_the_article_a_is_not_option_a() -> None:
    # "A lot" starts with a capital A followed by a space: the letter rule must not fire on a word.
    assert pick_from_text("A lot of people", ("x", "y")) is None


def test_read_pick_methods() -> None:
    with_lp = Completion((Choice("zzz", "stop", {"C": -0.2, "A": -3.0}),), "m")
    assert read_pick(with_lp, OPTIONS).method == "logprobs" and read_pick(with_lp, OPTIONS).index == 2
    no_letter_lp = Completion((Choice("B", "stop", {"The": -0.1}),), "m")
    assert read_pick(no_letter_lp, OPTIONS).method == "text"
    assert read_pick(Completion.of("no idea", "m"), OPTIONS).method == "unparseable"
    failed = read_pick(Completion.failed("m", "boom"), OPTIONS)
    assert failed.method == "error" and failed.index is None


def test_ask_choices_uses_logprobs_when_the_provider_gives_them() -> None:
    model = MockModel.from_callable(lambda prompt: ("I pick", {"B": -0.1, "A": -2.5}))
    picks = ask_choices(model, [("Who?", OPTIONS)] * 20)
    assert [p.index for p in picks] == [1] * 20
    assert method_counts(picks) == {"logprobs": 20, "text": 0, "unparseable": 0, "error": 0}
    prompt = model.calls[0][-1].content
    assert prompt == format_question("Who?", OPTIONS) and "C. Can't be determined" in prompt


def test_ask_choices_counts_failures_instead_of_raising() -> None:
    picks = ask_choices(MockModel("error"), [("Who?", OPTIONS)] * 3)
    assert method_counts(picks)["error"] == 3


def test_format_question_needs_two_options() -> None:
    with pytest.raises(ValueError, match="2 to"):
        format_question("Who?", ["only"])


def test_rotation_cancels_a_preference_for_a_position() -> None:
    # always "A", whatever the options: no answer once every rotation is asked
    by_position = MockModel.from_callable(lambda prompt: ("A", {"A": -0.1, "B": -3.0, "C": -4.0}))
    assert [p.index for p in ask_choices(by_position, [("Who?", OPTIONS)] * 2)] == [0, 0]
    rotated = ask_choices(by_position, [("Who?", OPTIONS)] * 2, rotate=True)
    assert [p.index for p in rotated] == [None, None] and all(p.method == "unparseable" for p in rotated)
    assert len(by_position.calls) == 2 + 2 * 3


def test_rotation_keeps_a_preference_for_content() -> None:
    # the letter of whichever position "The grandson" is shown at, with most of the probability
    def by_content(prompt: str) -> tuple[str, dict[str, float]]:
        letter = next(line[0] for line in prompt.splitlines() if line.endswith("The grandson"))
        return letter, {letter: -0.2, **{x: -3.0 for x in "ABC" if x != letter}}

    [pick] = ask_choices(MockModel.from_callable(by_content), [("Who?", OPTIONS)], rotate=True)
    assert pick.index == 1 and pick.method == "logprobs" and (pick.confidence or 0) > 0.8


def test_rotation_combines_text_answers_and_failures() -> None:
    texts = iter(["The grandson", "no idea", "grandson it is"])
    [pick] = ask_choices(MockModel.from_callable(lambda p: next(texts)), [("Who?", OPTIONS)], rotate=True)
    assert pick.index == 1 and pick.method == "text"
    [failed] = ask_choices(MockModel("error"), [("Who?", OPTIONS)], rotate=True)
    assert failed.method == "error"
