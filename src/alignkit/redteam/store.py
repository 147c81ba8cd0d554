"""The scan run store: every attempt is written to SQLite the moment it is judged.

An interrupted scan resumes by skipping the attempts already stored (each has a stable key: probe,
converter stack, attack), so a resumed scan and an uninterrupted one end with the same rows. SQLite
in WAL mode; rows are committed as soon as they are judged, in the batch they were judged in: a crash
loses at most the attempts in flight and those being judged.

Resuming is honest: an unknown run id is refused (not started afresh), and so is a run whose stored
options differ from the new ones in anything but :data:`RESUMABLE` (how the scan runs, not what it asks
or how it judges): the message lists every difference. Text is scrubbed of credentials before it is
stored (:func:`alignkit.core.scrub.scrub`; model text of masked keys only).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from alignkit.core.errors import ConfigError
from alignkit.core.scrub import scrub, scrub_value
from alignkit.core.sqlite import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    target TEXT NOT NULL,
    config TEXT NOT NULL,
    finished REAL
);
CREATE TABLE IF NOT EXISTS attempts (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    key TEXT NOT NULL,
    probe_id TEXT NOT NULL,
    category TEXT NOT NULL,
    expected TEXT NOT NULL,
    severity TEXT NOT NULL,
    converter TEXT NOT NULL,
    attack TEXT NOT NULL,
    prompt TEXT NOT NULL,
    response TEXT,
    error TEXT,
    status TEXT NOT NULL,
    refused INTEGER NOT NULL,
    harmful INTEGER NOT NULL,
    success INTEGER NOT NULL,
    score REAL NOT NULL,
    reason TEXT NOT NULL,
    evidence TEXT NOT NULL,
    latency_s REAL,
    created REAL NOT NULL,
    PRIMARY KEY (run_id, key)
);
"""


