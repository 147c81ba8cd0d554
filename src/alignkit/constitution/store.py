"""Resumable output: rows appended and flushed one by one, keyed by prompt, so a rerun skips what is done.

A run writes each finished prompt's data row (``id`` = its key), then its trace row (``key``, ``status``).
A kill can interrupt that at any byte; :func:`resume_run` puts the folder back in a state a rerun can
append to, and says what it repaired:

- a half-written last line (no newline) is cut off: it is a prompt that was not finished;
- a data row whose trace row was never written (the kill fell between the two) is dropped, so the
  prompt is done again once, not twice.

A prompt is done when its trace says ``ok`` and its data row is there, or when its trace says it was
skipped on purpose (empty or identical answers); a failed prompt is not done, and the rerun retries it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alignkit.core.errors import RecordError
from alignkit.core.files import write_text_atomic
from alignkit.core.jsonl import iter_json_objects, iter_lines, parse_json_object, repair_tail
from alignkit.core.messages import Message


def prompt_keys(prompts: Sequence[Sequence[Message]]) -> list[str]:
    """A stable key per prompt: a hash of its messages, with ``#2``, ``#3`` ... for repeats, so the
    same prompt list always gives the same keys whatever order the work is done in."""
    seen: dict[str, int] = {}
    keys = []
    for p in prompts:
        digest = hashlib.sha256(json.dumps([m.to_dict() for m in p], sort_keys=True).encode()).hexdigest()[:16]
        seen[digest] = seen.get(digest, 0) + 1
        keys.append(digest if seen[digest] == 1 else f"{digest}#{seen[digest]}")
    return keys


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a run file (none if it does not exist); a bad line is a :class:`RecordError` naming it."""
    if not path.exists():
        return []
    try:
        return [row for _, row in iter_json_objects(path)]
    except RecordError as e:
        raise RecordError(f"{e}; this is a run file: delete that line (its prompt is done again) to resume") from None


def resume_run(data: Path, trace: Path) -> tuple[set[str], list[str]]:
    """Repair a run folder's data and trace files after an interruption (see the module docstring);
    returns the keys of the prompts already done and a message for each repair made."""
    notes = [note for note in (repair_tail(data), repair_tail(trace)) if note]
    statuses: dict[str, str | None] = {str(r.get("key")): r.get("status") for r in read_rows(trace)}
    ok = {k for k, status in statuses.items() if status == "ok"}
    ids = {str(r.get("id")) for r in read_rows(data)}
    orphans = ids - ok
    if orphans:
        _drop_rows(data, orphans)
        notes.append(
            f"{data}: dropped {len(orphans)} row(s) whose trace row an interrupted run did not write; done again"
        )
    skipped = {k for k, status in statuses.items() if status not in (None, "error", "ok")}
    return (ok & ids) | skipped, notes


def _drop_rows(path: Path, ids: set[str]) -> None:
    """Rewrite ``path`` (atomically) without the rows whose ``id`` is in ``ids``; other lines stay byte for byte."""
    kept = [
        line
        for n, line in iter_lines(path)
        if not line.strip() or str(parse_json_object(line, f"{path}:{n}").get("id")) not in ids
    ]
    write_text_atomic(path, "".join(kept))
