"""The gateway's storage on both backends: the same tests on a SQLite file and on a real PostgreSQL server
(tests/gateway/services.py), through :func:`alignkit.gateway.db.open_database`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

from alignkit.core.errors import ConfigError
from alignkit.core.sqlite import NewerSchemaError
from alignkit.gateway.config import LimitConfig
from alignkit.gateway.db import SQL, open_database
from alignkit.gateway.keys import KeyStore
from alignkit.gateway.postgres import PostgresDatabase, redact_url, to_pyformat
from alignkit.gateway.schema import MIGRATIONS
from tests.gateway.services import PASSWORD_ROLE, PostgresServer, free_port

V1 = "CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT, n INTEGER, at DOUBLE PRECISION);"
V2 = "CREATE TABLE log (what TEXT NOT NULL); INSERT INTO log (what) VALUES ('migrated to 2');"
ROOT = Path(__file__).resolve().parents[2]


def version(db: SQL) -> int:
    return int(db.version)  # both backends have it; the SQL protocol does not need it


def test_migrations_apply_once_each_in_order(store_url: str) -> None:
    db = open_database(store_url, [V1])
    assert version(db) == 1
    db.write("INSERT INTO notes (id, body, n, at) VALUES (?, ?, ?, ?)", ("a", "first", 1, 1.5))
    db.close()
    for _ in range(2):  # the first open runs step 2 only; the second runs nothing (log keeps one row)
        db = open_database(store_url, [V1, V2])
        assert version(db) == 2
        assert db.read("SELECT what FROM log") == [("migrated to 2",)]
        assert db.read("SELECT id, body, n, at FROM notes") == [("a", "first", 1, 1.5)]
        db.close()


def test_the_gateway_schema_migrates_on_both(store_url: str) -> None:
    with open_database(store_url, MIGRATIONS) as db:
        assert version(db) == len(MIGRATIONS)
    with open_database(store_url, MIGRATIONS) as db:
        assert db.read("SELECT key_id FROM api_keys") == []


def test_a_failed_migration_leaves_the_last_good_version(store_url: str) -> None:
    open_database(store_url, [V1]).close()
    broken = "CREATE TABLE log (what TEXT); ALTER TABLE nope ADD COLUMN y INTEGER;"
    with pytest.raises(Exception, match="nope") as e:
        open_database(store_url, [V1, broken])
    assert "to schema version 2" in "".join(traceback.format_exception(e.value))
    with open_database(store_url, [V1, V2]) as db:  # step 2 was rolled back whole
        assert version(db) == 2 and db.read("SELECT what FROM log") == [("migrated to 2",)]


SLOW_OPEN = """
import json, sys, time
from alignkit.gateway.db import open_database
store_url, start, migrations = sys.argv[1], float(sys.argv[2]), json.loads(sys.argv[3])
time.sleep(max(0.0, start - time.time()))
open_database(store_url, migrations).close()
"""


def test_two_processes_opening_a_new_database_at_once_migrate_it_once(store_url: str) -> None:
    slow = "SELECT pg_sleep(0.5);" if store_url.startswith("postgresql") else ""  # widens the race on PostgreSQL
    migrations = [V1 + slow + "INSERT INTO notes (id, body) VALUES ('migration', 'ran');", V2]
    start = time.time() + 2.0  # both are importing by then; they open the database at the same instant
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SLOW_OPEN, store_url, str(start), json.dumps(migrations)],
            cwd=ROOT,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    with open_database(store_url, migrations) as db:
        assert db.read("SELECT id FROM notes") == [("migration",)]  # a second run would have failed on the key
        assert db.read("SELECT what FROM log") == [("migrated to 2",)]


def test_keys_round_trip(store_url: str) -> None:
    with open_database(store_url, MIGRATIONS) as db:
        keys = KeyStore(db)
        rec, token = keys.create("ci bot", ["user", "reviewer"], models=["m"], limits=LimitConfig(concurrent=2))
        other, other_token = keys.create("admin", ["admin"])
        assert keys.verify(token) == rec and keys.verify(other_token) == other
        assert keys.verify(token[:-1] + ("A" if token[-1] != "A" else "B")) is None  # a wrong secret
        assert keys.verify("ak-0123456789abcdef-" + "x" * 43) is None  # an unknown id
        got = keys.get(rec.key_id)
        assert got is not None and got.models == ("m",) and got.limits == LimitConfig(concurrent=2)
        assert [k.key_id for k in keys.list()] == [rec.key_id, other.key_id]
        assert token not in json.dumps(db.read("SELECT * FROM api_keys"))  # only the hash is stored
        revoked = keys.revoke(token)
        assert revoked.revoked is not None and keys.verify(token) is None
        assert [k.key_id for k in keys.list()] == [other.key_id]
        assert len(keys.list(include_revoked=True)) == 2
        with pytest.raises(ConfigError, match="already revoked"):
            keys.revoke(rec.key_id)
        with pytest.raises(ConfigError, match="no key with id"):
            keys.revoke("0000000000000000")


def insert_then(db: SQL, ids: list[str], then: Callable[[], object] = lambda: None) -> None:
    with db.transaction() as conn:
        for i in ids:
            conn.execute("INSERT INTO notes (id) VALUES (?)", (i,))
        then()


def test_a_transaction_is_all_or_nothing(store_url: str) -> None:
    with open_database(store_url, [V1]) as db:
        with pytest.raises(ZeroDivisionError):
            insert_then(db, ["a"], lambda: 1 / 0)
        assert db.read("SELECT id FROM notes") == []
        with pytest.raises(Exception, match=r"(?i)unique|duplicate"):
            insert_then(db, ["b", "b"])  # the database's own error
        assert db.read("SELECT id FROM notes") == []
        with db.transaction() as conn:  # and the connection still works
            conn.execute("INSERT INTO notes (id) VALUES (?)", ("c",))
            assert conn.execute("SELECT id FROM notes").fetchall() == [("c",)]  # its own rows, before COMMIT
            with pytest.raises(RuntimeError, match="read through conn"):
                db.read("SELECT id FROM notes")
            with pytest.raises(RuntimeError, match="already inside a transaction"):
                db.write("DELETE FROM notes")
        assert db.read("SELECT id FROM notes") == [("c",)]


def test_rowcounts_and_types_match_sqlite(store_url: str) -> None:
    with open_database(store_url, [V1]) as db:
        rows = [(f"id{i}", "x", i, i + 0.5) for i in range(3)]
        assert db.write_many("INSERT INTO notes (id, body, n, at) VALUES (?, ?, ?, ?)", rows) == 3
        assert db.write_many("INSERT INTO notes (id) VALUES (?)", []) == 0
        assert db.write("UPDATE notes SET body = ? WHERE n >= ?", ("y", 1)) == 2
        assert db.write("UPDATE notes SET body = ? WHERE id = ?", ("z", "missing")) == 0
        assert db.write("INSERT INTO notes (id, n) VALUES (?, ?)", ("flag", True)) == 1  # a bool is stored as 1
        assert db.read_one("SELECT n FROM notes WHERE id = ?", ("flag",)) == (1,)
        assert db.read_one("SELECT id FROM notes WHERE id = ?", ("missing",)) is None
        total, mean, count = db.read_one("SELECT SUM(n), AVG(n), COUNT(*) FROM notes")
        assert (total, mean, count) == (4, 1.0, 4) and type(total) is int and type(mean) is float


def test_placeholders_inside_quotes_and_comments_stay_as_written(store_url: str) -> None:
    with open_database(store_url, [V1]) as db:
        db.write("INSERT INTO notes (id, body) VALUES (?, 'is it 50% done? it''s ?')", ("a",))
        db.write('INSERT INTO notes (id, "body") VALUES (?, ?)', ("b", "100%"))
        sql = """SELECT id, body, '?' AS q, '%' AS pct  -- a comment with ? and % and an odd quote: it's
                 FROM notes /* ? ' % */ WHERE body LIKE '%done?%' OR body LIKE ? ORDER BY id"""
        assert db.read(sql, ("1__%",)) == [("a", "is it 50% done? it's ?", "?", "%"), ("b", "100%", "?", "%")]


def test_to_pyformat() -> None:
    assert to_pyformat("SELECT ? , '?', \"a?\" FROM t WHERE x LIKE 'a%' AND y = ?") == (
        "SELECT %s , '?', \"a?\" FROM t WHERE x LIKE 'a%%' AND y = %s"
    )
    assert to_pyformat("SELECT 'it''s ?', ?") == "SELECT 'it''s ?', %s"
    assert to_pyformat("SELECT 5 % 3 -- ?\n, ?") == "SELECT 5 %% 3 -- ?\n, %s"
    with pytest.raises(ConfigError, match="unterminated string"):
        to_pyformat("SELECT 'oops ?")
    hostile = "'" + "''" * 50_000  # linear time even on pathological input
    started = time.perf_counter()
    with pytest.raises(ConfigError):
        to_pyformat(hostile)
    assert time.perf_counter() - started < 1.0


def test_newer_schema_is_refused(store_url: str) -> None:
    open_database(store_url, [V1, V2], what="gateway store").close()
    with pytest.raises(NewerSchemaError, match=r"schema version 2.*knows versions up to 1.*newer alignkit"):
        open_database(store_url, [V1], what="gateway store")
    with open_database(store_url, [V1, V2]) as db:  # refusing changed nothing
        assert version(db) == 2


def assert_secret_free(err: BaseException, secret: str) -> str:
    """The error as a traceback shows it (chained errors and notes too; not the test's own source lines)."""
    shown = [line for line in "".join(traceback.format_exception(err)).splitlines() if not line.startswith(" ")]
    assert not [line for line in shown if secret in line] and secret not in repr(err)
    return str(err)


def test_connection_errors_name_the_server_but_never_the_password(postgres_server: PostgresServer) -> None:
    secret = "s3cr%3Et-pw"  # URL-encoded: the decoded form "s3cr>t-pw" must not show either
    dead = f"postgresql://alice:{secret}@127.0.0.1:{free_port()}/gw"
    with pytest.raises(ConfigError) as e:
        PostgresDatabase(dead, [V1], what="gateway store", connect_timeout_s=2)
    msg = assert_secret_free(e.value, "s3cr")
    assert "gateway store" in msg and "postgresql://alice:***@127.0.0.1" in msg and "/gw" in msg

    postgres_server.sql(f"DROP ROLE IF EXISTS {PASSWORD_ROLE}", f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD 'right'")
    with pytest.raises(ConfigError, match="password authentication failed") as e:
        open_database(postgres_server.url("postgres", PASSWORD_ROLE, "wrong-pw"), [V1])
    assert_secret_free(e.value, "wrong-pw")
    with pytest.raises(ConfigError, match='database "nope" does not exist'):
        open_database(postgres_server.url("nope"), [V1])
    for malformed in (  # libpq echoes the second one whole in its error
        f"postgresql://bob:{secret}@127.0.0.1:notaport/gw?password={secret}",
        f"postgresql://bob:{secret}@[::1/gw",
    ):
        with pytest.raises(ConfigError) as e:
            open_database(malformed, [V1])
        assert_secret_free(e.value, "s3cr")
    assert redact_url(f"postgresql://bob:{secret}@h/db?sslmode=require&password=x") == (
        "postgresql://bob:***@h/db?sslmode=require&password=***"
    )


def test_the_right_password_connects_and_repr_hides_it(postgres_server: PostgresServer) -> None:
    postgres_server.sql(f"DROP ROLE IF EXISTS {PASSWORD_ROLE}", f"CREATE ROLE {PASSWORD_ROLE} LOGIN PASSWORD 'right'")
    name = postgres_server.create_database().rsplit("/", 1)[1]
    try:
        postgres_server.sql(f'ALTER DATABASE "{name}" OWNER TO {PASSWORD_ROLE}')
        with open_database(postgres_server.url(name, PASSWORD_ROLE, "right"), [V1]) as db:
            assert "right" not in repr(db) and "***" in repr(db)
            assert db.write("INSERT INTO notes (id) VALUES (?)", ("a",)) == 1
    finally:
        postgres_server.drop_database(name)


def test_missing_psycopg_says_which_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now raises ImportError
    with pytest.raises(ConfigError, match=r"pip install 'alignkit\[serve\]'"):
        open_database("postgresql://u:pw@127.0.0.1:1/db", [V1])


def test_fresh_databases_are_separate(postgres_server: PostgresServer, fresh_postgres_url: str) -> None:
    with open_database(fresh_postgres_url, [V1]) as db:
        db.write("INSERT INTO notes (id) VALUES (?)", ("mine",))
    other = postgres_server.create_database()
    try:
        with open_database(other, [V1]) as db:
            assert db.read("SELECT id FROM notes") == []
    finally:
        postgres_server.drop_database(other.rsplit("/", 1)[1])
