"""Rate limits in Redis, shared by every gateway instance that names the same server.

The algorithm is the one in :mod:`.limits_core` (a sliding-window log). Each operation is one Lua
script (:mod:`.limits_lua`, which also shows the keys), so a decision over a key's and a model's
limits is atomic across instances.

Every key expires a little after its newest entry would leave the window, so idle keys and models cost
nothing. A concurrency slot expires ``lease_ttl_s`` after it was taken unless its process renews it
(one batched script every ``lease_ttl_s / 3``); a gateway process that dies stops renewing, and its
slots free themselves within ``lease_ttl_s``. Times come from the Redis server's clock unless a
``clock`` is given, so instances whose clocks disagree still share one window.

Use one Redis server (or a primary with replicas), not Redis Cluster: a script touches a key's and a
model's keys together. Keep it from evicting these keys (they carry expiries, so ``volatile-*`` policies
pick them): ``maxmemory-policy noeviction``, or memory well below ``maxmemory``.

If Redis stops answering, ``acquire`` raises :class:`~.limits_core.LimiterUnavailable` (503): the
limits fail closed. A ``release`` that cannot reach Redis is logged and dropped: its slot expires on its
own and its token correction is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from alignkit.core.errors import ConfigError
from alignkit.gateway.limits_core import (
    UNAVAILABLE_RETRY_S,
    WINDOW_S,
    Lease,
    LimiterUnavailable,
    RateLimiter,
    Refusal,
    Scope,
    Usage,
    ratelimit_headers,
    refused,
)
from alignkit.gateway.limits_lua import ACQUIRE_LUA, RELEASE_LUA, RENEW_LUA
from alignkit.gateway.schema import new_id

log = logging.getLogger("alignkit.gateway.limits")

RENEW_BATCH = 500
"""Slots renewed per script call (a script's argument list stays small)."""


def safe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "(an unparseable redis URL)"


class RedisLimiter(RateLimiter):
    """Limits shared by every gateway instance on one Redis. ``clock`` None: the server's clock (best
    across hosts); tests pass one. ``timeout_s`` bounds every connect and reply, so a dead Redis is a
    quick 503, never a hang; the server is checked once, here, and a ``ConfigError`` says how to fix it."""

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], float] | None = None,
        lease_ttl_s: float = 30.0,
        timeout_s: float = 2.0,
        prefix: str = "alignkit:rl:",
    ) -> None:
        try:
            import redis
            import redis.asyncio
            from redis.backoff import NoBackoff
        except ImportError:
            raise ConfigError(
                "the gateway config sets redis:, which needs the redis package: pip install 'alignkit[serve]' "
                "(or remove redis: to keep the limits in this process)"
            ) from None
        if lease_ttl_s <= 0 or timeout_s <= 0:
            raise ConfigError("RedisLimiter: lease_ttl_s and timeout_s must be positive")
        self.url, self._clock, self._ttl, self._prefix = safe_url(url), clock, lease_ttl_s, prefix
        self._errors: tuple[type[BaseException], ...] = (redis.exceptions.RedisError, OSError)
        _check_server(redis, url, self.url, timeout_s, self._errors)
        # one retry of a failed connection (Redis closes idle ones), none of a timed-out reply
        retry = redis.asyncio.retry.Retry(NoBackoff(), 1)
        opts: dict[str, Any] = {"socket_connect_timeout": timeout_s, "socket_timeout": timeout_s, "retry": retry}
        self._redis = redis.asyncio.Redis.from_url(url, **opts)
        self._acquire_lua = self._redis.register_script(ACQUIRE_LUA)
        self._release_lua = self._redis.register_script(RELEASE_LUA)
        self._renew_lua = self._redis.register_script(RENEW_LUA)
        self._live: dict[str, list[str]] = {}  # lease id -> the slot sets it holds a slot in
        self._renewer: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._abandoned: deque[str] = deque()  # leases collected unreleased: stop renewing, let expire
        self._down = False

    def _now(self) -> str:
        return "-1" if self._clock is None else f"{self._clock():.6f}"

    def _key(self, scope: Scope, suffix: str) -> str:
        return f"{self._prefix}{scope.kind}:{scope.id}:{suffix}"

    async def _admit(self, scopes: list[Scope], tokens: int) -> Lease:
        lease_id = new_id("rl_")
        keys = [self._key(s, k) for s in scopes for k in ("req", "tok", "toksum", "slots")]
        args: list[str | int | float] = [self._now(), lease_id, tokens, WINDOW_S, self._ttl]
        for s in scopes:
            args += [s.limits.requests_per_min or 0, s.limits.tokens_per_min or 0, s.limits.concurrent or 0]
        result = await self._call(self._acquire_lua, keys, args)
        admitted, wait_ms, codes = int(result[0]), int(result[1]), _text(result[2])
        headers = _headers(scopes, [int(x) for x in result[3:]])
        if not admitted:
            what = {"r": "requests per minute", "t": "tokens per minute", "c": "concurrent requests"}
            refusals = [Refusal(scopes[int(c[:-1])], what[c[-1]], wait_ms / 1000) for c in codes.split(",") if c]
            raise refused(refusals, headers)
        slot_sets = [self._key(s, "slots") for s in scopes if s.limits.concurrent is not None]
        if slot_sets:
            self._live[lease_id] = slot_sets
            self._ensure_renewer()
        lease = Lease(headers, partial(self._release, scopes, lease_id, tokens))
        return lease.on_abandon(partial(self._abandoned.append, lease_id)) if slot_sets else lease

    async def _call(self, script: Any, keys: list[str], args: Sequence[str | int | float]) -> Any:
        try:
            result = await script(keys=keys, args=list(args))
        except self._errors as e:
            if not self._down:
                log.error(
                    "rate limiter: Redis at %s failed (%s); refusing requests until it answers",
                    self.url,
                    type(e).__name__,
                )
            self._down = True
            raise LimiterUnavailable(
                f"rate limits cannot be checked: Redis at {self.url} failed ({type(e).__name__}); requests are "
                "refused until it works again (the limits fail closed). Check that redis-server is running, "
                "reachable and not out of memory",
                UNAVAILABLE_RETRY_S,
                {},
            ) from None
        if self._down:
            log.warning("rate limiter: Redis at %s answers again", self.url)
            self._down = False
        return result

    async def _release(self, scopes: list[Scope], lease_id: str, estimate: int, used: int) -> None:
        self._live.pop(lease_id, None)  # before any await: a cancelled release stops renewing at once
        task = asyncio.ensure_future(self._settle(scopes, lease_id, estimate, used))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        await asyncio.shield(task)  # a cancelled request still frees its slot in Redis

    async def _settle(self, scopes: list[Scope], lease_id: str, estimate: int, used: int) -> None:
        keys = [self._key(s, k) for s in scopes for k in ("tok", "toksum", "slots")]
        args: list[str | int | float] = [self._now(), lease_id, estimate, used, used - estimate, WINDOW_S, self._ttl]
        args += ["1" if s.limits.tokens_per_min is not None else "0" for s in scopes]
        with contextlib.suppress(LimiterUnavailable):  # logged; the slot expires within lease_ttl_s
            await self._call(self._release_lua, keys, args)

    def _ensure_renewer(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.get_running_loop().create_task(self._renew_forever())

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self._ttl / 3)
            await self.renew()

    async def renew(self) -> None:
        """Push the expiry of every slot this process holds ``lease_ttl_s`` ahead (the renewer does it
        every ``lease_ttl_s / 3``)."""
        while self._abandoned:
            log.warning("rate limiter: a lease was dropped without release(); its slots expire in %g s", self._ttl)
            self._live.pop(self._abandoned.popleft(), None)
        pairs = [(key, lease) for lease, sets in list(self._live.items()) for key in sets]
        for start in range(0, len(pairs), RENEW_BATCH):
            batch = pairs[start : start + RENEW_BATCH]
            try:
                lost = await self._call(
                    self._renew_lua, [k for k, _ in batch], [self._now(), self._ttl, *(lz for _, lz in batch)]
                )
            except LimiterUnavailable:
                return
            if int(lost):
                log.warning("rate limiter: %d concurrency slots expired before their requests ended", int(lost))

    async def aclose(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            await asyncio.gather(self._renewer, return_exceptions=True)
            self._renewer = None
        if self._pending:
            await asyncio.wait(list(self._pending), timeout=5)
        await self._redis.aclose()


def _check_server(redis: Any, url: str, shown: str, timeout_s: float, errors: tuple[type[BaseException], ...]) -> None:
    """Ping the server once at startup: a clear ``ConfigError`` now rather than 503s later."""
    started = time.monotonic()
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s, retry=None)
    except ValueError as e:
        raise ConfigError(f"redis: {shown} is not a Redis URL ({e}); write redis://host:6379/0") from None
    try:
        client.ping()
    except errors as e:
        waited = time.monotonic() - started
        raise ConfigError(
            f"redis: cannot reach Redis at {shown} ({type(e).__name__} after {waited:.1f} s): start redis-server "
            "there, fix the redis: URL in the gateway config, or remove redis: to keep the limits in this process"
        ) from None
    finally:
        client.close()


def _headers(scopes: list[Scope], numbers: list[int]) -> dict[str, str]:
    """The x-ratelimit-* headers from the script's per-scope numbers (remaining and reset in ms, for
    requests then tokens)."""
    requests, tokens = [], []
    for i, s in enumerate(scopes):
        rem_req, reset_req, rem_tok, reset_tok = numbers[4 * i : 4 * i + 4]
        if s.limits.requests_per_min is not None:
            requests.append(Usage(s.limits.requests_per_min, max(0, rem_req), reset_req / 1000))
        if s.limits.tokens_per_min is not None:
            tokens.append(Usage(s.limits.tokens_per_min, max(0, rem_tok), reset_tok / 1000))
    return ratelimit_headers(requests, tokens)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
