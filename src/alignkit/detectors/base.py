"""What every detector is: a named, configured function from text to a :class:`~alignkit.core.Verdict`.

One detector serves three users: a guard validator (with a policy and an action), a red-team judge
(scoring attempts) and a rule-based reward for RL. Detectors are registered with ``@detector("name")``
and built by name with :func:`get_detector`; each records its arguments so a verdict says exactly what
produced it.

Detectors are synchronous and CPU-cheap by design (sub-millisecond on a short text); ones that call a
model (LLM judges) implement :meth:`Detector.adetect_batch` and are driven through the async API.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from alignkit.core.errors import ConfigError
from alignkit.core.messages import Message
from alignkit.core.records import Span, Verdict
from alignkit.registry import Registry

MAX_TEXT_CHARS = 1_000_000
"""Texts longer than this are refused with a clear error rather than scanned: a request-size limit that
keeps every detector's worst case bounded (all of them are linear in the text length)."""


@dataclass(frozen=True, slots=True)
class Finding:
    """What a detector found in one text, before its threshold turns it into a verdict."""

    score: float  # 0 clean .. 1 certain
    label: str | None = None
    categories: Mapping[str, float] = field(default_factory=dict)
    spans: tuple[Span, ...] = ()
    reason: str = ""


class Detector(ABC):
    """Base class: implement :meth:`find` (and optionally :meth:`find_batch` for vectorized models)."""

    name: ClassVar[str] = "detector"
    default_threshold: ClassVar[float] = 0.5
    #: What the detector inspects: "input" (prompts), "output" (answers) or "any".
    applies_to: ClassVar[str] = "any"
    #: True for a detector that judges an answer against the conversation it answers (``grounded``: the
    #: sources in the prompt). The guard hands it the conversation through :meth:`detect_batch_in_context`;
    #: called alone (``detect(text)``) it sees none and says so in its verdict.
    needs_context: ClassVar[bool] = False

    def __init__(self, *, threshold: float | str | None = None, **args: Any) -> None:
        if args and type(self).__init__ is Detector.__init__:
            raise ConfigError(
                f"detector {self.name!r} takes only threshold=...; unknown argument(s): {', '.join(sorted(args))}"
            )
        self.threshold = self._resolve_threshold(threshold)
        self.args: dict[str, Any] = {k: v for k, v in args.items() if v is not None}
        if threshold is not None:
            self.args["threshold"] = threshold

    def operating_points(self) -> dict[str, float]:
        """Named thresholds this detector ships with: always ``default``; learned detectors add
        ``high_recall`` (see their manifests for how each was chosen)."""
        return {"default": self.default_threshold}

    def _resolve_threshold(self, threshold: float | str | None) -> float:
        points = self.operating_points()
        if threshold is None:
            return points["default"]
        if isinstance(threshold, str):
            if threshold not in points:
                raise ConfigError(
                    f"{self.name}: unknown operating point {threshold!r}; use one of {', '.join(sorted(points))} "
                    "or a number in [0, 1]"
                )
            return points[threshold]
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0.0 <= threshold <= 1.0:
            raise ConfigError(
                f"{self.name}: threshold must be a number in [0, 1] or an operating point name; got {threshold!r}"
            )
        return float(threshold)

    @property
    def spec(self) -> str:
        """Name and non-default arguments, e.g. ``toxicity(threshold=0.7)``: enough to rebuild it."""
        if not self.args:
            return self.name
        inner = ", ".join(f"{k}={v!r}" for k, v in sorted(self.args.items()))
        return f"{self.name}({inner})"

    def __repr__(self) -> str:
        return f"<detector {self.spec}>"

    @abstractmethod
    def find(self, text: str) -> Finding:
        """Score one text."""

    def find_batch(self, texts: Sequence[str]) -> list[Finding]:
        """Score many texts; override when a vectorized path is faster."""
        return [self.find(t) for t in texts]

    def find_in_context(self, text: str, context: Sequence[Message]) -> Finding:
        """Score ``text`` as an answer to the conversation ``context`` (detectors that set
        :attr:`needs_context` override this; the rest ignore the context)."""
        return self.find(text)

    def _verdict(self, f: Finding, ms: float) -> Verdict:
        # model_construct: the detector's own values are already valid; skip re-validation on the hot path.
        return Verdict.model_construct(
            detector=self.spec,
            score=f.score,
            flagged=f.score >= self.threshold and f.score > 0.0,
            label=f.label,
            categories=dict(f.categories),
            spans=f.spans,
            reason=f.reason,
            latency_ms=ms,
        )

    def detect(self, text: str) -> Verdict:
        """Score one text and apply the threshold."""
        check_text(text, self.name)
        t = time.perf_counter()
        f = self.find(text)
        return self._verdict(f, (time.perf_counter() - t) * 1000)

    def detect_batch(self, texts: Sequence[str]) -> list[Verdict]:
        for text in texts:
            check_text(text, self.name)
        t = time.perf_counter()
        found = self.find_batch(texts)
        ms = (time.perf_counter() - t) * 1000 / max(1, len(texts))
        return [self._verdict(f, ms) for f in found]

    def detect_batch_in_context(self, texts: Sequence[str], contexts: Sequence[Sequence[Message]]) -> list[Verdict]:
        """Score each text as the answer to its conversation (``contexts[i]`` for ``texts[i]``); a detector
        that does not need the conversation scores the texts as :meth:`detect_batch` does."""
        if not self.needs_context:
            return self.detect_batch(texts)
        if len(contexts) != len(texts):
            raise ConfigError(f"{self.name}: {len(texts)} texts but {len(contexts)} conversations")
        for text in texts:
            check_text(text, self.name)
        t = time.perf_counter()
        found = [self.find_in_context(text, ctx) for text, ctx in zip(texts, contexts, strict=True)]
        ms = (time.perf_counter() - t) * 1000 / max(1, len(texts))
        return [self._verdict(f, ms) for f in found]

    async def adetect_batch_in_context(
        self, texts: Sequence[str], contexts: Sequence[Sequence[Message]]
    ) -> list[Verdict]:
        """Async form of :meth:`detect_batch_in_context` (in a worker thread: it may call a model)."""
        if not self.needs_context:
            return await self.adetect_batch(texts)
        return await asyncio.to_thread(self.detect_batch_in_context, texts, contexts)

    async def adetect_batch(self, texts: Sequence[str]) -> list[Verdict]:
        """Async form; CPU detectors run in a worker thread so an event loop stays responsive."""
        if len(texts) <= 4:
            return self.detect_batch(texts)
        return await asyncio.to_thread(self.detect_batch, texts)

    def __call__(self, text: str) -> bool:
        """``detector(text)`` is True when the text is flagged (for ``is_harmful(response)``-style code)."""
        return self.detect(text).flagged


def check_text(text: object, who: str) -> None:
    if not isinstance(text, str):
        raise ConfigError(f"{who}: expected a string to check, got {type(text).__name__}")
    if len(text) > MAX_TEXT_CHARS:
        raise ConfigError(
            f"{who}: text of {len(text):,} characters is over the {MAX_TEXT_CHARS:,} limit; "
            "split it into parts (e.g. per document) and check each"
        )


DetectorFactory = Callable[..., Detector]

detectors: Registry[DetectorFactory] = Registry("detector", package="alignkit.detectors")


def detector(
    name: str, *, aliases: Sequence[str] = (), description: str = "", example: Mapping[str, Any] | None = None
) -> Callable[[DetectorFactory], DetectorFactory]:
    """Register a detector class (or factory) under ``name``; ``example``: arguments it can be built with,
    for a detector that needs some (shown in docs, built by the contract tests)."""
    return detectors.register(name, aliases=aliases, description=description, example=example)


def max_finding(findings: Sequence[Finding]) -> Finding:
    """The strongest of several findings (e.g. over a text and its de-obfuscated variants)."""
    return max(findings, key=lambda f: f.score)
