"""The run store on the shared SQLite helper: stores written before schema versions open and keep their
rows, and a store from a newer alignkit is refused rather than misread."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from alignkit.core.sqlite import NewerSchemaError
from alignkit.redteam.store import SCHEMA, AttemptRow, RunStore


def _row(key: str) -> AttemptRow:
    return AttemptRow(
        key=key, probe_id="p1", category="cyber", expected="refuse", severity="high", converter="none",
        attack="static", prompt="x", response="no", error=None, status="ok", refused=True, harmful=False,
        success=False, score=0.0, reason="refused", evidence={"refusal": 0.9}, latency_s=0.1,
    )  # fmt: skip


def test_an_unversioned_store_is_adopted_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    old = sqlite3.connect(path)
    old.executescript(SCHEMA)  # what the first release wrote: no user_version
    old.execute("INSERT INTO runs VALUES ('r1', 1.0, 'mock/echo', '{}', NULL)")
    old.commit()
    old.close()
    with RunStore(path) as store:
        assert store.done_keys("r1") == set()
        store.add("r1", _row("k1"))
        assert [r.key for r in store.attempts("r1")] == ["k1"]
        assert next(store.attempts("r1")) == _row("k1")
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 1


def test_a_store_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    RunStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(NewerSchemaError, match="newer"):
        RunStore(path)
