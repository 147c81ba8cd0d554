from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from alignkit.core.errors import ConfigError
from alignkit.core.sqlite import Database, NewerSchemaError, split_statements

V1 = "CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, created REAL NOT NULL);"
V2 = "ALTER TABLE runs ADD COLUMN finished REAL; CREATE INDEX runs_by_created ON runs(created);"


def test_migrations_run_once_each_and_in_order(tmp_path: Path) -> None:
    calls: list[int] = []

    def third(conn: sqlite3.Connection) -> None:
        calls.append(3)
        conn.execute("UPDATE runs SET finished = created + 1")

    path = tmp_path / "x.sqlite"
    with Database(path, [V1]) as db:
        assert db.version == 1
        db.write("INSERT INTO runs VALUES (?, ?)", ("a", 1.0))
    with Database(path, [V1, V2, third]) as db:  # an older file: only the new steps run, in order
        assert db.version == 3
        assert db.read("SELECT run_id, created, finished FROM runs") == [("a", 1.0, 2.0)]
    with Database(path, [V1, V2, third]) as db:  # already current: nothing runs again
        assert db.version == 3
    assert calls == [3]


def test_a_failed_migration_leaves_the_file_at_the_last_good_version(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    Database(path, [V1]).close()
    with pytest.raises(sqlite3.OperationalError):
        Database(path, [V1, "ALTER TABLE runs ADD COLUMN finished REAL; ALTER TABLE nope ADD COLUMN y;"])
    with Database(path, [V1, V2]) as db:  # the half-applied step was rolled back and runs again cleanly
        assert db.version == 2


def test_a_file_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    Database(path, [V1, V2], what="run store").close()
    with pytest.raises(NewerSchemaError, match=r"schema version 2.*knows versions up to 1.*newer alignkit"):
        Database(path, [V1], what="run store")
    with Database(path, [V1, V2]) as db:  # refusing did not change the file
        assert db.version == 2


def test_pragmas_and_bad_files(tmp_path: Path) -> None:
    with Database(tmp_path / "x.sqlite", [V1]) as db:
        assert db.read_one("PRAGMA journal_mode")[0] == "wal"
        assert db.read_one("PRAGMA foreign_keys")[0] == 1
        assert db.read_one("PRAGMA busy_timeout")[0] == 30_000
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database, just text " * 100)
    with pytest.raises(ConfigError, match="not a usable label store"):
        Database(junk, [V1], what="label store")
    with pytest.raises(ConfigError, match="is a folder"):
        Database(tmp_path, [V1])


def test_transactions_commit_all_or_nothing(tmp_path: Path) -> None:
    with Database(tmp_path / "x.sqlite", [V1]) as db:

        def duplicate_key() -> None:
            with db.transaction() as conn:
                conn.execute("INSERT INTO runs VALUES ('a', 1)")
                conn.execute("INSERT INTO runs VALUES ('a', 2)")  # duplicate key: the first insert goes too

        with pytest.raises(sqlite3.IntegrityError):
            duplicate_key()
        assert db.read("SELECT COUNT(*) FROM runs") == [(0,)]
        with db.transaction() as conn:
            conn.execute("INSERT INTO runs VALUES ('a', 1)")
            with pytest.raises(RuntimeError, match="read through conn"):
                db.read("SELECT 1")
            with pytest.raises(RuntimeError, match="already inside a transaction"):
                db.write("INSERT INTO runs VALUES ('b', 2)")
        assert db.write_many("INSERT INTO runs VALUES (?, ?)", [("c", 3), ("d", 4)]) == 2
        assert [r[0] for r in db.read("SELECT run_id FROM runs ORDER BY created")] == ["a", "c", "d"]


def test_concurrent_writers_lose_no_rows(tmp_path: Path) -> None:
    """Threads sharing one Database and threads with their own (two connections, so SQLite's own lock
    and busy timeout are exercised) write at once: every row arrives, none hits "database is locked"."""
    path = tmp_path / "x.sqlite"
    shared = Database(path, [V1])
    own = [Database(path, [V1]) for _ in range(3)]
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def writer(db: Database, name: str) -> None:
        try:
            start.wait()
            for i in range(100):
                if i % 2:
                    db.write("INSERT INTO runs VALUES (?, ?)", (f"{name}-{i}", float(i)))
                else:
                    with db.transaction() as conn:
                        conn.execute("INSERT INTO runs VALUES (?, ?)", (f"{name}-{i}", float(i)))
                        conn.execute("SELECT COUNT(*) FROM runs").fetchone()
        except BaseException as e:  # reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(shared, f"s{k}")) for k in range(3)]
    threads += [threading.Thread(target=writer, args=(db, f"o{k}")) for k, db in enumerate(own)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert shared.read("SELECT COUNT(*) FROM runs") == [(600,)]
    for db in [shared, *own]:
        db.close()


def test_split_statements_keeps_semicolons_inside_strings_and_triggers() -> None:
    script = """
    CREATE TABLE t (x TEXT);
    INSERT INTO t VALUES ('a;b');
    CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET x = x || ';'; END;
    """
    assert [s.split()[0] for s in split_statements(script)] == ["CREATE", "INSERT", "CREATE"]
    assert split_statements(script)[1] == "INSERT INTO t VALUES ('a;b');"
    with pytest.raises(ConfigError, match="incomplete SQL"):
        split_statements("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('a")
