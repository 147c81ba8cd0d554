"""PostgreSQL storage for the gateway: the interface of :class:`alignkit.core.sqlite.Database` on a
psycopg 3 connection pool, so several gateway processes share one database.

The stores write SQL once, for both backends. Here it is translated and run as PostgreSQL expects:

- ``?`` placeholders become ``%s``, and a literal ``%`` becomes ``%%``; a ``?`` inside a quoted string
  (``'what?'``), a quoted name or a comment stays as written (:func:`to_pyformat`). Dollar-quoted
  strings are PostgreSQL-only and not recognised: portable SQL does not use them.
- Python ``bool`` arguments are sent as 0/1, as SQLite stores them (the schema's flags are ``INTEGER``
  columns, which PostgreSQL would refuse a ``boolean`` for), and ``numeric`` results (``SUM`` of a
  ``BIGINT``, ``AVG``) come back as ``int`` or ``float``, as SQLite returns them, not as ``Decimal``.
- The schema version lives in the table ``alignkit_schema (version INTEGER)``. Pending migrations run in
  one transaction (PostgreSQL's DDL is transactional: a failed step leaves the version it had) under
  ``pg_advisory_xact_lock``, so processes that start at once on a new database migrate it once. A
  database written by a newer alignkit is refused, as :class:`~alignkit.core.sqlite.Database` refuses it.
- Connections run in autocommit: a ``read`` or a single ``write`` is one round trip and one atomic
  statement; ``transaction()`` wraps its statements in ``BEGIN`` ... ``COMMIT`` (``ROLLBACK`` on an
  exception). The pool checks a connection before lending it, so a restarted server costs no failed
  request.

The URL's password never appears in an error message or a ``repr``: every message carries the URL with
the password replaced by ``***`` (:func:`redact_url`).
"""

from __future__ import annotations

import re
import threading
import urllib.parse
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache, lru_cache
from typing import Any

from alignkit.core.errors import ConfigError
from alignkit.core.sqlite import NewerSchemaError, split_statements

__all__ = ["PostgresDatabase", "redact_url", "to_pyformat"]

# pg_advisory_xact_lock's key for migrations: any fixed 64-bit number; advisory locks are per database.
MIGRATION_LOCK = 0x616C69676E6B6974  # "alignkit" in ASCII

# One token of SQL that matters for placeholders: a quoted string ('it''s'), a quoted name, a comment,
# a placeholder or a percent sign. Each alternative starts with a distinct character and has no nested
# repetition, so matching is linear in the length of the text.
_TOKEN = re.compile(r"""'[^']*(?:''[^']*)*'|"[^"]*(?:""[^"]*)*"|--[^\n]*|/\*(?:[^*]|\*(?!/))*\*/|[?%']""")
_PASSWORD_PARAM = re.compile(r"[?&]password=([^&]*)", re.IGNORECASE)
_INSTALL = "PostgreSQL storage needs psycopg and psycopg-pool: pip install 'alignkit[serve]'"


@lru_cache(maxsize=1024)
def to_pyformat(sql: str) -> str:
    """``sql`` with ``?`` placeholders as psycopg's ``%s`` and each literal ``%`` doubled.

    >>> to_pyformat("SELECT '50%?' FROM t WHERE a = ? AND b LIKE 'x%'")
    "SELECT '50%%?' FROM t WHERE a = %s AND b LIKE 'x%%'"
    """

    def one(m: re.Match[str]) -> str:
        piece = m.group()
        if piece == "?":
            return "%s"
        if piece == "'":  # a quote the string alternative could not close
            raise ConfigError(f"unterminated string literal in SQL: {sql[:120]!r}")
        return piece.replace("%", "%%")

    return _TOKEN.sub(one, sql)


def redact_url(url: str) -> str:
    """``url`` with its password (in the user part or a ``password=`` parameter) replaced by ``***``."""
    try:
        parts = urllib.parse.urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            user, _, host = netloc.rpartition("@")
            if ":" in user:
                user = user.split(":", 1)[0] + ":***"
            netloc = f"{user}@{host}"
        query = "&".join(
            f"{k}=***" if k.lower() == "password" else f"{k}={v}" if v else k
            for k, v in (p.partition("=")[::2] for p in parts.query.split("&") if p)
        )
        return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return url.split("://", 1)[0] + "://***"  # not even a URL: show none of it


