"""What both rate-limit backends share: the algorithm's contract, errors, leases and OpenAI's headers.

**Algorithm: a sliding-window log.** Each scope (one API key, or one model over all keys) keeps a log
of what it admitted in the last :data:`WINDOW_S` seconds: one entry per request, weighted 1 in the
requests log and by the request's tokens in the tokens log, oldest first, with their running sum. A
request is admitted when, for every applicable limit, the sum of the entries younger than 60 s plus the
request's own weight stays within the limit; entries leave the log when they turn 60 s old.

Why this one rather than a token bucket (GCRA) or a fixed/sliding window counter:

- it is exact: ``requests_per_min: 60`` means at most 60 requests in *any* 60 seconds, across every
  gateway instance. A token bucket holding one minute's allowance lets up to twice the limit through in
  a minute (a full bucket, then the refill); a window counter is approximate at window edges.
- token reservations are entries with a weight, so correcting an estimate once the answer is known is
  changing one entry's weight (a refund or a charge), in place, at the time the request was admitted.
- ``Retry-After`` is exact: the time until enough of the oldest entries leave the window.

Its cost is memory: one entry per admitted request per limit, so at most ``requests_per_min`` entries in
a requests log and at most ``tokens_per_min`` in a tokens log (every entry weighs at least one token;
entries refunded to zero are removed). Pruning pops from the old end, so it is amortized O(1) per entry.

**Concurrency** is a set of lease ids per scope; a lease frees its slot on :meth:`Lease.release`. In
Redis each slot also carries an expiry that the owning process renews while the request runs, so the
slots of a gateway process that died free themselves within the lease TTL.

**Atomicity**: a request must pass every applicable limit of its key and its model; if any refuses,
nothing is consumed. In process that is one critical section; in Redis one Lua script per operation.

**Failing closed**: a limiter that cannot measure (Redis unreachable) refuses with
:class:`LimiterUnavailable` (HTTP 503 and ``Retry-After``) instead of letting traffic through unlimited.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from alignkit.gateway.config import LimitConfig

WINDOW_S = 60.0
"""The window every ``*_per_min`` limit counts over."""
UNAVAILABLE_RETRY_S = 5.0
"""``Retry-After`` while the limiter cannot measure: long enough not to hammer a restarting Redis."""
ANONYMOUS = "anonymous"
"""The key scope of requests without an API key (``auth: none``): they share one key's limits."""


class RateLimited(Exception):
    """A limit refuses the request: HTTP :attr:`status` with :attr:`headers` (``Retry-After`` and the
    ``x-ratelimit-*`` ones). The request path answers ``ApiError(e.status, str(e), code=e.code,
    headers=e.headers)``."""

    status = 429
    code = "rate_limit_exceeded"

    def __init__(self, message: str, retry_after_s: float, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, math.ceil(retry_after_s))
        self.headers = {"retry-after": str(self.retry_after_s), **headers}


class RequestTooLarge(RateLimited):
    """The request alone needs more tokens than a tokens-per-minute limit allows: waiting cannot help,
    so it is a 400 (clients do not retry it), not a 429."""

    status = 400
    code = "tokens_over_limit"


class LimiterUnavailable(RateLimited):
    """The limiter cannot measure (its Redis is unreachable): refused with 503 until it can (fail closed)."""

    status = 503
    code = "rate_limiter_unavailable"


@dataclass(frozen=True)
class Scope:
    """One set of limits: an API key's (``kind="key"``) or a model's over all keys (``kind="model"``)."""

    kind: str
    id: str
    limits: LimitConfig

    @property
    def label(self) -> str:
        return "this API key" if self.kind == "key" else f"model {self.id!r}"


def scopes_for(key_id: str | None, key_limits: LimitConfig, model: str, model_limits: LimitConfig) -> list[Scope]:
    """The scopes a request counts against, leaving out those without any limit."""
    candidates = [Scope("key", key_id or ANONYMOUS, key_limits), Scope("model", model, model_limits)]
    return [
        s
        for s in candidates
        if any(v is not None for v in (s.limits.requests_per_min, s.limits.tokens_per_min, s.limits.concurrent))
    ]


@dataclass(frozen=True)
class Usage:
    """One limit of one scope after a decision: what OpenAI's three headers of a kind report."""

    limit: int
    remaining: int
    reset_s: float
    """Seconds until the window holds nothing again (the limit is back to its initial state)."""


@dataclass(frozen=True)
class Refusal:
    """Why a limit refused: which scope and limit, and how long until it would admit the request."""

    scope: Scope
    what: str  # "requests per minute", "tokens per minute", "concurrent requests"
    wait_s: float


