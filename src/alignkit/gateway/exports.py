"""Training data from the gateway's humans: reviewer decisions and user feedback, as JSONL records.

========================  =====================================================================
:func:`review_labels`     one row per decided review: ``{"text", "label": "harmful"|"safe", "rail",
                          "validator", "model", "decision", "id", "source": "gateway-review"}``;
                          ``text`` is the held answer (output reviews) or the last user message
                          (input reviews); ``alignkit detect --field text`` and classifier training
                          read it
:func:`review_pairs`      :class:`~alignkit.core.records.PreferencePair` per edited or rejected
                          output review: chosen the reviewer's answer (edit) or a refusal (reject),
                          rejected the held answer
:func:`feedback_pairs`    PreferencePair per user correction (chosen the correction, rejected the
                          answer it corrects, whatever the thumbs said) and per thumbs-up and
                          thumbs-down answer to the same conversation (chosen the one rated up)
:func:`feedback_items`    the same comparisons as labelling-app rows (``prompt``, ``response_a``,
                          ``response_b``, ``model_a``, ``model_b``: what ``alignkit label serve
                          --pairs`` imports), for people to check before they train on them
========================  =====================================================================

Every function reads the store in pages (no table is loaded whole, except the ratings of one export
of thumbs pairs, grouped by conversation) and skips a row whose stored conversation is not a chat
(counted in ``skipped`` of the :class:`Export` it fills). :func:`write_export` writes a file atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from alignkit.core.errors import ConfigError
from alignkit.core.jsonl import write_jsonl
from alignkit.core.messages import Message, last_user_text
from alignkit.core.records import PreferencePair
from alignkit.gateway.db import SQL

SOURCE_REVIEW = "gateway-review"
SOURCE_FEEDBACK = "gateway-feedback"
DEFAULT_REFUSAL = (
    "I can't help with that, because it could cause real harm. If there is a safe part of your question, "
    "I'm glad to help with that instead."
)
PAGE = 500  # rows read per query
MAX_THUMBS_PAIRS = 8  # per conversation: a popular prompt must not flood the set with near-duplicates
ReviewFormat = Literal["labels", "pairs"]
FeedbackFormat = Literal["pairs", "items"]


@dataclass
class Export:
    """What an export wrote and what it left out."""

    written: int = 0
    skipped: int = 0  # rows whose stored conversation could not be read as messages
    notes: list[str] = field(default_factory=list)


def _paged(db: SQL, sql: str, args: tuple[Any, ...] = ()) -> Iterator[Any]:
    """Rows of ``sql`` (a ``SELECT t.id, ... WHERE ...`` over a table aliased ``t``), by id, a page at a time."""
    last = ""
    while True:
        rows = db.read(f"{sql} AND t.id > ? ORDER BY t.id LIMIT ?", (*args, last, PAGE))
        yield from rows
        if len(rows) < PAGE:
            return
        last = rows[-1][0]


def conversation(text: str) -> tuple[Message, ...] | None:
    """The stored JSON conversation as messages (content parts joined as text); None if it is not one."""
    try:
        raw = json.loads(text)
        out = []
        for m in raw:
            content = m.get("content")
            if isinstance(content, list):  # OpenAI content parts: keep the text ones
                content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
            out.append(Message(m["role"], "" if content is None else content))
        return tuple(out) or None
    except (ValueError, TypeError, KeyError, AttributeError, ConfigError):
        return None


# -- reviews ---------------------------------------------------------------------------------------------

_DECIDED = (
    "SELECT t.id, t.messages, t.answer, t.status, t.final_answer, t.harmful, t.reviewer, t.rail, t.validator, "
    "t.model FROM reviews t WHERE t.status <> 'pending'"
)


def review_labels(db: SQL, report: Export | None = None) -> Iterator[dict[str, Any]]:
    """Labelled texts from decided reviews (see the module docstring)."""
    report = report if report is not None else Export()
    for id_, messages, answer, status, _final, harmful, _who, rail, validator, model in _paged(db, _DECIDED):
        prompt = conversation(messages)
        text = answer if rail == "output" and answer is not None else last_user_text(prompt) if prompt else None
        if not text:
            report.skipped += 1
            continue
        yield {
            "id": id_,
            "text": text,
            "label": "harmful" if harmful else "safe",
            "rail": rail,
            "validator": validator,
            "model": model,
            "decision": status,
            "source": SOURCE_REVIEW,
        }


def review_pairs(db: SQL, report: Export | None = None, *, refusal: str = DEFAULT_REFUSAL) -> Iterator[PreferencePair]:
    """Preference pairs from edited and rejected reviews of a held answer (see the module docstring)."""
    report = report if report is not None else Export()
    sql = f"{_DECIDED} AND t.status IN ('edited', 'rejected') AND t.answer IS NOT NULL"
    for id_, messages, answer, status, final, harmful, reviewer, rail, validator, model in _paged(db, sql):
        chosen = final if status == "edited" else refusal
        prompt = conversation(messages)
        if prompt is None or not chosen or chosen == answer:
            report.skipped += prompt is None
            continue
        meta = {"rail": rail, "validator": validator, "model": model, "decision": status, "harmful": bool(harmful)}
        yield PreferencePair(
            id=id_,
            source=SOURCE_REVIEW,
            prompt=prompt,
            chosen=chosen,
            rejected=answer,
            annotator=reviewer,
            metadata=meta,
        )


# -- feedback --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Comparison:
    """One answer judged better than another for a conversation, by a user."""

    id: str
    prompt: tuple[Message, ...]
    better: str
    worse: str
    model: str
    kind: str  # "correction" | "thumbs"
    annotator: str | None
    meta: dict[str, Any]


_FEEDBACK = (
    "SELECT t.id, t.response_id, t.key_id, t.rating, t.correction, e.messages, e.answer, e.model FROM feedback t "
    "JOIN exchanges e ON e.response_id = t.response_id WHERE 1 = 1"
)


def feedback_comparisons(db: SQL, report: Export | None = None) -> Iterator[Comparison]:
    """Corrections first (in feedback order), then thumbs up against thumbs down per conversation."""
    report = report if report is not None else Export()
    ratings: dict[str, int] = defaultdict(int)  # response id -> net rating
    answers: dict[str, tuple[str, str, str, str]] = {}  # response id -> (conversation hash, messages, answer, model)
    for id_, response_id, key, rating, correction, messages, answer, model in _paged(db, _FEEDBACK):
        if rating:
            ratings[response_id] += rating
            answers[response_id] = (hashlib.sha256(messages.encode()).hexdigest(), messages, answer, model)
        if not correction or correction.strip() == answer.strip():
            continue
        prompt = conversation(messages)
        if prompt is None:
            report.skipped += 1
            continue
        meta = {"response_id": response_id, "rating": rating, "model": model}
        yield Comparison(id_, prompt, correction, answer, model, "correction", key, meta)
    yield from _thumbs(ratings, answers, report)


def _thumbs(
    ratings: dict[str, int], answers: dict[str, tuple[str, str, str, str]], report: Export
) -> Iterator[Comparison]:
    by_conversation: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for response_id, net in sorted(ratings.items()):
        if net:
            by_conversation[answers[response_id][0]][0 if net > 0 else 1].append(response_id)
    for ups, downs in by_conversation.values():
        pairs = [(u, d) for u in ups for d in downs if answers[u][2].strip() != answers[d][2].strip()]
        for up, down in pairs[:MAX_THUMBS_PAIRS]:
            prompt = conversation(answers[up][1])
            if prompt is None:
                report.skipped += 1
                continue
            meta = {"response_id": up, "rejected_response_id": down, "model": answers[up][3]}
            yield Comparison(
                f"{up}>{down}", prompt, answers[up][2], answers[down][2], answers[down][3], "thumbs", None, meta
            )


def feedback_pairs(db: SQL, report: Export | None = None) -> Iterator[PreferencePair]:
    """Preference pairs from user feedback (see the module docstring)."""
    for c in feedback_comparisons(db, report):
        meta = {**c.meta, "kind": c.kind}
        yield PreferencePair(
            id=c.id, source=SOURCE_FEEDBACK, prompt=c.prompt, chosen=c.better, rejected=c.worse, annotator=c.annotator,
            metadata=meta,
        )  # fmt: skip


def feedback_items(db: SQL, report: Export | None = None) -> Iterator[dict[str, Any]]:
    """Labelling-app rows from user feedback: the kept answer as A, the user's correction (or the answer
    rated up) as B; the app shows them in random order."""
    for c in feedback_comparisons(db, report):
        yield {
            "id": c.id,
            "prompt": [m.to_dict() for m in c.prompt],
            "response_a": c.worse,
            "response_b": c.better,
            "model_a": c.model,
            "model_b": "user correction" if c.kind == "correction" else c.meta["model"],
            "source": SOURCE_FEEDBACK,
        }


# -- files -----------------------------------------------------------------------------------------------


def export_reviews(db: SQL, fmt: str, *, refusal: str = DEFAULT_REFUSAL) -> tuple[Iterable[Any], Export]:
    """The records of ``fmt`` (``labels`` or ``pairs``) and the report they fill as they are read."""
    report = Export()
    if fmt == "labels":
        return review_labels(db, report), report
    if fmt == "pairs":
        return review_pairs(db, report, refusal=refusal), report
    raise ConfigError(f"review exports are 'labels' or 'pairs'; got {fmt!r}")


def export_feedback(db: SQL, fmt: str) -> tuple[Iterable[Any], Export]:
    """The records of ``fmt`` (``pairs`` or ``items``) and the report they fill as they are read."""
    report = Export()
    if fmt == "pairs":
        return feedback_pairs(db, report), report
    if fmt == "items":
        return feedback_items(db, report), report
    raise ConfigError(f"feedback exports are 'pairs' or 'items'; got {fmt!r}")


def write_export(path: str | os.PathLike[str], records: Iterable[BaseModel | dict[str, Any]], report: Export) -> Export:
    """Write ``records`` to ``path`` as JSONL, atomically (an error leaves the old file); fills ``report``."""
    report.written = write_jsonl(path, records)
    return report