def _passwords(url: str) -> list[str]:
    """The passwords ``url`` holds, as written and decoded, to scrub from messages that might echo them.

    Read without a URL parser, which a malformed URL (the case where libpq echoes it) would defeat."""
    userinfo = url.split("://", 1)[-1].rpartition("@")[0]  # everything before the last "@": never too little
    found = [userinfo.split(":", 1)[1]] if ":" in userinfo else []
    found += _PASSWORD_PARAM.findall(url)
    found += [urllib.parse.unquote(p) for p in found]
    return sorted({p for p in found if p}, key=len, reverse=True)


def _scrub(text: str, url: str) -> str:
    for password in _passwords(url):
        text = text.replace(password, "***")
    return text


def _args(args: Sequence[Any]) -> tuple[Any, ...]:
    # bool is sent as 0/1: the schema's flags are INTEGER columns, and PostgreSQL refuses a boolean there.
    return tuple(int(a) if type(a) is bool else a for a in args)


class PgConnection:
    """The connection ``with db.transaction() as conn`` gives: ``execute`` and ``executemany`` take
    ``?`` placeholders, as :class:`sqlite3.Connection`'s do, and return a cursor."""

    def __init__(self, conn: Any) -> None:
        self.raw = conn  # the psycopg connection, for PostgreSQL-only work

    def execute(self, sql: str, args: Sequence[Any] = ()) -> Any:
        return self.raw.execute(to_pyformat(sql), _args(args))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Any:
        cur = self.raw.cursor()
        cur.executemany(to_pyformat(sql), [_args(r) for r in rows])
        return cur


