from __future__ import annotations

import time

import pytest

from alignkit.core import ConfigError
from alignkit.detectors import get_detector
from tests.helpers.timing import LINEAR_LIMIT, growth


def test_regex_match_modes() -> None:
    must = get_detector("regex_match", regex=r"^[A-Z]")
    assert not must.detect("Hello").flagged and must.detect("hello").label == "no_match"
    forbid = get_detector("regex", regex=r"\bpassword\b", match_type="must_not_match", ignore_case=True)
    v = forbid.detect("my PASSWORD is")
    assert v.flagged and v.spans[0].start == 3
    with pytest.raises(ConfigError, match="invalid pattern"):
        get_detector("regex_match", regex="(unclosed")
    with pytest.raises(ConfigError, match="needs a pattern"):
        get_detector("regex_match")


def test_catastrophic_user_patterns_time_out_and_fail_closed() -> None:
    det = get_detector("regex_match", regex=r"^(\w+\s?)*$")
    start = time.perf_counter()
    v = det.detect("a" * 5000 + "!")
    assert time.perf_counter() - start < 2.0
    assert v.flagged  # either it timed out (failed closed) or it correctly found no match


def test_banned_words_plain_and_disguised() -> None:
    det = get_detector("ban_list", words=["bomb", "heist"])
    assert det.detect("a bomb").spans[0].end == 6
    for disguised in (
        "b0mb",
        "b o m b",
        "ｂｏｍｂ",
        "b\u200bomb",
        "bоmb",
    ):  # leet, spaced, wide, zero-width, Cyrillic о
        v = det.detect(f"make a {disguised} now")
        assert v.flagged, disguised
    assert not det.detect("bombastic heists-free text").flagged or det.detect("bombastic").flagged is False
    with pytest.raises(ConfigError, match="non-empty list"):
        get_detector("banned_words", words=[])


def test_competitors_is_an_output_check_with_spans() -> None:
    det = get_detector("competitor_check", words=["Globex", "Initech"])
    v = det.detect("Try Initech or globex.")
    assert [(s.start, s.end) for s in v.spans] == [(4, 11), (15, 21)] and v.spans[0].label == "COMPETITOR"


def test_valid_length() -> None:
    det = get_detector("valid-length", min=2, max=3, unit="words")
    assert det.detect("one").label == "too_short" and det.detect("one two three four").label == "too_long"
    assert not det.detect("one two").flagged
    with pytest.raises(ConfigError):
        get_detector("valid_length", min=5, max=1)


def test_json_and_schema() -> None:
    assert not get_detector("valid_json").detect('```json\n{"a": 1}\n```').flagged
    assert "line 1" in get_detector("is_json").detect("{bad").reason
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
    det = get_detector("json_schema", schema=schema)
    assert not det.detect('{"age": 3}').flagged
    v = det.detect('{"age": "three"}')
    assert v.flagged and "age" in v.reason
    with pytest.raises(ConfigError, match="schema itself is invalid"):
        get_detector("json_schema", schema={"type": 12})


def test_refusal_detector() -> None:
    det = get_detector("refusal")
    assert det.detect("I'm sorry, but I can't help with that request.").flagged
    assert det.detect("As an AI language model, I cannot do that.").flagged
    assert det.detect("I won\u2019t assist with that.").flagged
    assert not det.detect("Sure! Here is a recipe for bread.").flagged
    empty = det.detect("   ")
    assert not empty.flagged and empty.label == "empty"
    late = det.detect("Here is the full guide. " + "Step. " * 60 + "I cannot stress this enough.")
    assert not late.flagged
    with pytest.raises(ConfigError, match=r"unknown argument.*thresold; refusal takes threshold"):
        get_detector("refusal", thresold=0.3)
    with pytest.raises(ConfigError, match=r"max: .*got 'abc'"):
        get_detector("valid_length", max="abc")  # a wrong type is named, not a TypeError from inside


@pytest.mark.parametrize("name", ["refusal", "valid_json"])
def test_rule_detectors_are_linear_on_hostile_input(name: str) -> None:
    det = get_detector(name)

    assert growth(det.detect, "i am sorry but ", 5_000) < LINEAR_LIMIT
