"""The scan run store: every attempt is written to SQLite the moment it is judged.

An interrupted scan resumes by skipping the attempts already stored (each has a stable key: probe,
converter stack, attack), so a resumed scan and an uninterrupted one end with the same rows. SQLite
in WAL mode with one committed row per attempt: a crash loses at most the attempt in flight.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from alignkit.core.errors import ConfigError

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


INSERT_ATTEMPT = "INSERT OR REPLACE INTO attempts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


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
        return asdict(self)


class RunStore:
    """A SQLite file holding any number of scan runs."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start_run(self, run_id: str, target: str, config: dict[str, Any], *, resume: bool) -> None:
        """Register a run; with ``resume`` an existing run continues, else an existing id is an error."""
        row = self._db.execute("SELECT target, config FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            with self._lock:
                self._db.execute(
                    "INSERT INTO runs VALUES (?, ?, ?, ?, NULL)",
                    (run_id, time.time(), target, json.dumps(config, sort_keys=True)),
                )
            return
        if not resume:
            raise ConfigError(
                f"run {run_id!r} already exists in {self.path}; pass --resume to continue it or choose another --run-id"
            )
        if row[0] != target:
            raise ConfigError(f"run {run_id!r} scanned {row[0]}, not {target}; resume it with the same target")

    def done_keys(self, run_id: str) -> set[str]:
        return {k for (k,) in self._db.execute("SELECT key FROM attempts WHERE run_id = ?", (run_id,))}

    def add(self, run_id: str, row: AttemptRow) -> None:
        values = (
            run_id,
            row.key,
            row.probe_id,
            row.category,
            row.expected,
            row.severity,
            row.converter,
            row.attack,
            row.prompt,
            row.response,
            row.error,
            row.status,
            int(row.refused),
            int(row.harmful),
            int(row.success),
            row.score,
            row.reason,
            json.dumps(row.evidence),
            row.latency_s,
            time.time(),
        )
        with self._lock:
            self._db.execute(INSERT_ATTEMPT, values)

    def finish(self, run_id: str) -> None:
        with self._lock:
            self._db.execute("UPDATE runs SET finished = ? WHERE run_id = ?", (time.time(), run_id))

    def runs(self) -> list[dict[str, Any]]:
        cur = self._db.execute("SELECT run_id, created, target, config, finished FROM runs ORDER BY created")
        return [
            {"run_id": r[0], "created": r[1], "target": r[2], "config": json.loads(r[3]), "finished": r[4]} for r in cur
        ]

    def run_info(self, run_id: str) -> dict[str, Any]:
        for r in self.runs():
            if r["run_id"] == run_id:
                return r
        known = ", ".join(r["run_id"] for r in self.runs()) or "(none)"
        raise ConfigError(f"no run {run_id!r} in {self.path}; runs there: {known}")

    def attempts(self, run_id: str) -> Iterator[AttemptRow]:
        self.run_info(run_id)
        cur = self._db.execute(
            "SELECT key, probe_id, category, expected, severity, converter, attack, prompt, response, error, "
            "status, refused, harmful, success, score, reason, evidence, latency_s FROM attempts "
            "WHERE run_id = ? ORDER BY key",
            (run_id,),
        )
        for r in cur:
            yield AttemptRow(
                key=r[0],
                probe_id=r[1],
                category=r[2],
                expected=r[3],
                severity=r[4],
                converter=r[5],
                attack=r[6],
                prompt=r[7],
                response=r[8],
                error=r[9],
                status=r[10],
                refused=bool(r[11]),
                harmful=bool(r[12]),
                success=bool(r[13]),
                score=r[14],
                reason=r[15],
                evidence=json.loads(r[16]),
                latency_s=r[17],
            )
