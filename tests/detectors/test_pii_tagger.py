"""The learned name and address tagger: shipped weights and their recorded figures, sentence shapes it
was not trained on, hard negatives and capitalised terms in ordinary text, the features the trainer
sees, and linear time on hostile input."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

from alignkit.detectors.pii import PIIDetector
from alignkit.detectors.pii_tagger import ONE_WORD, WEIGHTS, load_tagger, shipped_tagger, tokenize
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


# Ordinary answers full of capitalised terms, written for this test (no corpus template, no benchmark
# text): the guard redacts what the detector finds, so none of these may lose a word.
BENIGN_CAPITALISED = [
    "The Licensor grants You a worldwide, royalty-free License to reproduce the Work in Source or Object form.",
    "Differences remained significant after Bonferroni correction (95% CI 1.2-3.4; OR 2.1, P = 0.003).",
    "Survival was estimated with the Kaplan-Meier method and compared by the Log-Rank Test.",
    "Terms And Conditions For Copying, Distribution And Modification",
    "Patients with Type 2 Diabetes were recruited at the University Hospital between January 2011 and March 2013.",
    "See the Executive Summary in Section 4 of the Annual Report for the Key Findings.",
    "GNU GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007",
    "Each Contributor hereby grants to You a perpetual Patent License under the Apache License, Version 2.0.",
    "Scores on the Visual Analogue Scale and the Beck Depression Inventory improved in the Intervention Group.",
    "The Mann-Whitney U test and Spearman correlation were used; Cronbach's alpha was 0.87.",
    "Disclaimer of Warranty. Unless required by applicable law, the Software is provided AS IS.",
    "Introduction To Machine Learning With Python And Scikit-Learn",
    "Results: Median follow-up was 36 months (range 12-60) in the Treatment Arm.",
    "Install the Python package, then open Settings > Privacy and enable Two-Factor Authentication.",
]


@pytest.mark.parametrize("text", BENIGN_CAPITALISED, ids=range(len(BENIGN_CAPITALISED)))
def test_capitalised_terms_in_ordinary_text_are_not_names_or_addresses(text: str) -> None:
    assert found(text) == []


def test_a_one_word_name_needs_the_higher_threshold() -> None:
    threshold = shipped_tagger().threshold
    assert threshold[ONE_WORD] >= threshold["PERSON"]
    assert shipped_tagger().info["metrics"]["benign_dev_spans_per_1k_chars"]["n"] >= 300
    assert found("ask Kevin about it") == [("PERSON", "Kevin")]  # a strong context still carries one word


def test_weights_are_checked_by_sha256_through_the_shared_reader(tmp_path: Path) -> None:
    manifest = json.loads(WEIGHTS.read_text())
    (tmp_path / WEIGHTS.name).write_text(json.dumps(manifest))
    packed = bytearray((WEIGHTS.parent / manifest["weights_file"]).read_bytes())
    (tmp_path / manifest["weights_file"]).write_bytes(bytes(packed))
    assert load_tagger(tmp_path / WEIGHTS.name).threshold == shipped_tagger().threshold
    packed[len(packed) // 2] ^= 1
    (tmp_path / manifest["weights_file"]).write_bytes(bytes(packed))
    with pytest.raises(ValueError, match="sha256"):
        load_tagger(tmp_path / WEIGHTS.name)


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
