"""``grounded`` and ``self_consistency``: is an answer backed by its sources, or at least by itself?

``grounded`` checks every claim of an answer against the sources of the conversation it answers
(:func:`~alignkit.detectors.grounding.sources_in`: the prompt's ``<source>`` blocks, else its system,
tool and last user messages) with :func:`~alignkit.detectors.grounding.check_answer`. In a guard it sits
on the output rail, where the guard hands it the conversation; its score is the share of claims that
failed (unsupported, uncited when citations are required, citing a source that is not there), so with
the default ``threshold`` of 0 any failed claim flags the answer. An answer checked with no sources at
all is flagged: nothing to check against is not grounded.

``self_consistency`` is for answers without sources: it asks ``model`` the same conversation
``samples`` more times and flags the answer's claims that most samples do not also make (the samples
play the part of the sources), after the observation that a model's confabulations vary between samples
while what it knows stays put.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from alignkit.core.config import GenerateConfig
from alignkit.core.errors import ConfigError
from alignkit.core.messages import Message
from alignkit.core.model import Model
from alignkit.core.records import Span, Verdict
from alignkit.detectors.base import Detector, Finding, detector
from alignkit.detectors.grounding import GroundingReport, Source, check_answer, sources_in, split_claims
from alignkit.detectors.support import LexicalSupport, SupportScorer, make_scorer

SCORERS = ("lexical", "nli", "judge")
GROUNDING_MANIFEST = Path(__file__).parent / "weights" / "grounding.json"
"""The lexical tier's measured figures, written by ``bench/bench_grounding.py --write`` (read by the checklist)."""


def report_finding(report: GroundingReport, *, no_sources: bool = False) -> Finding:
    """A grounding report as a detector finding: the share of failed claims, each failed claim a span."""
    if not report.checks:
        return Finding(0.0, label="no_claims", reason="no checkable claims")
    failed = report.failed()
    share = len(failed) / len(report.checks)
    counts: dict[str, float] = {}
    for c in report.checks:
        counts[c.status] = counts.get(c.status, 0.0) + 1 / len(report.checks)
    spans = tuple(Span(c.claim.start, c.claim.end, c.status, 1.0 - c.support) for c in failed)
    if no_sources:
        reason = "no sources to check the answer against"
    elif failed:
        reason = f"{len(failed)} of {len(report.checks)} claims not grounded; first: {failed[0].reason}"
    else:
        reason = f"all {len(report.checks)} claims grounded"
    return Finding(share, label="ungrounded" if failed else "grounded", categories=counts, spans=spans, reason=reason)


@detector(
    "grounded",
    aliases=("groundedness", "citations", "hallucination", "provenance"),
    description="flags answer claims their sources do not support (RAG citations checked, not trusted)",
)
class GroundedDetector(Detector):
    """Share of an answer's claims that its sources do not support (see the module docstring)."""

    name = "grounded"
    default_threshold = 0.0
    applies_to = "output"
    needs_context = True

    def __init__(
        self,
        *,
        scorer: str = "lexical",
        model: Model | None = None,
        nli_model: str | None = None,
        min_support: float | None = None,
        require_citations: bool = False,
        sources: Sequence[str] | None = None,
        threshold: float | str | None = None,
    ) -> None:
        """``scorer``: lexical (default), nli (``nli_model``: folder or hub id) or judge (``model``);
        ``min_support``: the support a claim needs (the scorer's default when None);
        ``require_citations``: fail claims that cite nothing; ``sources``: fixed source texts, checked
        besides the conversation's (e.g. a policy the answers must stay within)."""
        if scorer not in SCORERS:
            raise ConfigError(f"grounded: unknown scorer {scorer!r}; use one of {', '.join(SCORERS)}")
        if min_support is not None and not _number_in(min_support, 0.0, 1.0):
            raise ConfigError(f"grounded: min_support must be in [0, 1]; got {min_support!r}")
        super().__init__(
            threshold=threshold,
            scorer=None if scorer == "lexical" else scorer,
            model=model.info.spec if model is not None else None,
            nli_model=nli_model,
            min_support=min_support,
            require_citations=require_citations or None,
            sources=list(sources) if sources else None,
        )
        self.scorer: SupportScorer = make_scorer(scorer, model=model, nli_model=nli_model)
        self.min_support, self.require_citations = min_support, require_citations
        self.fixed = [Source(f"fixed{i + 1}", text) for i, text in enumerate(sources or ())]

    def check(self, answer: str, sources: Sequence[Source]) -> GroundingReport:
        """The full report for ``answer`` against ``sources`` (plus the fixed ones)."""
        return check_answer(
            answer,
            [*sources, *self.fixed],
            self.scorer,
            min_support=self.min_support,
            require_citations=self.require_citations,
        )

    def find(self, text: str) -> Finding:
        return report_finding(self.check(text, []), no_sources=not self.fixed)

    async def adetect_batch_in_context(
        self, texts: Sequence[str], contexts: Sequence[Sequence[Message]]
    ) -> list[Verdict]:
        if isinstance(self.scorer, LexicalSupport) and len(texts) <= 4:  # microseconds: no thread hop
            return self.detect_batch_in_context(texts, contexts)
        return await super().adetect_batch_in_context(texts, contexts)

    def find_in_context(self, text: str, context: Sequence[Message]) -> Finding:
        sources = sources_in(context)
        return report_finding(self.check(text, sources), no_sources=not sources and not self.fixed)


