"""Generation settings shared by every provider."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class GenerateConfig(BaseModel):
    """How to sample an answer. Every field defaults to ``None``: "let the provider decide".

    Configs combine with :meth:`merge`: the argument's explicitly set fields win, so a model's default
    config, a caller's config and per-call overrides stack predictably.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float | None = Field(
        default=None,
        ge=0.0,
        le=10.0,
        description="Sampling temperature; 0 means greedy decoding. None: the provider's default (greedy "
        "for local models, so that runs are reproducible unless asked otherwise).",
    )
    top_p: float | None = Field(
        default=None,
        gt=0.0,
        le=1.0,
        description="Nucleus sampling mass; None: no truncation. Ignored when decoding greedily.",
    )
    max_tokens: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        description="Most new tokens to generate. None: the provider's default (256 for local models, "
        "enough for a chat answer without letting a runaway generation hold a CPU for minutes).",
    )
    stop: tuple[str, ...] | None = Field(
        default=None,
        description="Strings that end generation; the stop string itself is not part of the answer.",
    )
    seed: int | None = Field(
        default=None,
        description="Random seed for sampling, so that sampled answers can be reproduced.",
    )
    n: int | None = Field(
        default=None,
        ge=1,
        le=128,
        description="Number of answers per prompt (returned as a completion's choices). None means 1.",
    )
    top_logprobs: int | None = Field(
        default=None,
        ge=1,
        le=20,
        description="Return the log-probabilities of this many most likely first tokens of each answer "
        "(``Choice.top_logprobs``), e.g. to read P(A) vs P(B) of a multiple-choice answer in one token. "
        "None: none. 20 is the most OpenAI-compatible servers allow; providers that cannot give them "
        "leave ``Choice.top_logprobs`` as None, so callers must handle that.",
    )

    @field_validator("stop", mode="before")
    @classmethod
    def _stop_as_tuple(cls, v: Any) -> Any:
        if isinstance(v, str):
            return (v,)
        if isinstance(v, list):
            return tuple(v)
        return v

    @field_validator("stop")
    @classmethod
    def _stop_not_empty(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if v is not None and any(s == "" for s in v):
            raise ValueError("stop strings must not be empty")
        return v

    def merge(self, other: GenerateConfig | None = None, **overrides: Any) -> GenerateConfig:
        """A new config: this one, overridden by ``other``'s explicitly set fields, then by ``overrides``.

        Fields set to ``None`` in ``overrides`` are ignored, so CLI flags that were not given do not
        erase configured values.
        """
        data = self.model_dump(exclude_unset=True)
        if other is not None:
            data.update(other.model_dump(exclude_unset=True))
        data.update({k: v for k, v in overrides.items() if v is not None})
        return GenerateConfig.model_validate(data)

    @property
    def greedy(self) -> bool:
        """Whether decoding is deterministic (temperature unset or 0)."""
        return self.temperature is None or self.temperature == 0.0
