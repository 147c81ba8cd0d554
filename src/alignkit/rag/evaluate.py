"""End-to-end evaluation of the RAG pipeline on public data (read from files the caller names).

* **PubMedQA** (``pubmedqa-labeled/ori_pqal.json``: questions, each with the paragraphs of its abstract):
  the abstracts of a sample become the corpus (one document each), every question is asked through
  :func:`~alignkit.rag.answer.answer_batch`, and per retrieval mode we count: retrieval hits (the
  question's own abstract among the top ``k``), answers whose citations hold, grounded answers,
  abstentions, and failed generations. ``off`` (no sources in the prompt) is the baseline.
* **HaluEval QA** (``halueval/qa_one-turn_data.json``: knowledge, question, right and hallucinated
  answer): the pipeline's check applied to both answers with the knowledge as the one source: the
  grounded rate of each, and the AUROC of the weakest claim's support for telling them apart.

Rates are over every question asked: an answer that failed or could not be checked counts as not
grounded (fail closed). Samples are drawn with a seeded RNG, so a run can be repeated.
"""

from __future__ import annotations

import json
import random
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alignkit.core.errors import ConfigError
from alignkit.core.files import read_limited
from alignkit.core.jsonl import iter_json_objects
from alignkit.core.model import Model
from alignkit.detectors.grounding import Source, check_answer
from alignkit.detectors.support import SupportScorer
from alignkit.rag.answer import RagAnswer, RagConfig, answer_batch
from alignkit.rag.documents import Document
from alignkit.rag.store import RagStore

PUBMEDQA_FILE = "pubmedqa-labeled/ori_pqal.json"
HALUEVAL_FILE = "halueval/qa_one-turn_data.json"
MAX_DATA_BYTES = 200 * 2**20


@dataclass(frozen=True, slots=True)
class PubMedItem:
    """One PubMedQA question with its abstract's paragraphs and its yes/no/maybe label."""

    pmid: str
    question: str
    contexts: tuple[str, ...]
    decision: str

    @property
    def uri(self) -> str:
        return f"pubmedqa:{self.pmid}"


@dataclass(frozen=True, slots=True)
class HaluItem:
    """One HaluEval QA row: the knowledge, the question, a right and a hallucinated answer."""

    knowledge: str
    question: str
    right: str
    hallucinated: str


def sample(items: Sequence[Any], n: int | None, seed: int) -> list[Any]:
    """``n`` items drawn without replacement by a seeded RNG (all of them, in order, when n is None)."""
    if n is None or n >= len(items):
        return list(items)
    if n < 1:
        raise ConfigError(f"the sample size must be at least 1; got {n}")
    return random.Random(seed).sample(list(items), n)  # noqa: S311 (a reproducible sample, not a secret)


def load_pubmedqa(path: str | Path, n: int | None = None, seed: int = 0) -> list[PubMedItem]:
    """PubMedQA's labelled questions from ``ori_pqal.json`` (a sample of ``n`` when given)."""
    try:
        data = json.loads(read_limited(path, "PubMedQA file", MAX_DATA_BYTES))
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not JSON ({e.msg} at line {e.lineno}); expected ori_pqal.json") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected an object of PMID -> question (PubMedQA's ori_pqal.json)")
    items = []
    for pmid, row in sorted(data.items()):
        try:
            items.append(PubMedItem(str(pmid), row["QUESTION"], tuple(row["CONTEXTS"]), row.get("final_decision", "")))
        except (KeyError, TypeError):
            raise ConfigError(f"{path}: entry {pmid} lacks QUESTION or CONTEXTS; is this ori_pqal.json?") from None
    return sample(items, n, seed)


def load_halueval(path: str | Path, n: int | None = None, seed: int = 0) -> list[HaluItem]:
    """HaluEval's QA rows (one JSON object a line; a sample of ``n`` when given)."""
    items = []
    for lineno, row in iter_json_objects(path):
        try:
            items.append(HaluItem(row["knowledge"], row["question"], row["right_answer"], row["hallucinated_answer"]))
        except KeyError as e:
            raise ConfigError(f"{path}:{lineno}: no field {e.args[0]!r}; is this HaluEval's QA data?") from None
    return sample(items, n, seed)


