"""What on-fail actions do to a text. Each returns the new text, or None when the action has no way
to repair the text (the guard then refrains)."""

from __future__ import annotations

from alignkit.core.records import Span, Verdict
from alignkit.detectors.base import Detector

DEFAULT_REFUSAL = "I'm sorry, but I can't help with that."
DEFAULT_ESCALATION = "This request has been passed to a human reviewer, who will follow up."


def replace_spans(text: str, spans: tuple[Span, ...], style: str = "label") -> str:
    """Replace each span: ``style="label"`` with ``<LABEL>``, ``"mask"`` with asterisks, ``"remove"`` with
    nothing. Overlapping spans are merged (the earliest start wins, the union is replaced once)."""
    out, pos = [], 0
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if span.end <= pos:
            continue  # inside a span already replaced
        start = max(span.start, pos)
        out.append(text[pos:start])
        if style == "label":
            out.append(f"<{span.label}>")
        elif style == "mask":
            out.append("*" * (span.end - start))
        pos = span.end
    out.append(text[pos:])
    return "".join(out)


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
        return replace_spans(text, verdict.spans, style)
    return None


def filter_out(text: str, verdict: Verdict) -> str:
    """Drop what failed: the flagged spans when there are any, else the whole text."""
    return replace_spans(text, verdict.spans, "remove") if verdict.spans else ""


def reask_instruction(failures: list[Verdict]) -> str:
    reasons = "; ".join(f"{v.detector}: {v.reason or v.label or 'failed'}" for v in failures)
    return (
        "Your previous answer did not pass the safety checks "
        f"({reasons}). Write a new answer to the original request that avoids these problems. "
        "If you cannot answer safely, say so briefly."
    )