@detector(
    "self_consistency",
    aliases=("consistency", "selfcheck"),
    description="flags answer claims that the model's own resampled answers do not repeat",
    example={"model": "mock/echo"},
)
class SelfConsistencyDetector(Detector):
    """Share of an answer's claims that most of ``samples`` resampled answers do not support."""

    name = "self_consistency"
    default_threshold = 0.0
    applies_to = "output"
    needs_context = True

    def __init__(
        self,
        *,
        model: Model | None = None,
        samples: int = 4,
        temperature: float = 0.8,
        agree: float = 0.5,
        min_support: float | None = None,
        threshold: float | str | None = None,
    ) -> None:
        """``samples`` more answers at ``temperature``; a claim passes when at least ``agree`` of them
        support it (lexical support of at least ``min_support``)."""
        if model is None:
            raise ConfigError(
                "self_consistency needs model=...: the model whose answers are resampled (a guard spec may "
                "name it by string, e.g. model: embedded/default)"
            )
        if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= 32:
            raise ConfigError(f"self_consistency: samples must be 1..32; got {samples!r}")
        if not _number_in(agree, 0.0, 1.0) or agree == 0:
            raise ConfigError(f"self_consistency: agree must be in (0, 1]; got {agree!r}")
        if not _number_in(temperature, 0.0, 2.0):
            raise ConfigError(f"self_consistency: temperature must be in [0, 2]; got {temperature!r}")
        if min_support is not None and not _number_in(min_support, 0.0, 1.0):
            raise ConfigError(f"self_consistency: min_support must be in [0, 1]; got {min_support!r}")
        super().__init__(
            threshold=threshold, model=model.info.spec, samples=samples, temperature=temperature, agree=agree
        )
        self.model, self.samples, self.agree, self.min_support = model, samples, agree, min_support
        self.config = GenerateConfig(temperature=temperature)
        self.scorer = make_scorer("lexical")

    def find(self, text: str) -> Finding:
        return self.find_in_context(text, [])

    def find_in_context(self, text: str, context: Sequence[Message]) -> Finding:
        convo = list(context)  # the conversation the answer answers (the answer itself is not in it)
        if not split_claims(text):
            return Finding(0.0, label="no_claims", reason="no checkable claims")
        if not any(m.role == "user" for m in convo):
            return Finding(1.0, label="no_question", reason="self_consistency needs the question the answer answers")
        answers = self.model.generate_batch([convo] * self.samples, self.config, on_error="record")
        got = [a.text for a in answers if a.ok and a.text.strip()]
        if len(got) < self.samples:
            return Finding(1.0, label="sampling_failed", reason=f"only {len(got)} of {self.samples} samples came back")
        per_sample = [check_answer(text, [Source("s", g)], self.scorer, min_support=self.min_support) for g in got]
        votes = [sum(r.checks[i].ok for r in per_sample) / len(got) for i in range(len(per_sample[0].checks))]
        claims = per_sample[0].checks
        failed = [(c, v) for c, v in zip(claims, votes, strict=True) if v < self.agree]
        spans = tuple(Span(c.claim.start, c.claim.end, "inconsistent", 1.0 - v) for c, v in failed)
        reason = (
            f"{len(failed)} of {len(claims)} claims not repeated by most of {len(got)} samples"
            if failed
            else f"all {len(claims)} claims repeated by most samples"
        )
        label = "inconsistent" if failed else "consistent"
        return Finding(len(failed) / len(claims), label=label, spans=spans, reason=reason)


def _number_in(value: object, low: float, high: float) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high