def pubmedqa_documents(items: Sequence[PubMedItem]) -> list[Document]:
    """Each abstract as one document (its paragraphs joined by a blank line), uri ``pubmedqa:PMID``."""
    return [Document(i.uri, "\n\n".join(i.contexts), f"PMID {i.pmid}", "text") for i in items]


def eval_pubmedqa(
    model: Model,
    items: Sequence[PubMedItem],
    store: RagStore,
    config: RagConfig,
    scorer: SupportScorer,
    *,
    batch_size: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Ask every question with ``config`` (the corpus must already be in ``store``); returns the summary
    and one row per question (the answer record plus ``pmid`` and ``hit``)."""
    rows: list[dict[str, Any]] = []
    answers: list[RagAnswer] = []
    for start in range(0, len(items), batch_size):
        part = items[start : start + batch_size]
        got = answer_batch(model, [i.question for i in part], store, config, scorer)
        for item, a in zip(part, got, strict=True):
            hit = any(h.uri == item.uri for h in a.sources)
            rows.append({"pmid": item.pmid, "hit": hit, "decision": item.decision, **a.to_dict()})
        answers += got
        if progress is not None:
            progress(len(answers), len(items))
    return summarize(answers, [r["hit"] for r in rows], config), rows


def summarize(answers: Sequence[RagAnswer], hits: Sequence[bool], config: RagConfig) -> dict[str, Any]:
    """Counts and rates over every question (failed answers count as not grounded)."""
    n = len(answers)
    statuses = Counter(c.status for a in answers for c in a.report.checks)

    def rate(k: int) -> float:
        return round(k / n, 4) if n else 0.0

    counts = {
        "hit": sum(hits),
        "grounded": sum(a.grounded for a in answers),
        "citations_hold": sum(a.citations_hold for a in answers),
        "cited": sum(any(c.claim.cites for c in a.report.checks) for a in answers),
        "abstained": sum(_abstained(a) for a in answers),
        "failed": sum(a.error is not None for a in answers),
        "no_claims": sum(a.error is None and not a.report.checks for a in answers),
    }
    return {
        "retrieval": config.retrieval,
        "k": config.k,
        "n": n,
        "counts": counts,
        "rates": {name: rate(k) for name, k in counts.items()},
        "claims": dict(sorted(statuses.items())),
        "mean_generate_s": round(sum(a.timings["generate_s"] for a in answers) / max(1, n), 3),
        "mean_retrieve_ms": round(1000 * sum(a.timings["retrieve_s"] for a in answers) / max(1, n), 3),
    }


def _abstained(a: RagAnswer) -> bool:
    """Every claim of the answer says the sources do not answer."""
    return bool(a.report.checks) and all(c.status == "abstain" for c in a.report.checks)


def eval_halueval(
    items: Sequence[HaluItem], scorer: SupportScorer, *, min_support: float | None = None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The check on HaluEval's right vs hallucinated answers, the knowledge as source [1]; returns the
    summary (grounded rate of each, AUROC of the weakest claim's support) and one row per item."""
    rows = []
    for item in items:
        sources = [Source("1", item.knowledge)]
        row: dict[str, Any] = {"question": item.question}
        for side, text in (("right", item.right), ("hallucinated", item.hallucinated)):
            report = check_answer(text, sources, scorer, min_support=min_support)
            row[side] = {"grounded": report.grounded, "weakest": round(report.weakest, 4), "claims": len(report.checks)}
        rows.append(row)
    right = [r["right"]["weakest"] for r in rows]
    wrong = [r["hallucinated"]["weakest"] for r in rows]
    n = len(rows)
    summary = {
        "n": n,
        "scorer": scorer.name,
        "grounded_right": sum(r["right"]["grounded"] for r in rows),
        "grounded_hallucinated": sum(r["hallucinated"]["grounded"] for r in rows),
        "auroc_weakest_support": None if not n else round(auroc(right, wrong), 4),
    }
    return summary, rows


def auroc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """P(a positive scores above a negative), ties counting half (the area under the ROC curve)."""
    if not positives or not negatives:
        raise ConfigError("AUROC needs scores of both kinds")
    ranked = sorted(negatives)
    wins = sum(bisect_left(ranked, p) + 0.5 * (bisect_right(ranked, p) - bisect_left(ranked, p)) for p in positives)
    return wins / (len(positives) * len(negatives))
