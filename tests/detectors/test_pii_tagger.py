"""The learned name and address tagger: shipped weights and their recorded figures, sentence shapes it
was not trained on, hard negatives, the features the trainer sees, and linear time on hostile input."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from alignkit.detectors.pii import PIIDetector
from alignkit.detectors.pii_tagger import WEIGHTS, shipped_tagger, tokenize
from tests.helpers.timing import LINEAR_LIMIT, growth

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
from pii_corpus import span_scores  # noqa: E402  (scripts/ is not a package)

DETECTOR = PIIDetector(entities=["PERSON", "STREET_ADDRESS"])


def found(text: str) -> list[tuple[str, str]]:
    return [(s.label, text[s.start : s.end]) for s in DETECTOR.find(text).spans]


def test_manifest_records_provenance_and_weights_are_small() -> None:
    info = shipped_tagger().info
    assert info["data"]["generator"] == "scripts/pii_corpus.py" and info["data"]["seed"] == 0
    assert set(info["data"]["held_out_families"]) and info["data"]["faker_version"]
    assert info["metrics"]["held_out_families"]["n"] > 1000
    assert (WEIGHTS.parent / info["weights_file"]).stat().st_size < 300_000


def test_recorded_check_figures_are_what_the_shipped_weights_give() -> None:
    check = shipped_tagger().info["metrics"]["check"]
    path = REPO / check["file"]
    data = path.read_bytes()
    assert hashlib.sha256(data).hexdigest() == check["sha256"]
    rows = [json.loads(line) for line in data.decode().splitlines()]
    gold = [[tuple(s) for s in r["spans"]] for r in rows]
    pred = [[(s.start, s.end, s.label) for s in shipped_tagger().tag(r["text"])] for r in rows]
    assert span_scores(gold, pred) == check["tagger"]


# Sentence shapes written for this test, none of them a corpus template.
UNSEEN = [
    ("Yesterday evening Aurelia Kowalczyk phoned about the boiler.", "PERSON", "Aurelia Kowalczyk"),
    pytest.param(
        "The keys are with Tobias Lindqvist at reception.",
        "PERSON",
        "Tobias Lindqvist",
        marks=pytest.mark.xfail(strict=True, reason="known miss: 'with X at' context is too weak today"),
    ),
    ("Meet me outside 48 Kingsway Road tomorrow morning.", "STREET_ADDRESS", "48 Kingsway Road"),
    ("Parcel left at Hauptstraße 17 with the neighbour.", "STREET_ADDRESS", "Hauptstraße 17"),
]


@pytest.mark.parametrize(("text", "label", "value"), UNSEEN, ids=["Kowalczyk", "Lindqvist", "Kingsway", "Hauptstrasse"])
def test_finds_names_and_addresses_in_unseen_sentence_shapes(text: str, label: str, value: str) -> None:
    assert any(lab == label and value in v for lab, v in found(text)), found(text)


HARD_NEGATIVES = [
    "Route 66 is a famous song.",
    "Chapter 12 Main Ideas",
    "Python 3.12 Release Notes are out in October.",
    "We flew from Lisbon to Oslo on Monday.",
    "The Executive Summary and Terms and Conditions follow.",
    "Samsung Galaxy sales rose in March.",
    "import os\nfrom pathlib import Path",
]


@pytest.mark.parametrize("text", HARD_NEGATIVES)
def test_hard_negatives_stay_clean(text: str) -> None:
    assert found(text) == []


def test_tokens_keep_inner_punctuation_and_split_edges_and_possessives() -> None:
    text = "O'Brien's flat,\n\nJ. Smith-Jones"
    assert [text[a:b] for a, b in tokenize(text)] == ["O'Brien", "'s", "flat", ",", "\n", "J", ".", "Smith-Jones"]


def test_title_and_possessive_stay_outside_the_name() -> None:
    assert found("Dr. Aurelia Kowalczyk's report is late.") == [("PERSON", "Aurelia Kowalczyk")]


@pytest.mark.parametrize("unit", ["a" * 5000 + " ", "Ab ", "12 Ab St, ", "\n", ".", "Ab's "])
def test_hostile_input_takes_linear_time(unit: str) -> None:
    ratio = growth(DETECTOR.find, unit, 3000 // len(unit) + 1)
    assert ratio < LINEAR_LIMIT, f"{unit[:10]!r}: 10x the text took {ratio:.1f}x the time"


def test_a_megabyte_of_text_is_tagged_in_seconds() -> None:
    import time

    text = ("Please ask Aurelia Kowalczyk at 48 Kingsway Road about the invoice. " * 15000)[: 2**20]
    start = time.perf_counter()
    spans = DETECTOR.find(text).spans
    assert time.perf_counter() - start < 30 and len(spans) > 1000
