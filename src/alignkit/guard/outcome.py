"""What a guarded call returns: the final text and the evidence of every check and action."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from alignkit.core.errors import AlignkitError
from alignkit.core.records import Verdict
from alignkit.detectors.pii import Vault


@dataclass(frozen=True)
class ActionRecord:
    """An on-fail action that ran: which validator, on which rail, what it did."""

    validator: str
    on: str
    action: str
    detail: str = ""


@dataclass
class ValidationResult:
    """One text through one rail's validators."""

    text: str  # after the actions (may equal the input)
    verdicts: list[Verdict] = field(default_factory=list)
    actions: list[ActionRecord] = field(default_factory=list)
    passed: bool = True  # no validator failed (a noop failure still makes this False)
    stopped: bool = False  # a refrain/escalate/exception action replaced the text: stop here
    reask: list[Verdict] = field(default_factory=list)  # failures whose action asks to re-prompt
    vault: Vault | None = None  # holds the values an "anonymize" action hid, to restore in the answer

    @property
    def failures(self) -> list[Verdict]:
        """The verdicts that flagged the text."""
        return [v for v in self.verdicts if v.flagged]


@dataclass
class GuardOutcome:
    """The result of ``guard(llm, prompt)``. ``str(outcome)`` is the text to show the user."""

    prompt: str
    validated_output: str | None
    raw_output: str | None = None
    validation_passed: bool = True
    blocked: bool = False  # the input rail stopped the request before the model saw it
    input_verdicts: list[Verdict] = field(default_factory=list)
    output_verdicts: list[Verdict] = field(default_factory=list)
    actions: list[ActionRecord] = field(default_factory=list)
    reasks: int = 0
    escalated: bool = False
    model: str | None = None

    @property
    def text(self) -> str:
        """The text to show the user ("" when there is none)."""
        return self.validated_output or ""

    def __str__(self) -> str:
        return self.text

    @property
    def failures(self) -> list[Verdict]:
        """The verdicts that flagged the input or the output."""
        return [v for v in (*self.input_verdicts, *self.output_verdicts) if v.flagged]

    def to_dict(self) -> dict[str, Any]:
        """The outcome as JSON-able data (for completion metadata and logs)."""
        return {
            "prompt": self.prompt,
            "validated_output": self.validated_output,
            "raw_output": self.raw_output,
            "validation_passed": self.validation_passed,
            "blocked": self.blocked,
            "escalated": self.escalated,
            "reasks": self.reasks,
            "model": self.model,
            "input_verdicts": [v.model_dump(exclude_defaults=True) for v in self.input_verdicts],
            "output_verdicts": [v.model_dump(exclude_defaults=True) for v in self.output_verdicts],
            "actions": [a.__dict__ for a in self.actions],
        }


class GuardValidationError(AlignkitError):
    """A validator with ``on_fail="exception"`` failed. ``.outcome`` holds the evidence."""

    def __init__(self, message: str, outcome: GuardOutcome | ValidationResult) -> None:
        super().__init__(message)
        self.outcome = outcome
