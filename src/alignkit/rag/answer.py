"""Answer questions from a store with numbered citations, then check the citations.

For each question:

1. retrieve the top ``k`` chunks (BM25, dense or hybrid; :meth:`RagStore.search`);
2. prompt the model with them as ``<source id="n" ref="URI#chars=S-E">`` blocks
   (:func:`alignkit.detectors.grounding.format_sources`, the format the gateway's ``grounded`` validator
   reads back) and the instruction to cite ``[n]`` after each sentence, or to say that the sources do
   not answer;
3. generate (all questions in one batch);
4. check every claim of the answer against the chunk it cites
   (:func:`alignkit.detectors.grounding.check_answer`): a citation is evidence to verify, not trust.

``retrieval="off"`` asks the model without sources (the baseline the issue compares against); its answer
is still checked against the chunks BM25 retrieves for the question, so "grounded" means the same thing
in both modes: every claim is backed by the corpus. It can cite nothing, so its citations never hold.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from alignkit.core.config import GenerateConfig
from alignkit.core.errors import ConfigError
from alignkit.core.messages import Message, system, user
from alignkit.core.model import Model
from alignkit.detectors.grounding import GroundingReport, Source, check_answer, format_sources
from alignkit.detectors.support import LexicalSupport, SupportScorer
from alignkit.rag.store import MODES, Hit, RagStore

RETRIEVAL_MODES: tuple[str, ...] = (*MODES, "off")
MAX_QUESTION_CHARS = 8000  # a longer "question" is a document; index it instead

INSTRUCTIONS = (
    "Answer the question using only the numbered sources. After each sentence, write the number of the "
    "source it comes from in brackets, like [1]. If the sources do not answer the question, say: "
    "This is not stated in the sources."
)
NO_SOURCES = "Answer the question in two or three sentences."


@dataclass(frozen=True)
class RagConfig:
    """How questions are answered and checked."""

    k: int = 4  # chunks per prompt: four 1,000-character chunks and the answer fit a 2k-token context
    retrieval: str = "bm25"  # bm25 (no model needed), dense, hybrid, or off (no sources in the prompt)
    min_support: float | None = None  # the support a claim needs; None: the scorer's own default
    require_citations: bool = False  # True: an uncited claim fails even when a source supports it
    generate: GenerateConfig = field(default_factory=lambda: GenerateConfig(max_tokens=160, temperature=0.0))

    def __post_init__(self) -> None:
        if self.retrieval not in RETRIEVAL_MODES:
            raise ConfigError(f"unknown retrieval {self.retrieval!r}; use {', '.join(RETRIEVAL_MODES)}")
        if not 1 <= self.k <= 50:
            raise ConfigError(f"k must be 1-50 chunks; got {self.k}")

    @property
    def search_mode(self) -> str:
        """How the chunks are found: those the prompt shows, or (retrieval off) those the check uses."""
        return "bm25" if self.retrieval == "off" else self.retrieval


@dataclass(frozen=True)
class RagAnswer:
    """A question, the model's answer, the chunks it was given (numbered from 1) and the check."""

    question: str
    answer: str
    retrieval: str
    sources: tuple[Hit, ...]  # source n is sources[n - 1]; with retrieval off, the chunks checked against
    report: GroundingReport
    model: str
    timings: dict[str, float]  # retrieve_s, generate_s (this answer's share of the batch), check_s
    error: str | None = None  # the provider's error; the answer then counts as not grounded

    @property
    def grounded(self) -> bool:
        """Every claim is supported (or an abstention), and the model answered."""
        return self.error is None and self.report.grounded

    @property
    def citations_hold(self) -> bool:
        """At least one citation was made, and every cited claim is supported by the source it cites."""
        return self.error is None and self.report.citations_hold

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able record (the CLI's ``--json`` and the eval's per-question rows)."""
        return {
            "question": self.question,
            "answer": self.answer,
            "retrieval": self.retrieval,
            "model": self.model,
            "error": self.error,
            "grounded": self.grounded,
            "citations_hold": self.citations_hold,
            "sources": [
                {"id": str(n), "ref": h.ref, "uri": h.uri, "start": h.start, "end": h.end, "score": round(h.score, 4)}
                for n, h in enumerate(self.sources, start=1)
            ],
            "check": self.report.to_dict(),
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }


def as_sources(hits: Sequence[Hit], prefix: str = "") -> list[Source]:
    """Retrieved chunks as numbered sources (1, 2, ...), each with its ``URI#chars=S-E`` ref. A ``prefix``
    makes the ids uncitable (``[n]`` is digits only): the check sources of an answer given none."""
    return [Source(f"{prefix}{n}", h.text, h.ref) for n, h in enumerate(hits, start=1)]


def build_prompt(question: str, sources: Sequence[Source] | None) -> list[Message]:
    """The conversation for one question: with sources (and the instruction to cite them) or without."""
    if sources is None:
        return [system(NO_SOURCES), user(f"Question: {question}")]
    return [system(INSTRUCTIONS), user(f"Sources:\n{format_sources(sources)}\n\nQuestion: {question}")]


def answer(
    model: Model, question: str, store: RagStore, config: RagConfig | None = None, scorer: SupportScorer | None = None
) -> RagAnswer:
    """Answer one question from ``store`` and check its citations (see the module docstring)."""
    return answer_batch(model, [question], store, config, scorer)[0]


def answer_batch(
    model: Model,
    questions: Sequence[str],
    store: RagStore,
    config: RagConfig | None = None,
    scorer: SupportScorer | None = None,
) -> list[RagAnswer]:
    """Answer many questions in one generation batch; each answer checked against its own sources."""
    cfg, check = config or RagConfig(), scorer or LexicalSupport()
    for q in questions:
        if not isinstance(q, str) or not q.strip():
            raise ConfigError("a question must be non-empty text")
        if len(q) > MAX_QUESTION_CHARS:
            raise ConfigError(f"a question of {len(q):,} characters is over {MAX_QUESTION_CHARS:,}; shorten it")
    retrieved, retrieve_s = [], []
    for q in questions:
        t0 = time.perf_counter()
        retrieved.append(store.search(q, cfg.k, cfg.search_mode))
        retrieve_s.append(time.perf_counter() - t0)
    with_sources = cfg.retrieval != "off"
    prompts = [
        build_prompt(q, as_sources(h) if with_sources else None) for q, h in zip(questions, retrieved, strict=True)
    ]
    t0 = time.perf_counter()
    completions = model.generate_batch(prompts, cfg.generate, on_error="record") if prompts else []
    share = (time.perf_counter() - t0) / max(1, len(prompts))
    out = []
    for q, hits, c, r_s in zip(questions, retrieved, completions, retrieve_s, strict=True):
        t0 = time.perf_counter()
        report = (
            check_answer(
                c.text,
                as_sources(hits, "" if with_sources else "r"),  # a citation without sources is a bad one
                check,
                min_support=cfg.min_support,
                require_citations=cfg.require_citations,
            )
            if c.ok
            else GroundingReport((), check.name)
        )
        timings = {"retrieve_s": r_s, "generate_s": share, "check_s": time.perf_counter() - t0}
        out.append(
            RagAnswer(q, c.text if c.ok else "", cfg.retrieval, tuple(hits), report, model.info.spec, timings, c.error)
        )
    return out
