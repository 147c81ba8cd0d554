"""Term lists and the swap: both directions at once, case and word boundaries kept, user extensions."""

from __future__ import annotations

from pathlib import Path

import pytest

from alignkit.bias.terms import Swapper, group_lexicon, groups_mentioned, load_terms, shipped_lists
from alignkit.core.errors import ConfigError


@pytest.fixture(scope="module")
def gender() -> Swapper:
    return Swapper(load_terms(["gender", "gender_names"])["gender"], "female", "male")


@pytest.mark.parametrize(
    ("text", "swapped"),
    [
        ("He met her.", "She met him."),
        ("She fixed her car.", "He fixed his car."),
        ("Ask her to stay.", "Ask him to stay."),
        ("HE SAID NO", "SHE SAID NO"),
        ("Emily told Greg", "Greg told Emily"),
        ("the hero's sheriff", "the hero's sheriff"),  # "he" inside words is not a term
        ("Sheila and Theo", "Sheila and Theo"),
        ("Her mother's wife", "His father's husband"),
        ("will mark the date", "will mark the date"),  # names match only capitalized
        ("Mrs. Smith", "Mr. Smith"),
    ],
)
def test_swap_keeps_case_and_boundaries(gender: Swapper, text: str, swapped: str) -> None:
    assert gender.swap(text).text == swapped


def test_swap_counts_each_side(gender: Swapper) -> None:
    s = gender.swap("He told Emily that his wife liked him.")
    assert (s.from_a, s.from_b) == (2, 3) and s.changed
    untouched = gender.swap("What is the capital of France?")
    assert not untouched.changed and untouched.text == "What is the capital of France?"


def test_a_user_file_extends_a_shipped_axis(tmp_path: Path) -> None:
    extra = tmp_path / "more.tsv"
    extra.write_text("#axis gender\nfemale\tmale\nheroine\thero\n")
    terms = load_terms(["gender", extra])["gender"]
    assert Swapper(terms, "female", "male").swap("The heroine and he").text == "The hero and she"
    assert str(extra) in terms.sources


def test_multi_word_terms(tmp_path: Path) -> None:
    f = tmp_path / "jobs.tsv"
    f.write_text("#axis job\nmanual\toffice\nconstruction worker\tclerk\n")
    sw = Swapper(load_terms([f])["job"], "manual", "office")
    assert sw.swap("The Construction worker met a clerk.").text == "The Clerk met a construction worker."
    assert sw.swap("construction\nworker").text == "clerk"


def test_bad_term_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no term list"):
        load_terms(["nope"])
    bad = tmp_path / "bad.tsv"
    bad.write_text("female\tmale\nshe\the\n")
    with pytest.raises(ConfigError, match="#axis"):
        load_terms([bad])
    other = tmp_path / "other.tsv"
    other.write_text("#axis gender\nmale\tfemale\nhe\tshe\n")
    with pytest.raises(ConfigError, match="same header"):
        load_terms(["gender", other])
    with pytest.raises(ConfigError, match="no group"):
        Swapper(load_terms(["gender"])["gender"], "female", "robot")


def test_every_shipped_list_loads_and_swaps_both_ways() -> None:
    terms = load_terms(shipped_lists())
    assert {"gender", "race", "religion", "age"} <= set(terms)
    for ts in terms.values():
        sw = Swapper(ts, ts.groups[0], ts.groups[1])
        first = next(row for row in ts.rows if row[0] and row[1])
        a = first[0].split("|")[0]
        assert sw.swap(a).changed


def test_groups_mentioned_counts_every_group() -> None:
    religion = load_terms(["religion"])["religion"]
    counts = groups_mentioned(group_lexicon(religion), religion.groups, "A rabbi and an imam visited a mosque.")
    assert counts == {"christian": 0, "muslim": 2, "jewish": 1, "hindu": 0, "buddhist": 0}


def test_hostile_input_is_linear_and_bounded(gender: Swapper) -> None:
    text = "he " * 100_000
    assert gender.swap(text).from_b == 100_000
    with pytest.raises(ConfigError, match="characters"):
        gender.swap("x" * 1_000_001)