@dataclass(frozen=True)
class AttemptRow:
    """One judged attempt, as stored."""

    key: str
    probe_id: str
    category: str
    expected: str
    severity: str
    converter: str
    attack: str
    prompt: str
    response: str | None
    error: str | None
    status: str
    refused: bool
    harmful: bool
    success: bool
    score: float
    reason: str
    evidence: dict[str, Any]
    latency_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The row as a JSON-able dict (what JSON reports and the ``judge`` command write)."""
        return asdict(self)


ATTEMPT_COLUMNS = tuple(f.name for f in fields(AttemptRow))
# Column names come from AttemptRow's fields, never from input.
_COLUMNS = ", ".join(ATTEMPT_COLUMNS)
_PLACEHOLDERS = ", ".join("?" * (len(ATTEMPT_COLUMNS) + 2))
INSERT_ATTEMPT = f"INSERT OR REPLACE INTO attempts (run_id, {_COLUMNS}, created) VALUES ({_PLACEHOLDERS})"  # noqa: S608
SELECT_ATTEMPTS = f"SELECT {_COLUMNS} FROM attempts WHERE run_id = ? ORDER BY key"  # noqa: S608
MIGRATIONS = [SCHEMA]  # 1: the first schema; IF NOT EXISTS adopts stores written before versioning

# Options a resumed run may change: they decide how the scan runs (pace, patience), never what it asks,
# how the target is asked or how answers are judged, so rows from before and after still belong together.
RESUMABLE = frozenset({"concurrency", "batch_size", "retries", "timeout_s", "backoff_s"})


def _attack_name(spec: str) -> str:
    return spec.split("(", 1)[0]


def config_changes(stored: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """``option: stored X, now Y`` for each option that differs, outside :data:`RESUMABLE`. Options the
    stored run did not record (an older alignkit) are not compared. ``attacks`` (the specs of the
    attempts given) may gain attacks, since the attempts of one call may be a part of the run, but an
    attack whose arguments changed is a change."""
    changes = []
    for key in sorted(set(stored) | set(new)):
        if key in RESUMABLE or key not in stored:
            continue
        before, now = stored[key], new.get(key)
        if key == "attacks" and isinstance(before, list) and isinstance(now, list):
            by_name = {_attack_name(a): a for a in now}
            before = [a for a in before if _attack_name(a) in by_name]
            now = [by_name[_attack_name(a)] for a in before]
        if json.dumps(before, sort_keys=True, default=str) != json.dumps(now, sort_keys=True, default=str):
            changes.append(f"{key}: stored {before!r}, now {now!r}")
    return changes


class RunStore:
    """A SQLite file holding any number of scan runs (through :class:`alignkit.core.sqlite.Database`)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = Database(self.path, MIGRATIONS, what="run store")

    def close(self) -> None:
        """Close the file (every row is already committed)."""
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start_run(self, run_id: str, target: str, config: dict[str, Any], *, resume: bool) -> None:
        """Register a run. With ``resume`` the run must exist and have been made with the same target and
        options (outside :data:`RESUMABLE`); without it, an existing id is an error."""
        with self._db.transaction() as conn:
            row = conn.execute("SELECT target, config FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            if row is None and not resume:
                conn.execute(
                    "INSERT INTO runs VALUES (?, ?, ?, ?, NULL)",
                    (run_id, time.time(), target, json.dumps(config, sort_keys=True, default=str)),
                )
                return
        if row is None:
            raise ConfigError(f"{self._missing(run_id)}; nothing to resume: drop --resume to start it")
        if not resume:
            raise ConfigError(
                f"run {run_id!r} already exists in {self.path}; pass --resume to continue it or choose another --run-id"
            )
        changes = ([f"target: stored {row[0]!r}, now {target!r}"] if row[0] != target else []) + config_changes(
            json.loads(row[1]), config
        )
        if changes:
            raise ConfigError(
                f"run {run_id!r} in {self.path} was made with other options, and resuming would mix two scans in "
                f"one run: {'; '.join(changes)}. Resume with the stored options or choose another --run-id "
                f"(only {', '.join(sorted(RESUMABLE))} may change on resume: they set the pace, not what is asked)"
            )

    def done_keys(self, run_id: str) -> set[str]:
        """The keys of the attempts this run has stored (what a resumed scan skips)."""
        return {k for (k,) in self._db.read("SELECT key FROM attempts WHERE run_id = ?", (run_id,))}

    def add(self, run_id: str, row: AttemptRow) -> None:
        """Store one judged attempt, committed at once (a crash loses at most the attempt in flight)."""
        self.add_many(run_id, [row])

    def add_many(self, run_id: str, rows: Sequence[AttemptRow]) -> None:
        """Store judged attempts in one transaction (all of them or, after a crash, none)."""
        now = time.time()
        self._db.write_many(INSERT_ATTEMPT, [(run_id, *_values(row), now) for row in rows])

    def finish(self, run_id: str) -> None:
        """Mark the run finished."""
        self._db.write("UPDATE runs SET finished = ? WHERE run_id = ?", (time.time(), run_id))

    def runs(self) -> list[dict[str, Any]]:
        """Every run in the file, oldest first."""
        rows = self._db.read("SELECT run_id, created, target, config, finished FROM runs ORDER BY created")
        return [
            {"run_id": r[0], "created": r[1], "target": r[2], "config": json.loads(r[3]), "finished": r[4]}
            for r in rows
        ]

    def run_info(self, run_id: str) -> dict[str, Any]:
        """One run's id, times, target and config; a ConfigError listing the runs when it is not there."""
        for r in self.runs():
            if r["run_id"] == run_id:
                return r
        raise ConfigError(self._missing(run_id))

    def _missing(self, run_id: str) -> str:
        """``no run X in STORE; runs there: ...``."""
        known = ", ".join(r["run_id"] for r in self.runs()) or "(none)"
        return f"no run {run_id!r} in {self.path}; runs there: {known}"

    def attempts(self, run_id: str) -> Iterator[AttemptRow]:
        """The run's stored attempts, by key."""
        self.run_info(run_id)
        for r in self._db.read(SELECT_ATTEMPTS, (run_id,)):
            row = dict(zip(ATTEMPT_COLUMNS, r, strict=True))
            flags = {k: bool(row[k]) for k in ("refused", "harmful", "success")}
            yield AttemptRow(**{**row, **flags, "evidence": json.loads(row["evidence"])})


_ERROR_TEXT = frozenset({"error", "reason"})  # text alignkit composed, from errors: every credential shape goes
_MODEL_TEXT = frozenset({"prompt", "response", "evidence"})  # what was asked and answered: masked keys only


def _values(row: AttemptRow) -> list[Any]:
    """A row's column values as stored, in :data:`ATTEMPT_COLUMNS` order."""
    values = [_stored(c, getattr(row, c)) for c in ATTEMPT_COLUMNS]
    values[_EVIDENCE] = json.dumps(values[_EVIDENCE])
    return values


_EVIDENCE = ATTEMPT_COLUMNS.index("evidence")


def _stored(column: str, value: Any) -> Any:
    """A row's value as stored: the last line of defence against a credential reaching the disk."""
    if column in _ERROR_TEXT and isinstance(value, str):
        return scrub(value)
    if column in _MODEL_TEXT:
        return scrub_value(value, shapes=False)
    return value
