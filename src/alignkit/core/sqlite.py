"""One SQLite file, opened the way every alignkit store needs it.

:class:`Database` opens the file in WAL mode (readers never block the writer), with a busy timeout
(another process holding the write lock is waited for, not reported as "database is locked") and
foreign keys on. Its schema is a list of migrations, applied once each and in order; the pending ones
run in one transaction together with ``PRAGMA user_version``, so a failed step leaves the file at the
version it had. A file written by a newer alignkit (a higher version than the list knows) is refused
with an error that says so, rather than misread.

One connection serves every thread: a lock lets one caller at a time use it, so concurrent writes from
threads are serialized in the process and ``BEGIN IMMEDIATE`` plus the busy timeout serialize them
across processes. Use it like this::

    MIGRATIONS = [
        # 1: the first schema. CREATE ... IF NOT EXISTS adopts files written before versioning.
        "CREATE TABLE IF NOT EXISTS runs (run_id TEXT PRIMARY KEY, created REAL NOT NULL);",
        # 2: later changes are appended, never edited.
        "ALTER TABLE runs ADD COLUMN finished REAL;",
    ]

    db = Database(path, MIGRATIONS, what="run store")
    db.write("INSERT INTO runs VALUES (?, ?, NULL)", (run_id, time.time()))  # one committed statement
    with db.transaction() as conn:  # several statements, all or none
        conn.execute(...)
        conn.execute(...)
    rows = db.read("SELECT run_id FROM runs ORDER BY created")

Inside ``with db.transaction() as conn`` use ``conn`` only: calling ``db.read``/``db.write`` there, or
awaiting (so another task on the same thread could call them), raises instead of interleaving two
transactions. Calls block briefly; async code calls them directly for single rows or through
``asyncio.to_thread`` for long reads.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from alignkit.core.errors import ConfigError

Migration = str | Callable[[sqlite3.Connection], None]
"""One schema step: an SQL script, or a function that changes the schema (and data) through the connection."""

Synchronous = Literal["OFF", "NORMAL", "FULL"]

__all__ = ["Database", "Migration", "NewerSchemaError", "split_statements"]


class NewerSchemaError(ConfigError):
    """The file's schema version is newer than this alignkit knows: it was written by a newer release."""


def split_statements(script: str) -> list[str]:
    """The complete SQL statements of ``script``, in order (``;`` inside strings and triggers stays put).

    ``executescript`` would commit any open transaction first, so migrations run statement by statement."""
    statements, current = [], ""
    for piece in script.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if current.strip(" \t\r\n;"):
                statements.append(current.strip())
            current = ""
    if current.strip(" \t\r\n;"):
        raise ConfigError(f"incomplete SQL statement in a migration: {current.strip()[:80]!r}")
    return statements


class Database:
    """A SQLite file with WAL, a busy timeout, foreign keys, versioned migrations and one writer at a time.

    ``migrations[i]`` brings the schema from version ``i`` to ``i + 1``; the file ends at version
    ``len(migrations)``. ``what`` names the store in error messages ("label store", "run store").
    ``synchronous="FULL"`` fsyncs every commit (labels that cost human time); ``"NORMAL"`` (the default)
    may lose the last commits on power loss but never corrupts the file.
    """

    def __init__(
        self,
        path: str | Path,
        migrations: Sequence[Migration],
        *,
        what: str = "database",
        synchronous: Synchronous = "NORMAL",
        busy_timeout_s: float = 30.0,  # a long write by another process is waited for, up to this long
    ) -> None:
        self.path, self.what = Path(path), what
        if self.path.is_dir():
            raise ConfigError(
                f"{self.path} is a folder; give a file path for the {what}, e.g. {what.split()[0]}.sqlite"
            )
        if synchronous not in ("OFF", "NORMAL", "FULL"):
            raise ConfigError(f"synchronous must be OFF, NORMAL or FULL; got {synchronous!r}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._owner: int | None = None  # the thread inside transaction(), to catch re-entry
        # timeout= is SQLite's busy timeout; isolation_level=None: we issue BEGIN and COMMIT ourselves.
        self._conn = sqlite3.connect(self.path, timeout=busy_timeout_s, check_same_thread=False, isolation_level=None)
        try:
            self._wal(busy_timeout_s)
            self._conn.execute(f"PRAGMA synchronous={synchronous}")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._migrate(migrations)
        except BaseException:
            self._conn.close()
            raise

    def _wal(self, busy_timeout_s: float) -> None:
        """Switch the file to WAL (the first statement that reads it). Two processes creating the same new
        file at once can find it locked while the other switches, which SQLite's busy timeout does not
        cover: wait for that, up to the busy timeout; any other error means it is not a database."""
        deadline = time.monotonic() + busy_timeout_s
        while True:
            try:
                self._conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() > deadline:
                    raise ConfigError(f"{self.path} is not a usable {self.what} ({e}); give a new file name") from None
                time.sleep(0.02)
            except sqlite3.DatabaseError as e:
                raise ConfigError(f"{self.path} is not a usable {self.what} ({e}); give a new file name") from None

    # -- schema --------------------------------------------------------------------------------------
    @property
    def version(self) -> int:
        """The schema version stored in the file (``PRAGMA user_version``)."""
        row = self.read_one("PRAGMA user_version")
        return int(row[0]) if row else 0

    def _migrate(self, migrations: Sequence[Migration]) -> None:
        with self.transaction() as conn:  # BEGIN IMMEDIATE: two processes opening a new file migrate once
            found = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if found > len(migrations):
                raise NewerSchemaError(
                    f"{self.path} has schema version {found}, but this alignkit knows versions up to "
                    f"{len(migrations)}: it was written by a newer alignkit. Upgrade alignkit to read it, "
                    f"or give a new file name"
                )
            for version in range(found, len(migrations)):
                step = migrations[version]
                try:
                    if callable(step):
                        step(conn)
                    else:
                        for statement in split_statements(step):
                            conn.execute(statement)
                except sqlite3.Error as e:
                    e.add_note(f"while migrating the {self.what} {self.path} to schema version {version + 1}")
                    raise
                conn.execute(f"PRAGMA user_version = {version + 1}")

    # -- access --------------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``with db.transaction() as conn:`` run statements on ``conn``; all commit at the end or none do
        (an exception rolls back and propagates). Holds the write lock from the first statement on."""
        if self._owner == threading.get_ident():
            raise RuntimeError(
                f"{self.what}: already inside a transaction on this thread; use its connection, "
                "and do not await inside `with db.transaction()`"
            )
        with self._lock:
            self._owner = threading.get_ident()
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            finally:
                self._owner = None

    def write(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run one statement in its own transaction; the number of rows it changed."""
        with self.transaction() as conn:
            return int(conn.execute(sql, args).rowcount)

    def write_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """Run one statement for each row, all in one transaction; the number of rows changed."""
        with self.transaction() as conn:
            return int(conn.executemany(sql, rows).rowcount)

    def read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        """Every row of a query (tuples), read under the lock so no transaction is half-seen."""
        self._not_inside_transaction()
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def read_one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        """The first row of a query, or None."""
        self._not_inside_transaction()
        with self._lock:
            return self._conn.execute(sql, args).fetchone()

    def _not_inside_transaction(self) -> None:
        if self._owner == threading.get_ident():
            raise RuntimeError(f"{self.what}: inside `with db.transaction() as conn`, read through conn")

    def close(self) -> None:
        """Close the connection (waits for a transaction in progress on another thread)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
