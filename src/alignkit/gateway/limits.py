"""Rate limits per API key and per model: requests per minute, tokens per minute, concurrent requests.

    limiter = build_limiter(config)          # in-process, or Redis when config.redis is set
    lease = await limiter.acquire(key_id, key_limits, model, model_limits, tokens=estimate)
        # raises RateLimited (429; 400 RequestTooLarge; 503 LimiterUnavailable): e.status, e.code, e.headers
    response.headers.update(lease.headers)   # x-ratelimit-* as OpenAI sends them
    await lease.release(tokens_used)         # frees the concurrency slot, corrects the token estimate
    await limiter.aclose()

The algorithm (a sliding-window log, exact over any 60 s) and why are in :mod:`.limits_core`; this
module holds the in-process backend, :mod:`.limits_redis` the one shared by several gateway instances.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from alignkit.gateway.config import GatewayConfig
from alignkit.gateway.limits_core import (
    WINDOW_S,
    Lease,
    LimiterUnavailable,
    RateLimited,
    RateLimiter,
    Refusal,
    RequestTooLarge,
    Scope,
    Usage,
    format_duration,
    ratelimit_headers,
    refused,
)
from alignkit.gateway.limits_redis import RedisLimiter
from alignkit.gateway.schema import new_id

__all__ = [
    "Lease",
    "LimiterUnavailable",
    "LocalLimiter",
    "RateLimited",
    "RateLimiter",
    "RedisLimiter",
    "RequestTooLarge",
    "build_limiter",
    "format_duration",
]

log = logging.getLogger("alignkit.gateway.limits")

SWEEP_EVERY = 1000
"""Acquires between sweeps that forget scopes with nothing left in them (keys idle for a minute)."""


def build_limiter(config: GatewayConfig, *, clock: Callable[[], float] | None = None) -> RateLimiter:
    """The Redis limiter when ``config.redis`` names a server (checked now: a ``ConfigError`` if the
    ``redis`` package is missing or the server does not answer), else the in-process one."""
    if config.redis:
        return RedisLimiter(config.redis, clock=clock)
    return LocalLimiter(clock=clock or time.time)


class _Log:
    """One sliding-window log: lease id -> (admitted at, weight), oldest first, and the sum of weights."""

    __slots__ = ("entries", "total")

    def __init__(self) -> None:
        self.entries: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self.total = 0

    def prune(self, cutoff: float) -> None:
        while self.entries:
            lease = next(iter(self.entries))
            at, weight = self.entries[lease]
            if at > cutoff:
                break
            del self.entries[lease]
            self.total -= weight

    def wait(self, need: int, limit: int, now: float) -> float:
        """Seconds until ``need`` (at most ``limit``) more fits under ``limit``; 0: it fits now."""
        excess = self.total + need - limit
        for at, weight in self.entries.values():
            if excess <= 0:
                break
            excess -= weight
            if excess <= 0:
                return at + WINDOW_S - now
        return 0.0

    def add(self, lease: str, now: float, weight: int) -> None:
        if weight > 0:
            self.entries[lease] = (now, weight)
            self.total += weight

    def settle(self, lease: str, estimate: int, used: int, now: float, cutoff: float) -> None:
        """Replace the estimate by what was used: in place while the entry is in the window; once it
        has left, a charge over the estimate is logged now (a refund of a gone entry is moot)."""
        entry = self.entries.get(lease)
        if entry is not None and entry[0] > cutoff:
            self.total += used - entry[1]
            if used > 0:
                self.entries[lease] = (entry[0], used)  # keeps its place in the order
            else:
                del self.entries[lease]
        elif used > estimate:
            self.add(lease + "+", now, used - estimate)

    def usage(self, limit: int, now: float) -> Usage:
        newest = next(reversed(self.entries.values()))[0] if self.entries else now - WINDOW_S
        return Usage(limit, max(0, limit - self.total), max(0.0, newest + WINDOW_S - now))


@dataclass
class _ScopeState:
    requests: _Log = field(default_factory=_Log)
    tokens: _Log = field(default_factory=_Log)
    slots: set[str] = field(default_factory=set)

    def empty(self) -> bool:
        return not (self.requests.entries or self.tokens.entries or self.slots)


class LocalLimiter(RateLimiter):
    """Limits held in this process (one gateway instance). Each decision is one critical section under
    a lock with no ``await`` inside, so it is atomic for asyncio tasks and for threads alike."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._states: dict[tuple[str, str], _ScopeState] = {}
        self._acquires = 0
        self._abandoned: deque[tuple[str, list[Scope]]] = deque()  # leases collected unreleased

    async def _admit(self, scopes: list[Scope], tokens: int) -> Lease:
        with self._lock:
            now = self._clock()
            self._acquires += 1
            self._free_abandoned()
            if self._acquires % SWEEP_EVERY == 0:
                self._sweep(now - WINDOW_S)
            states = [self._state(s, now - WINDOW_S) for s in scopes]
            refusals = self._check(scopes, states, tokens, now)
            if refusals:
                raise refused(refusals, self._headers(scopes, states, now))
            lease_id = new_id("rl_")
            for scope, st in zip(scopes, states, strict=True):
                if scope.limits.requests_per_min is not None:
                    st.requests.add(lease_id, now, 1)
                if scope.limits.tokens_per_min is not None:
                    st.tokens.add(lease_id, now, tokens)
                if scope.limits.concurrent is not None:
                    st.slots.add(lease_id)
            headers = self._headers(scopes, states, now)
        lease = Lease(headers, partial(self._release, scopes, lease_id, tokens))
        if any(s.limits.concurrent is not None for s in scopes):
            lease.on_abandon(partial(self._abandoned.append, (lease_id, scopes)))
        return lease

    def _state(self, scope: Scope, cutoff: float) -> _ScopeState:
        key = (scope.kind, scope.id)
        st = self._states.get(key)
        if st is None:
            st = self._states[key] = _ScopeState()
        st.requests.prune(cutoff)
        st.tokens.prune(cutoff)
        return st

    def _free_abandoned(self) -> None:
        while self._abandoned:
            lease_id, scopes = self._abandoned.popleft()
            log.warning("rate limiter: a lease was dropped without release(); its concurrency slots are freed")
            for scope in scopes:
                st = self._states.get((scope.kind, scope.id))
                if st is not None:
                    st.slots.discard(lease_id)

    def _sweep(self, cutoff: float) -> None:
        for key, st in list(self._states.items()):
            st.requests.prune(cutoff)
            st.tokens.prune(cutoff)
            if st.empty():
                del self._states[key]

    @staticmethod
    def _check(scopes: list[Scope], states: list[_ScopeState], tokens: int, now: float) -> list[Refusal]:
        """Every limit that would refuse, without consuming anything."""
        refusals = []
        for scope, st in zip(scopes, states, strict=True):
            lim = scope.limits
            if lim.requests_per_min is not None:
                wait = st.requests.wait(1, lim.requests_per_min, now)
                if wait > 0:
                    refusals.append(Refusal(scope, "requests per minute", wait))
            if lim.tokens_per_min is not None:
                wait = st.tokens.wait(tokens, lim.tokens_per_min, now)
                if wait > 0:
                    refusals.append(Refusal(scope, "tokens per minute", wait))
            if lim.concurrent is not None and len(st.slots) >= lim.concurrent:
                refusals.append(Refusal(scope, "concurrent requests", 1.0))
        return refusals

    @staticmethod
    def _headers(scopes: list[Scope], states: list[_ScopeState], now: float) -> dict[str, str]:
        requests, tokens = [], []
        for scope, st in zip(scopes, states, strict=True):
            if scope.limits.requests_per_min is not None:
                requests.append(st.requests.usage(scope.limits.requests_per_min, now))
            if scope.limits.tokens_per_min is not None:
                tokens.append(st.tokens.usage(scope.limits.tokens_per_min, now))
        return ratelimit_headers(requests, tokens)

    async def _release(self, scopes: list[Scope], lease_id: str, estimate: int, used: int) -> None:
        with self._lock:  # no await inside: a cancelled request still releases
            now = self._clock()
            for scope in scopes:
                st = self._states.setdefault((scope.kind, scope.id), _ScopeState())
                st.slots.discard(lease_id)
                if scope.limits.tokens_per_min is not None:
                    st.tokens.settle(lease_id, estimate, used, now, now - WINDOW_S)