class PostgresDatabase:
    """A PostgreSQL database behind a connection pool, with versioned migrations; see the module docstring.

    ``url`` is a libpq URL (``postgresql://user:password@host:port/dbname``); ``migrations[i]`` brings
    the schema from version ``i`` to ``i + 1``; ``what`` names the store in error messages.
    """

    def __init__(
        self,
        url: str,
        migrations: Sequence[str],
        *,
        what: str = "gateway store",
        pool_size: int = 10,  # connections per process: threads beyond it wait for one (up to timeout_s)
        connect_timeout_s: float = 10.0,  # an unreachable server is reported after this, not waited on forever
        timeout_s: float = 30.0,  # how long a call waits for a free connection before failing
    ) -> None:
        try:
            import psycopg
            import psycopg_pool
        except ImportError:
            raise ConfigError(_INSTALL) from None
        self.what, self.safe_url = what, redact_url(url)
        self._psycopg, self._owner = psycopg, threading.local()
        loader = _numeric_loader(psycopg)
        kwargs: dict[str, Any] = {"autocommit": True, "connect_timeout": max(1, round(connect_timeout_s))}
        try:
            first = psycopg.connect(url, **kwargs)  # the first contact: its error says what is wrong
        except psycopg.Error as e:
            raise self._connect_error(url, e) from None
        with first:
            first.adapters.register_loader("numeric", loader)
            self._migrate(PgConnection(first), migrations)
        self._pool = psycopg_pool.ConnectionPool(
            url,
            kwargs=kwargs,
            min_size=1,
            max_size=max(1, pool_size),
            open=False,
            configure=lambda conn: conn.adapters.register_loader("numeric", loader),
            check=psycopg_pool.ConnectionPool.check_connection,
            timeout=timeout_s,
            name=what,
        )
        try:
            self._pool.open(wait=True, timeout=connect_timeout_s)
        except psycopg_pool.PoolTimeout:
            self._pool.close()
            raise ConfigError(
                f"{what}: no connection to PostgreSQL at {self.safe_url} within {connect_timeout_s} s"
            ) from None

    def __repr__(self) -> str:
        return f"PostgresDatabase({self.safe_url!r}, what={self.what!r})"

    def _connect_error(self, url: str, e: Exception) -> ConfigError:
        detail = " ".join(_scrub(str(e).replace(url, self.safe_url), url).split()).rstrip(".")
        end = "" if detail.endswith("?") else "."
        return ConfigError(
            f"{self.what}: cannot use PostgreSQL at {self.safe_url}: {detail}{end} Check that the server runs and "
            "the URL's host, port, user, password and database name (postgresql://user:password@host:port/db)"
        )

    # -- schema --------------------------------------------------------------------------------------
    @property
    def version(self) -> int:
        """The schema version stored in the database."""
        row = self.read_one("SELECT version FROM alignkit_schema")
        return int(row[0]) if row else 0

    def _migrate(self, conn: PgConnection, migrations: Sequence[str]) -> None:
        with conn.raw.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))  # held until COMMIT/ROLLBACK
            conn.execute("CREATE TABLE IF NOT EXISTS alignkit_schema (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM alignkit_schema").fetchone()
            if row is None:
                conn.execute("INSERT INTO alignkit_schema (version) VALUES (0)")
            found = int(row[0]) if row else 0
            if found > len(migrations):
                raise NewerSchemaError(
                    f"the {self.what} at {self.safe_url} has schema version {found}, but this alignkit knows "
                    f"versions up to {len(migrations)}: it was written by a newer alignkit. Upgrade alignkit "
                    "to use it, or give another database"
                )
            for version in range(found, len(migrations)):
                try:
                    for statement in split_statements(migrations[version]):
                        conn.raw.execute(statement)  # as written: migrations take no arguments
                except self._psycopg.Error as e:
                    e.add_note(f"while migrating the {self.what} at {self.safe_url} to schema version {version + 1}")
                    raise
                conn.execute("UPDATE alignkit_schema SET version = ?", (version + 1,))

    # -- access --------------------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[PgConnection]:
        """``with db.transaction() as conn:`` run statements on ``conn``; all commit at the end or none do
        (an exception rolls back and propagates)."""
        self._not_inside_transaction()
        with self._pool.connection() as conn, conn.transaction():
            self._owner.inside = True
            try:
                yield PgConnection(conn)
            finally:
                self._owner.inside = False

    def write(self, sql: str, args: Sequence[Any] = ()) -> int:
        """Run one statement (atomic on its own); the number of rows it changed."""
        self._not_inside_transaction()
        with self._pool.connection() as conn:
            return int(PgConnection(conn).execute(sql, args).rowcount)

    def write_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """Run one statement for each row, all in one transaction; the number of rows changed."""
        rows = list(rows)
        with self.transaction() as conn:
            return int(conn.executemany(sql, rows).rowcount) if rows else 0

    def read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        """Every row of a query, as tuples."""
        self._not_inside_transaction(reading=True)
        with self._pool.connection() as conn:
            return list(PgConnection(conn).execute(sql, args).fetchall())

    def read_one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        """The first row of a query, or None."""
        self._not_inside_transaction(reading=True)
        with self._pool.connection() as conn:
            return PgConnection(conn).execute(sql, args).fetchone()

    def _not_inside_transaction(self, reading: bool = False) -> None:
        # As on SQLite: a second connection inside a transaction would not see its rows, and could
        # wait forever on a row lock the transaction holds.
        if not getattr(self._owner, "inside", False):
            return
        if reading:
            raise RuntimeError(f"{self.what}: inside `with db.transaction() as conn`, read through conn")
        raise RuntimeError(
            f"{self.what}: already inside a transaction on this thread; use its connection, "
            "and do not await inside `with db.transaction()`"
        )

    def close(self) -> None:
        """Close every connection of the pool (waits for calls in progress to return theirs)."""
        self._pool.close()

    def __enter__(self) -> PostgresDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@cache
def _numeric_loader(psycopg: Any) -> type:
    """A loader for ``numeric`` that gives ``int`` (no fraction) or ``float``, as SQLite returns ``SUM``s and
    ``AVG``s (``Decimal`` would not survive ``json.dumps``)."""

    class NumericLoader(psycopg.adapt.Loader):  # type: ignore[misc]
        def load(self, data: Any) -> int | float:
            text = bytes(data).decode()
            return int(text) if text.lstrip("-").isdigit() else float(text)

    return NumericLoader
