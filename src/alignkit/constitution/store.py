"""Resumable output: rows appended and flushed one by one, keyed by prompt, so a rerun skips what is done.

A crash can leave a half-written last line; :func:`read_rows` cuts it off (it is the row of a prompt
that was not finished, and the rerun redoes it) instead of failing on it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
    """The complete JSON rows of ``path`` (none if it does not exist); a torn last line is removed."""
    if not path.exists():
        return []
    raw = path.read_bytes()
    if raw and not raw.endswith(b"\n"):
        cut = raw.rfind(b"\n") + 1
        with path.open("r+b") as fh:
            fh.truncate(cut)
        raw = raw[:cut]
    rows = []
    for line in raw.decode("utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if isinstance(row, dict):
                rows.append(row)
    return rows


def done_keys(data: Path, trace: Path) -> set[str]:
    """Prompts already finished: those with a data row, and those whose trace row says they were
    skipped on purpose (a failed prompt is not done: the rerun tries it again)."""
    done = {str(r["id"]) for r in read_rows(data) if r.get("id") is not None}
    done |= {str(r["key"]) for r in read_rows(trace) if r.get("status") not in (None, "error")}
    return done