def ratelimit_headers(requests: list[Usage], tokens: list[Usage]) -> dict[str, str]:
    """``x-ratelimit-{limit,remaining,reset}-{requests,tokens}`` as OpenAI sends them, for the tightest
    scope of each kind (the fewest remaining); a kind no scope limits is left out."""
    headers: dict[str, str] = {}
    for kind, usages in (("requests", requests), ("tokens", tokens)):
        if usages:
            u = min(usages, key=lambda x: (x.remaining, -x.reset_s))
            headers[f"x-ratelimit-limit-{kind}"] = str(u.limit)
            headers[f"x-ratelimit-remaining-{kind}"] = str(u.remaining)
            headers[f"x-ratelimit-reset-{kind}"] = format_duration(u.reset_s)
    return headers


def format_duration(seconds: float) -> str:
    """A duration the way OpenAI's reset headers write it (Go's style): ``20ms``, ``1s``, ``8.64s``,
    ``6m0s``, ``1h2m3s``."""
    ms = max(0, math.ceil(seconds * 1000 - 1e-6))
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def refused(refusals: list[Refusal], headers: dict[str, str]) -> RateLimited:
    """The error for a refused request: every limit that refused, and the longest wait among them."""
    wait = max(r.wait_s for r in refusals)
    parts = "; ".join(f"{r.what} for {r.scope.label} (limit {_limit_of(r)})" for r in refusals)
    return RateLimited(f"rate limit reached: {parts}; retry after {max(1, math.ceil(wait))} s", wait, headers)


def check_fits(scopes: list[Scope], tokens: int) -> None:
    """Raise :class:`RequestTooLarge` when the request alone is over a tokens-per-minute limit."""
    for scope in scopes:
        limit = scope.limits.tokens_per_min
        if limit is not None and tokens > limit:
            raise RequestTooLarge(
                f"this request needs {tokens:,} tokens (prompt plus max_tokens) but {scope.label} allows "
                f"{limit:,} tokens per minute; lower max_tokens or shorten the prompt",
                WINDOW_S,
                {},
            )


def _limit_of(r: Refusal) -> int | None:
    lim = r.scope.limits
    return {"requests per minute": lim.requests_per_min, "tokens per minute": lim.tokens_per_min}.get(
        r.what, lim.concurrent
    )


@dataclass
class Lease:
    """An admitted request: put :attr:`headers` on the response, and call :meth:`release` once it is
    done (in a ``finally``), with the tokens it really used (prompt plus completion)."""

    headers: dict[str, str] = field(default_factory=dict)
    on_release: Callable[[int], Awaitable[None]] | None = field(default=None, repr=False)
    released: bool = False
    _finalizer: weakref.finalize[Any, Any] | None = field(default=None, repr=False)

    def on_abandon(self, free_slots: Callable[[], None]) -> Lease:
        """A safety net for slots: if this lease is garbage-collected without :meth:`release` (a request
        path that lost it, say a cancelled stream), ``free_slots`` runs. It must not refer to the lease."""
        self._finalizer = weakref.finalize(self, free_slots)
        self._finalizer.atexit = False
        return self

    async def release(self, tokens_used: int) -> None:
        """Free the concurrency slot and replace the token estimate by ``tokens_used`` (a refund when it
        is smaller, a charge when larger). A second call does nothing."""
        if self.released:
            return
        self.released = True
        if self._finalizer is not None:
            self._finalizer.detach()
        if self.on_release is not None:
            await self.on_release(max(0, int(tokens_used)))


class RateLimiter:
    """The limiter the request path holds; :func:`~alignkit.gateway.limits.build_limiter` picks one."""

    async def acquire(
        self, key_id: str | None, key_limits: LimitConfig, model: str, model_limits: LimitConfig, tokens: int
    ) -> Lease:
        """Admit one request of an estimated ``tokens`` (prompt plus requested max tokens) against the
        key's and the model's limits, all or nothing; raise :class:`RateLimited` when any refuses."""
        scopes = scopes_for(key_id, key_limits, model, model_limits)
        if not scopes:
            return Lease()
        tokens = max(0, int(tokens))
        check_fits(scopes, tokens)
        return await self._admit(scopes, tokens)

    async def _admit(self, scopes: list[Scope], tokens: int) -> Lease:
        """The backend's decision over ``scopes`` (each with at least one limit; ``tokens`` fits them)."""
        raise NotImplementedError

    async def aclose(self) -> None:
        return None
