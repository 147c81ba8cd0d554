"""Rate limits per key and per model (gateway/limits*.py): both backends, the in-process one and a real
redis-server, run the same behaviour tests under a controllable clock; a random script checks that they
decide alike; two worker processes share one Redis and never exceed a limit together; a killed process's
slots free themselves; a Redis that stops fails closed."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from alignkit.core.errors import ConfigError
from alignkit.gateway.config import GatewayConfig, LimitConfig
from alignkit.gateway.limits import (
    Lease,
    LimiterUnavailable,
    LocalLimiter,
    RateLimited,
    RateLimiter,
    RedisLimiter,
    RequestTooLarge,
    build_limiter,
    format_duration,
)
from tests.gateway.services import RedisServer, ServiceMissing, free_port

pytestmark = pytest.mark.anyio
WORKER = Path(__file__).with_name("limits_worker.py")
NONE = LimitConfig()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Clock:
    """A clock the test moves by hand (whole seconds, so both backends see the very same times)."""

    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["local", "redis"])
def make_limiter(request: pytest.FixtureRequest) -> Callable[[Clock], RateLimiter]:
    """Builds the backend under test on a clock (Redis: the session's server, emptied for the test)."""
    if request.param == "local":
        return lambda c: LocalLimiter(clock=c)
    url = request.getfixturevalue("fresh_redis_url")
    return lambda c: RedisLimiter(url, clock=c, lease_ttl_s=1e6)


@pytest.fixture
async def limiter(make_limiter: Callable[[Clock], RateLimiter], clock: Clock) -> AsyncIterator[RateLimiter]:
    lim = make_limiter(clock)
    yield lim
    await lim.aclose()


async def admit(
    lim: RateLimiter,
    key: LimitConfig,
    per_model: LimitConfig = NONE,
    tokens: int = 1,
    *,
    key_id: str = "k1",
    model: str = "m",
) -> Lease:
    return await lim.acquire(key_id, key, model, per_model, tokens)


async def refusal(lim: RateLimiter, *args: Any, **kw: Any) -> RateLimited:
    """The error ``admit(lim, *args, **kw)`` raises."""
    with pytest.raises(RateLimited) as info:
        await admit(lim, *args, **kw)
    return info.value


# -- behaviour, on both backends ------------------------------------------------------------------------------


async def test_requests_per_minute_hold_and_slide(limiter: RateLimiter, clock: Clock) -> None:
    rpm = LimitConfig(requests_per_min=3)
    for _ in range(3):
        await admit(limiter, rpm)
        clock.advance(10)
    e = await refusal(limiter, rpm)  # t=30: the first request (t=0) leaves the window at t=60
    assert (e.status, e.code, e.retry_after_s) == (429, "rate_limit_exceeded", 30)
    assert e.headers["retry-after"] == "30"
    assert e.headers["x-ratelimit-remaining-requests"] == "0" and "requests per minute" in str(e)
    clock.advance(29)
    await refusal(limiter, rpm)  # t=59: still three in the last 60 s
    clock.advance(1)
    lease = await admit(limiter, rpm)  # t=60: the first has left
    assert lease.headers["x-ratelimit-remaining-requests"] == "0"
    assert (await refusal(limiter, rpm)).retry_after_s == 10  # the t=10 one leaves at t=70
    await admit(limiter, rpm, key_id="other key")  # keys do not share
    await admit(limiter, NONE, model="m")  # no limit, no refusal


async def test_tokens_reserve_the_estimate_and_release_corrects_it(limiter: RateLimiter, clock: Clock) -> None:
    tpm = LimitConfig(tokens_per_min=100)
    first = await admit(limiter, tpm, tokens=60)
    assert first.headers["x-ratelimit-remaining-tokens"] == "40"
    e = await refusal(limiter, tpm, tokens=50)
    assert e.retry_after_s == 60 and "tokens per minute" in str(e)
    await first.release(10)  # used 10 of the 60 reserved: 50 refunded
    second = await admit(limiter, tpm, tokens=50)
    assert second.headers["x-ratelimit-remaining-tokens"] == "40"
    await second.release(85)  # used more than it asked for: charged
    assert (await refusal(limiter, tpm, tokens=10)).retry_after_s == 60
    await second.release(0)  # a second release changes nothing
    clock.advance(60)  # both entries (at t=0) have left the window
    assert (await admit(limiter, tpm, tokens=100)).headers["x-ratelimit-remaining-tokens"] == "0"


async def test_a_charge_after_the_window_counts_from_the_release(limiter: RateLimiter, clock: Clock) -> None:
    tpm = LimitConfig(tokens_per_min=100)
    long_stream = await admit(limiter, tpm, tokens=40)
    clock.advance(70)  # its entry left the window while it streamed
    await long_stream.release(90)  # 50 over the estimate, charged now
    assert (await admit(limiter, tpm, tokens=50)).headers["x-ratelimit-remaining-tokens"] == "0"
    e = await refusal(limiter, tpm, tokens=1)
    assert e.retry_after_s == 60


async def test_all_limits_or_nothing_is_consumed(limiter: RateLimiter, clock: Clock) -> None:
    key = LimitConfig(requests_per_min=10, tokens_per_min=1000)
    model = LimitConfig(requests_per_min=1)
    await admit(limiter, key, model, tokens=100)
    for _ in range(3):  # the model refuses: the key's allowance must be untouched
        e = await refusal(limiter, key, model, tokens=100)
        assert "model 'm'" in str(e) and "this API key" not in str(e)
    lease = await admit(limiter, key, NONE, tokens=100, model="other")
    assert lease.headers["x-ratelimit-remaining-requests"] == "8"
    assert lease.headers["x-ratelimit-remaining-tokens"] == "800"
    # the key refuses: the model's allowance must be untouched
    tight_key, roomy_model = LimitConfig(requests_per_min=2), LimitConfig(requests_per_min=5)
    await admit(limiter, tight_key, roomy_model, key_id="k2", model="m2")
    await admit(limiter, tight_key, roomy_model, key_id="k2", model="m2")
    await refusal(limiter, tight_key, roomy_model, key_id="k2", model="m2")
    lease = await admit(limiter, NONE, roomy_model, key_id="k3", model="m2")
    assert lease.headers["x-ratelimit-remaining-requests"] == "2"


async def test_concurrency_slots_are_freed_by_release(limiter: RateLimiter, clock: Clock) -> None:
    conc = LimitConfig(concurrent=2)
    a = await admit(limiter, conc)
    b = await admit(limiter, conc)  # held (a lease that is dropped unreleased gives its slot back)
    e = await refusal(limiter, conc)
    assert e.retry_after_s == 1 and "concurrent requests for this API key (limit 2)" in str(e)
    await a.release(0)
    await a.release(0)  # idempotent: frees one slot, not two
    c = await admit(limiter, conc)
    await refusal(limiter, conc)
    await c.release(0)
    model_conc = LimitConfig(concurrent=1)  # per model, over all keys
    held = await admit(limiter, NONE, model_conc, key_id="x", model="solo")
    assert "model 'solo'" in str(await refusal(limiter, NONE, model_conc, key_id="y", model="solo"))
    await held.release(0)
    await b.release(0)


async def test_a_request_over_the_tokens_limit_is_a_400_not_a_wait(limiter: RateLimiter) -> None:
    tpm = LimitConfig(tokens_per_min=100, requests_per_min=5)
    e = await refusal(limiter, tpm, tokens=101)
    assert isinstance(e, RequestTooLarge) and e.status == 400 and "lower max_tokens" in str(e)
    lease = await admit(limiter, tpm, tokens=100)  # nothing was consumed by the refusal
    assert lease.headers["x-ratelimit-remaining-requests"] == "4"


async def test_headers_report_the_tightest_scope(limiter: RateLimiter, clock: Clock) -> None:
    key = LimitConfig(requests_per_min=100, tokens_per_min=1000)
    model = LimitConfig(requests_per_min=2)
    first = await admit(limiter, key, model, tokens=10)
    assert first.headers == {
        "x-ratelimit-limit-requests": "2",
        "x-ratelimit-remaining-requests": "1",
        "x-ratelimit-reset-requests": "1m0s",
        "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-tokens": "990",
        "x-ratelimit-reset-tokens": "1m0s",
    }
    clock.advance(45)
    second = await admit(limiter, key, model, tokens=10)
    clock.advance(1)
    e = await refusal(limiter, key, model, tokens=10)
    assert e.headers["retry-after"] == "14"  # the first (t=0) leaves at t=60; now t=46
    assert e.headers["x-ratelimit-reset-requests"] == "59s"  # the newest (t=45) leaves at t=105
    await second.release(0)
    assert (await limiter.acquire(None, NONE, "free", NONE, 5)).headers == {}


async def test_requests_without_a_key_share_one_allowance(limiter: RateLimiter) -> None:
    rpm = LimitConfig(requests_per_min=1)
    await limiter.acquire(None, rpm, "m", NONE, 1)
    with pytest.raises(RateLimited):
        await limiter.acquire(None, rpm, "m", NONE, 1)


async def test_both_backends_decide_alike_on_a_random_script(fresh_redis_url: str) -> None:
    clock = Clock()
    local, shared = LocalLimiter(clock=clock), RedisLimiter(fresh_redis_url, clock=clock, lease_ttl_s=1e6)
    rng = random.Random(13)
    keys = {
        "a": LimitConfig(requests_per_min=6, tokens_per_min=300, concurrent=3),
        "b": LimitConfig(tokens_per_min=120),
    }
    models = {"m": LimitConfig(requests_per_min=8, concurrent=4), "n": NONE}
    live: list[tuple[Lease, Lease, int]] = []
    outcomes = []
    for _ in range(400):
        clock.advance(rng.choice([0, 0, 1, 3, 7, 20]))
        if live and rng.random() < 0.4:
            a, b, estimate = live.pop(rng.randrange(len(live)))
            used = rng.choice([0, estimate // 2, estimate, estimate + 30])
            await a.release(used)
            await b.release(used)
            continue
        key, model, tokens = rng.choice("ab"), rng.choice("mn"), rng.choice([0, 10, 40, 90, 130])
        results: list[tuple[str, dict[str, str], Lease | None]] = []
        for lim in (local, shared):
            try:
                lease = await lim.acquire(key, keys[key], model, models[model], tokens)
                results.append(("ok", lease.headers, lease))
            except RateLimited as e:
                results.append((type(e).__name__, {**e.headers, "message": str(e)}, None))
        assert results[0][:2] == results[1][:2], (key, model, tokens, clock.t)
        outcomes.append(results[0][0])
        lease_local, lease_shared = results[0][2], results[1][2]
        if lease_local is not None and lease_shared is not None:
            live.append((lease_local, lease_shared, tokens))
    assert {"ok", "RateLimited", "RequestTooLarge"} <= set(outcomes)  # the script exercised every path
    await local.aclose()
    await shared.aclose()


async def test_local_limiter_is_atomic_under_concurrent_tasks() -> None:
    lim = LocalLimiter()
    rpm = LimitConfig(requests_per_min=50)

    async def attempt() -> bool:
        try:
            await lim.acquire("k", rpm, "m", NONE, 1)
            return True
        except RateLimited:
            return False

    assert sum(await asyncio.gather(*(attempt() for _ in range(300)))) == 50


def test_durations_are_written_as_openai_writes_them() -> None:
    cases = {
        0: "0s",
        0.02: "20ms",
        0.0201: "21ms",
        1: "1s",
        8.64: "8.64s",
        59.9999: "1m0s",
        360: "6m0s",
        90.5: "1m30.5s",
        3723: "1h2m3s",
    }
    assert {s: format_duration(s) for s in cases} == cases
    assert RateLimited("x", 0.2, {}).headers["retry-after"] == "1"  # whole seconds, at least 1
    assert RateLimited("x", 2.01, {}).retry_after_s == 3


# -- Redis: atomic across processes, leases that outlive nothing, failing closed ---------------------------------


def start_workers(specs: list[dict[str, Any]]) -> list[subprocess.Popen[str]]:
    """Start one worker process per spec; once every one has built its limiter, let them all go."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), json.dumps(s)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for s in specs
    ]
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    return procs


def run_workers(specs: list[dict[str, Any]]) -> list[list[float]]:
    granted: list[list[float]] = []
    for p in start_workers(specs):
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0, out
        granted += json.loads(out.strip().splitlines()[-1])["granted"]
    return granted


def most_at_once(intervals: list[list[float]]) -> int:
    events = sorted([(a, 1) for a, _, _ in intervals] + [(b, -1) for _, b, _ in intervals], key=lambda e: (e[0], e[1]))
    now = peak = 0
    for _, step in events:
        now += step
        peak = max(peak, now)
    return peak


def test_two_processes_never_exceed_a_requests_limit_together(fresh_redis_url: str) -> None:
    spec = {"url": fresh_redis_url, "mode": "loop", "key": {"requests_per_min": 50}, "tasks": 4, "duration": 1.5}
    granted = run_workers([{**spec, "seed": 1}, {**spec, "seed": 2}])
    assert len(granted) == 50  # both kept asking for 1.5 s: exactly the limit, never more


def test_two_processes_share_tokens_and_concurrency(fresh_redis_url: str) -> None:
    spec = {
        "url": fresh_redis_url,
        "mode": "loop",
        "key": {"tokens_per_min": 600},
        "model": {"concurrent": 3},
        "tokens": 40,
        "used": [5, 40],
        "hold": [0.002, 0.02],
        "tasks": 4,
        "duration": 2.0,
    }
    granted = run_workers([{**spec, "seed": 1}, {**spec, "seed": 2}])
    assert sum(g[2] for g in granted) <= 600  # what was used never went over the minute's tokens
    assert len(granted) > 600 // 40  # refunds of unused estimates were admitted again
    assert most_at_once(granted) <= 3


def test_slots_of_a_killed_process_free_themselves_within_the_lease_ttl(fresh_redis_url: str) -> None:
    conc = LimitConfig(concurrent=1)
    (holder,) = start_workers([{"url": fresh_redis_url, "mode": "hold", "key": {"concurrent": 1}, "ttl": 1.5}])
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"

        async def probe(wait_s: float) -> float | None:
            lim = RedisLimiter(fresh_redis_url)
            deadline, start = time.monotonic() + wait_s, time.monotonic()
            try:
                while time.monotonic() < deadline:
                    try:
                        await lim.acquire("k", conc, "m", NONE, 1)
                        return time.monotonic() - start
                    except RateLimited:
                        await asyncio.sleep(0.05)
                return None
            finally:
                await lim.aclose()

        assert asyncio.run(probe(3.0)) is None  # alive past its 1.5 s TTL: renewed, still held
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        freed_after = asyncio.run(probe(5.0))
        assert freed_after is not None and freed_after <= 2.5  # the TTL, not the default 30 s
    finally:
        holder.kill()
        holder.wait()


async def test_a_cancelled_release_still_frees_the_slot(fresh_redis_url: str) -> None:
    lim = RedisLimiter(fresh_redis_url)
    conc = LimitConfig(concurrent=1)
    lease = await lim.acquire("k", conc, "m", NONE, 1)
    task = asyncio.ensure_future(lease.release(1))
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.sleep(0.2)
    await lim.acquire("k", conc, "m", NONE, 1)
    await lim.aclose()


async def test_a_lease_dropped_without_release_gives_its_slot_back(fresh_redis_url: str) -> None:
    conc = LimitConfig(concurrent=1)
    local = LocalLimiter()
    await local.acquire("k", conc, "m", NONE, 1)  # the lease is dropped at once, never released
    gc.collect()
    await local.acquire("k", conc, "m", NONE, 1)  # freed, not leaked for the life of the process
    shared = RedisLimiter(fresh_redis_url, lease_ttl_s=0.5)
    await shared.acquire("k", conc, "m", NONE, 1)
    gc.collect()
    await shared.renew()  # stops renewing it; Redis lets it expire
    await asyncio.sleep(0.6)
    await shared.acquire("k", conc, "m", NONE, 1)
    await shared.aclose()


async def test_keys_expire_and_a_lost_sum_is_recounted(fresh_redis_url: str, redis_server: RedisServer) -> None:
    clock = Clock()
    lim = RedisLimiter(fresh_redis_url, clock=clock, lease_ttl_s=5)
    tpm = LimitConfig(tokens_per_min=100, requests_per_min=10, concurrent=5)
    await lim.acquire("k", tpm, "m", NONE, 70)
    for suffix in ("req", "tok", "toksum", "slots"):
        ttl = int(redis_server.command("PTTL", f"alignkit:rl:key:k:{suffix}")[1:])
        assert 0 < ttl <= 61_000, suffix
    redis_server.command("DEL", "alignkit:rl:key:k:toksum")  # evicted, say
    with pytest.raises(RateLimited):
        await lim.acquire("k", tpm, "m", NONE, 40)  # the 70 are still counted
    await lim.aclose()


async def test_redis_that_stops_fails_closed_quickly() -> None:
    try:
        server = RedisServer()
    except ServiceMissing as e:
        pytest.skip(str(e))
    try:
        lim = build_limiter(
            GatewayConfig.model_validate({"redis": server.url, "models": [{"name": "m", "model": "mock/echo"}]})
        )
        rpm = LimitConfig(requests_per_min=100, concurrent=10)
        lease = await lim.acquire("k", rpm, "m", NONE, 1)
        server.stop()
        started = time.monotonic()
        with pytest.raises(LimiterUnavailable) as info:
            await lim.acquire("k", rpm, "m", NONE, 1)
        assert time.monotonic() - started < 3
        down = info.value
        assert (down.status, down.code, down.headers) == (503, "rate_limiter_unavailable", {"retry-after": "5"})
        assert "fail closed" in str(down) and "redis-server is running" in str(down) and server.url in str(down)
        await lease.release(1)  # the response already went out: logged, not raised
        await lim.aclose()
    finally:
        server.stop()


def test_an_unreachable_redis_is_a_config_error_at_startup_not_a_hang() -> None:
    port = free_port()
    config = GatewayConfig.model_validate(
        {"redis": f"redis://u:s3cret@127.0.0.1:{port}/0", "models": [{"name": "m", "model": "mock/echo"}]}
    )
    with pytest.raises(ConfigError, match=r"cannot reach Redis at redis://u:\*\*\*@127\.0\.0\.1") as info:
        build_limiter(config)
    assert "s3cret" not in str(info.value) and "remove redis:" in str(info.value)
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        started = time.monotonic()
        with pytest.raises(ConfigError, match="TimeoutError"):
            RedisLimiter(f"redis://127.0.0.1:{silent.getsockname()[1]}/0", timeout_s=0.3)
        assert time.monotonic() - started < 2
    with pytest.raises(ConfigError, match="not a Redis URL"):
        RedisLimiter("http://127.0.0.1:1/")


def test_build_limiter_picks_the_backend(redis_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    base = {"models": [{"name": "m", "model": "mock/echo"}]}
    assert isinstance(build_limiter(GatewayConfig.model_validate(base)), LocalLimiter)
    assert isinstance(build_limiter(GatewayConfig.model_validate({**base, "redis": redis_url})), RedisLimiter)
    monkeypatch.setitem(sys.modules, "redis", None)  # as if the package were not installed
    with pytest.raises(ConfigError, match=r"pip install 'alignkit\[serve\]'"):
        build_limiter(GatewayConfig.model_validate({**base, "redis": redis_url}))
