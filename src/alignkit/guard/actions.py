"""What on-fail actions do to a text. Each returns the new text, or None when the action has no way
to repair the text (the guard then refrains)."""

from __future__ import annotations

from alignkit.core.records import Verdict
from alignkit.detectors.base import Detector
from alignkit.detectors.pii import redact

DEFAULT_REFUSAL = "I'm sorry, but I can't help with that."
DEFAULT_ESCALATION = "This request has been passed to a human reviewer, who will follow up."


def fix(text: str, verdict: Verdict, detector: Detector) -> str | None:
    """The detector's own repair when it has one (e.g. truncating to a length), else redaction of the
    spans it pointed at (PII, secrets, banned words, profanity). None: not repairable."""
    own = getattr(detector, "fix", None)
    if callable(own):
        fixed = own(text, verdict)
        return fixed if isinstance(fixed, str) else None
    truncate = getattr(detector, "truncate", None)
    if callable(truncate) and verdict.label == "too_long":
        result = truncate(text)
        return result if isinstance(result, str) else None
    if verdict.spans:
        style = "mask" if detector.name in ("toxicity", "banned_words") else "label"
        return redact(text, verdict.spans, style)
    return None


def filter_out(text: str, verdict: Verdict) -> str:
    """Drop what failed: the flagged spans when there are any, else the whole text."""
    return redact(text, verdict.spans, "remove") if verdict.spans else ""


def reask_instruction(failures: list[Verdict]) -> str:
    """The message that re-prompts the model after ``failures``: what failed and what to do instead."""
    reasons = "; ".join(f"{v.detector}: {v.reason or v.label or 'failed'}" for v in failures)
    return (
        "Your previous answer did not pass the safety checks "
        f"({reasons}). Write a new answer to the original request that avoids these problems. "
        "If you cannot answer safely, say so briefly."
    )
