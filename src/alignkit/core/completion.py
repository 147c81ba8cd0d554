"""What a model returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from alignkit.core.scrub import scrub

FinishReason = Literal["stop", "length", "content_filter", "tool_calls", "error"]
"""Why generation ended: a natural end or stop string, the token limit, a provider filter, a tool
call, or an error (then :attr:`Completion.error` says which)."""


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts for one call (all choices together)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(self.prompt_tokens + other.prompt_tokens, self.completion_tokens + other.completion_tokens)


@dataclass(frozen=True, slots=True)
class Choice:
    """One sampled answer."""

    text: str
    finish_reason: FinishReason = "stop"
    # Log-probabilities of the most likely *first* tokens (token text -> natural log-probability), when
    # ``GenerateConfig.top_logprobs`` asked for them and the provider gives them; None otherwise.
    top_logprobs: dict[str, float] | None = None


@dataclass(frozen=True, slots=True)
class Completion:
    """A model's answer to one prompt: one or more choices, token usage and provenance.

    ``str(completion)`` is the first choice's text, so code written for models that return strings
    (``is_harmful(model.generate(prompt))``) works unchanged.
    """

    choices: tuple[Choice, ...]
    model: str  # the provider spec that produced it, e.g. "mock/echo" or "hf/./ckpt"
    usage: Usage = field(default_factory=Usage)
    error: str | None = None  # set when the provider failed for this prompt (finish_reason "error")
    latency_s: float | None = None  # wall time of the call that produced it, when measured
    metadata: dict[str, Any] = field(default_factory=dict)
    # The exception behind ``error``, kept so on_error="raise" re-raises it with its own type.
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    @property
    def text(self) -> str:
        return self.choices[0].text if self.choices else ""

    @property
    def finish_reason(self) -> FinishReason:
        return self.choices[0].finish_reason if self.choices else "error"

    @property
    def top_logprobs(self) -> dict[str, float] | None:
        """The first choice's first-token log-probabilities, when the provider returned them."""
        return self.choices[0].top_logprobs if self.choices else None

    @property
    def ok(self) -> bool:
        """False when the provider failed: an error must never be mistaken for an answer."""
        return self.error is None and self.finish_reason != "error"

    def __str__(self) -> str:
        return self.text

    @classmethod
    def of(cls, text: str, model: str, finish_reason: FinishReason = "stop", **kw: Any) -> Completion:
        """A single-choice completion."""
        return cls(choices=(Choice(text, finish_reason),), model=model, **kw)

    @classmethod
    def failed(cls, model: str, error: str | BaseException) -> Completion:
        """A completion that records a failure instead of raising (for batch and scan use). The message
        is scrubbed of credentials (:func:`alignkit.core.scrub.scrub`): it is shown and stored."""
        exc = error if isinstance(error, BaseException) else None
        return cls(choices=(Choice("", "error"),), model=model, error=scrub(str(error)), exception=exc)
