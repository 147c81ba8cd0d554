"""One gateway-like process for tests/gateway/test_limits.py: a RedisLimiter on a shared Redis.

    python tests/gateway/limits_worker.py '{"url": ..., "mode": "loop" | "hold", ...}'

It prints ``ready`` once its limiter is built and waits for a line on stdin, so that two workers start
together. ``loop``: ``tasks`` concurrent loops acquire for ``duration`` seconds, hold each lease a random
``hold`` time and release it with a random ``used`` token count; prints one JSON line with every grant
``[acquired_at, released_at, used]``. ``hold``: takes one lease, prints ``held`` and sleeps until killed.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from typing import Any

from alignkit.gateway.config import LimitConfig
from alignkit.gateway.limits import RateLimited, RedisLimiter


async def main(spec: dict[str, Any]) -> None:
    limiter = RedisLimiter(spec["url"], lease_ttl_s=spec.get("ttl", 30.0))
    key, model = LimitConfig(**spec.get("key", {})), LimitConfig(**spec.get("model", {}))
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    if spec["mode"] == "hold":
        lease = await limiter.acquire("k", key, "m", model, spec.get("tokens", 1))
        print("held", flush=True)
        await asyncio.sleep(3600)
        await lease.release(0)
    rng = random.Random(spec.get("seed", 0))
    granted: list[list[float]] = []
    refused = 0
    end = time.time() + spec["duration"]

    async def loop() -> None:
        nonlocal refused
        while time.time() < end:
            try:
                lease = await limiter.acquire("k", key, "m", model, spec.get("tokens", 1))
            except RateLimited:
                refused += 1
                await asyncio.sleep(0.002)
                continue
            acquired = time.time()
            await asyncio.sleep(rng.uniform(*spec.get("hold", [0, 0])))
            used = rng.randint(*spec.get("used", [1, 1]))
            released = time.time()
            await lease.release(used)
            granted.append([acquired, released, used])

    await asyncio.gather(*(loop() for _ in range(spec.get("tasks", 1))))
    await limiter.aclose()
    print(json.dumps({"granted": granted, "refused": refused}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
