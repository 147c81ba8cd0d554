"""Scaling out as users do: two real ``alignkit serve`` processes sharing one PostgreSQL store and one
Redis never let a key exceed its limit together, and both serve the same keys and records."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from alignkit.gateway.db import open_database
from alignkit.gateway.keys import KeyStore
from alignkit.gateway.schema import MIGRATIONS
from tests.gateway.test_kill import start

LIMIT = 25


def test_two_gateways_on_one_redis_and_postgres_share_limits_keys_and_records(
    tmp_path: Path, fresh_postgres_url: str, fresh_redis_url: str
) -> None:
    db = open_database(fresh_postgres_url, MIGRATIONS)
    _, token = KeyStore(db).create("alice", ["user"])
    shared = {
        "auth": "keys",
        "database": fresh_postgres_url,
        "redis": fresh_redis_url,
        "limits": {"requests_per_min": LIMIT, "concurrent": 100},
    }
    gateways = [start(tmp_path, name=f"g{i}", **shared) for i in range(2)]
    try:

        async def fire() -> list[int]:
            headers = {"authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(timeout=30, headers=headers) as client:
                body = {"model": "m", "messages": [{"role": "user", "content": "What is a good name for a cat?"}]}
                calls = [client.post(f"{gateways[i % 2][1]}/v1/chat/completions", json=body) for i in range(3 * LIMIT)]
                return [r.status_code for r in await asyncio.gather(*calls)]

        statuses = asyncio.run(fire())
        assert statuses.count(200) == LIMIT and statuses.count(429) == 2 * LIMIT
        assert db.read_one("SELECT COUNT(*) FROM exchanges")[0] == LIMIT
    finally:
        for proc, _, _ in gateways:
            proc.kill()
            proc.wait(10)
        db.close()
