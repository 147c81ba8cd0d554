"""The gateway's fixtures: real PostgreSQL and Redis servers (tests/gateway/services.py).

- ``postgres_server`` / ``redis_server`` (session): the running servers, started on first use and
  stopped at the end of the session; a test that lacks the program skips, naming the Debian package.
- ``postgres_url`` (session): a database shared by the session's tests; ``fresh_postgres_url``
  (per test): a new, empty database, dropped after the test, so tests never see each other's rows.
- ``redis_url`` (session) and ``fresh_redis_url`` (per test: the server flushed first).
- ``store_url`` (per test, twice): a new store on SQLite, then on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from tests.gateway.services import PostgresServer, RedisServer, Server, ServiceMissing

S = TypeVar("S", bound=Server)


def serve(kind: type[S]) -> Iterator[S]:
    """Start a server for the session (skip if its program is missing); stop it at the end."""
    try:
        server = kind()
    except ServiceMissing as e:
        pytest.skip(str(e))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    pytest.importorskip("psycopg", reason="the PostgreSQL tests need psycopg: pip install 'alignkit[serve]'")
    yield from serve(PostgresServer)


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """``postgresql://postgres@127.0.0.1:PORT/alignkit``: one database for the whole session."""
    return postgres_server.create_database("alignkit")


@pytest.fixture
def fresh_postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A new, empty database for this test only (dropped afterwards, even with connections still open)."""
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    yield from serve(RedisServer)


@pytest.fixture(scope="session")
def redis_url(redis_server: RedisServer) -> str:
    """``redis://127.0.0.1:PORT/0``, shared by the session's tests."""
    return redis_server.url


@pytest.fixture
def fresh_redis_url(redis_server: RedisServer) -> str:
    """The session's Redis, emptied for this test (tests run one at a time)."""
    assert redis_server.command("FLUSHALL") == b"+OK"
    return redis_server.url


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty store on each backend: a SQLite file, and a database on the real PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "g.sqlite")
    return str(request.getfixturevalue("fresh_postgres_url"))
