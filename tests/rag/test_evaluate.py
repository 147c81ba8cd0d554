"""The evaluation on PubMedQA-shaped and HaluEval-shaped data (synthetic here; the real files when present)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from alignkit.core.errors import ConfigError
from alignkit.detectors.support import LexicalSupport
from alignkit.providers.mock import MockModel
from alignkit.rag import RagConfig, RagStore
from alignkit.rag.evaluate import (
    HALUEVAL_FILE,
    PUBMEDQA_FILE,
    HaluItem,
    auroc,
    eval_halueval,
    eval_pubmedqa,
    load_halueval,
    load_pubmedqa,
    pubmedqa_documents,
)

PUBMED = {
    "101": {
        "QUESTION": "Does aspirin reduce fever in children?",
        "CONTEXTS": ["Aspirin reduced fever in 80 children within two hours.", "No side effects were seen."],
        "final_decision": "yes",
    },
    "102": {
        "QUESTION": "Is running linked to knee damage?",
        "CONTEXTS": ["Running was not linked to knee damage in 500 adults."],
        "final_decision": "no",
    },
    "103": {"QUESTION": "Does tea improve sleep?", "CONTEXTS": ["Tea did not change sleep quality."]},
}


def write_data(root: Path) -> Path:
    (root / "pubmedqa-labeled").mkdir(parents=True)
    (root / PUBMEDQA_FILE).write_text(json.dumps(PUBMED))
    (root / "halueval").mkdir()
    rows = [
        {
            "knowledge": "Arthur's Magazine was published in Philadelphia from 1844.",
            "question": "Where was Arthur's Magazine published?",
            "right_answer": "Philadelphia",
            "hallucinated_answer": "It was published in Boston in 1901.",
        },
        {
            "knowledge": "The Oberoi Group is a hotel company with its head office in Delhi.",
            "question": "Where is the Oberoi Group's head office?",
            "right_answer": "Delhi",
            "hallucinated_answer": "Mumbai, the financial capital of India.",
        },
    ]
    (root / HALUEVAL_FILE).write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return root


def first_sentence_of_source_one(prompt: str) -> str:
    """A model that copies the first sentence of source 1 and cites it (a faithful answerer)."""
    m = re.search(r'<source id="1"[^>]*>([^.<]*\.)', prompt)
    return f"{m.group(1).strip()} [1]" if m else "This is not stated in the sources."


def test_pubmedqa_counts_hits_grounded_answers_and_citations(tmp_path: Path) -> None:
    items = load_pubmedqa(write_data(tmp_path) / PUBMEDQA_FILE)
    assert [i.pmid for i in items] == ["101", "102", "103"] and items[0].decision == "yes"
    with RagStore(tmp_path / "kb.sqlite") as kb:
        kb.index(pubmedqa_documents(items))
        model = MockModel.from_callable(first_sentence_of_source_one)
        summary, rows = eval_pubmedqa(model, items, kb, RagConfig(k=1), LexicalSupport(), batch_size=2)
        assert summary["n"] == 3 and summary["counts"]["hit"] == 3
        assert summary["counts"]["citations_hold"] == 3 and summary["rates"]["grounded"] == 1.0
        assert rows[0]["pmid"] == "101" and rows[0]["hit"] is True and rows[0]["sources"][0]["uri"] == "pubmedqa:101"
        liar = MockModel("fixed", text="It cured 95 percent of patients in Paris [1].")
        bad, _ = eval_pubmedqa(liar, items, kb, RagConfig(k=1), LexicalSupport())
        assert bad["counts"]["cited"] == 3 and bad["counts"]["citations_hold"] == 0 and bad["counts"]["grounded"] == 0
        off, _ = eval_pubmedqa(MockModel(), items, kb, RagConfig(retrieval="off"), LexicalSupport())
        assert off["retrieval"] == "off" and off["counts"]["citations_hold"] == 0
        failed, _ = eval_pubmedqa(MockModel("error"), items, kb, RagConfig(), LexicalSupport())
        assert failed["counts"]["failed"] == 3 and failed["counts"]["grounded"] == 0  # fail closed


def test_halueval_grounded_rates_and_auroc(tmp_path: Path) -> None:
    items = load_halueval(write_data(tmp_path) / HALUEVAL_FILE)
    summary, rows = eval_halueval(items, LexicalSupport())
    assert summary["n"] == 2 and summary["grounded_right"] == 2 and summary["grounded_hallucinated"] == 0
    assert summary["auroc_weakest_support"] == 1.0
    assert rows[0]["right"]["grounded"] and not rows[0]["hallucinated"]["grounded"]
    assert eval_halueval([HaluItem("k", "q", "k", "k")], LexicalSupport())[0]["auroc_weakest_support"] == 0.5


def test_auroc_counts_ties_half() -> None:
    assert auroc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auroc([0.1], [0.9]) == 0.0
    assert auroc([0.5, 0.5], [0.5]) == 0.5
    assert auroc([0.3, 0.7], [0.5]) == 0.5
    with pytest.raises(ConfigError):
        auroc([], [0.1])


def test_samples_are_seeded_and_bad_files_are_named(tmp_path: Path) -> None:
    root = write_data(tmp_path)
    a = load_pubmedqa(root / PUBMEDQA_FILE, n=2, seed=1)
    assert a == load_pubmedqa(root / PUBMEDQA_FILE, n=2, seed=1) and len(a) == 2
    (tmp_path / "bad.json").write_text('{"1": {"QUESTION": "q"}}')
    with pytest.raises(ConfigError, match="lacks QUESTION or CONTEXTS"):
        load_pubmedqa(tmp_path / "bad.json")
    (tmp_path / "bad.jsonl").write_text('{"knowledge": "k"}\n')
    with pytest.raises(ConfigError, match=r"bad\.jsonl:1: no field 'question'"):
        load_halueval(tmp_path / "bad.jsonl")


DATA = Path(os.environ.get("ALIGNKIT_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))


def test_the_public_files_load_as_documented() -> None:
    if not (DATA / PUBMEDQA_FILE).exists() or not (DATA / HALUEVAL_FILE).exists():
        pytest.skip(f"shared data folder {DATA} is absent (set ALIGNKIT_DATA to read PubMedQA and HaluEval)")
    pubmed = load_pubmedqa(DATA / PUBMEDQA_FILE)
    assert len(pubmed) == 1000 and all(i.contexts for i in pubmed)
    halu = load_halueval(DATA / HALUEVAL_FILE, n=50, seed=0)
    assert len(halu) == 50 and all(h.right and h.hallucinated for h in halu)
