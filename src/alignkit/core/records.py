"""Records that alignkit parts exchange as JSONL files: preference pairs, SFT examples, verdicts.

Each record is a frozen pydantic model with ``extra="forbid"``, so a misspelt field is an error rather
than silently dropped data; ``Record.json_schema()`` gives the schema for tools outside Python, and
:mod:`alignkit.core.jsonl` reads and writes them with errors that name the file and line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, model_validator

from alignkit.core.messages import Message, assistant, to_messages


def _coerce_messages(v: Any) -> Any:
    # A bare string is a one-turn user prompt; dicts and Message objects pass through to_messages.
    if isinstance(v, str | Message) or (isinstance(v, Sequence) and not isinstance(v, bytes)):
        return to_messages(v)
    return v


Messages = Annotated[
    tuple[Message, ...],
    BeforeValidator(_coerce_messages),
    PlainSerializer(lambda ms: [m.to_dict() for m in ms], return_type=list[dict[str, str]]),
]
"""A conversation; accepts a string (one user turn), message dicts or :class:`Message` objects."""


class Record(BaseModel):
    """Base of all JSONL records."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: ClassVar[str] = "record"

    id: str | None = Field(default=None, description="Stable identifier, when the source has one.")
    source: str | None = Field(default=None, description="Where the record came from: a file, a dataset, a model spec.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Free-form extra fields.")

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        return cls.model_json_schema()

    def to_json(self) -> str:
        return self.model_dump_json(exclude_defaults=True)


class PreferencePair(Record):
    """One human (or AI) comparison: for ``prompt``, ``chosen`` was preferred over ``rejected``."""

    kind: ClassVar[str] = "preference_pair"

    prompt: Messages = Field(description="The conversation both answers reply to.")
    chosen: str = Field(description="The preferred answer.")
    rejected: str = Field(description="The other answer.")
    tie: bool = Field(default=False, description="The annotator judged both equally good.")
    margin: float | None = Field(
        default=None, description="Strength of preference on the annotator's scale (e.g. a Likert gap)."
    )
    chosen_prob: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Soft label: probability that `chosen` is better (AI feedback); None means 1.",
    )
    annotator: str | None = Field(default=None, description="Who labelled it (a person id or a model spec).")


class SFTExample(Record):
    """One supervised fine-tuning example: a conversation and the answer to learn."""

    kind: ClassVar[str] = "sft_example"

    prompt: Messages = Field(description="The conversation up to the answer.")
    completion: str = Field(description="The assistant answer to train on.")

    @property
    def messages(self) -> tuple[Message, ...]:
        """The whole conversation, answer included."""
        return (*self.prompt, assistant(self.completion))


@dataclass(frozen=True, slots=True)
class Span:
    """A character range ``text[start:end]`` that a detector points at (e.g. a PII entity)."""

    start: int
    end: int
    label: str
    score: float = 1.0

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.end:
            raise ValueError(f"span start/end must satisfy 0 <= start <= end; got {self.start}, {self.end}")


class Verdict(Record):
    """What a detector or judge concluded about one text."""

    kind: ClassVar[str] = "verdict"

    detector: str = Field(description="The registered name (and arguments) of what produced this verdict.")
    score: float = Field(ge=0.0, le=1.0, description="Strength of the finding: 0 clean, 1 certain.")
    flagged: bool = Field(description="Whether the score crossed the detector's threshold.")
    label: str | None = Field(default=None, description="The predicted class, when there is one.")
    categories: dict[str, float] = Field(
        default_factory=dict, description="Per-category scores in [0, 1], when the detector gives them."
    )
    spans: tuple[Span, ...] = Field(default=(), description="Character ranges the finding points at.")
    reason: str = Field(default="", description="Human-readable evidence for the verdict.")
    latency_ms: float | None = Field(default=None, ge=0.0, description="Time the detector took.")

    @model_validator(mode="after")
    def _categories_in_range(self) -> Verdict:
        for name, s in self.categories.items():
            if not 0.0 <= s <= 1.0:
                raise ValueError(f"category score {name!r} must be in [0, 1]; got {s}")
        return self


RECORD_TYPES: dict[str, type[Record]] = {t.kind: t for t in (PreferencePair, SFTExample, Verdict)}
"""Record types by their ``kind`` name, for CLI commands that read any of them."""
