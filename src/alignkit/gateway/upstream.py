"""Upstream models: one per route, each behind a timeout, retries and a circuit breaker, and its guard.

A route's model string becomes a model here, at the edge (:func:`alignkit.providers.get_model`); the
guard comes from the route's spec (``default``, a file, or none) with escalations sent to the review
queue. :class:`Resilient` wraps the model so that the guard, which calls ``agenerate_batch``, gets the
timeout, the retries and the breaker without knowing about them:

- a call that takes longer than ``timeout_s`` is abandoned: :class:`UpstreamTimeout` (HTTP 504);
- a failed call (connection error, 5xx, a provider error) is retried ``retries`` times with a short
  backoff, then :class:`UpstreamFailed` (HTTP 502);
- after ``breaker.failures`` failed calls in a row the breaker opens: calls fail at once with
  :class:`CircuitOpen` (HTTP 503 with ``Retry-After``) for ``breaker.reset_s``; then one trial call is let
  through (half-open), and its result closes or reopens the breaker.

A dead upstream therefore costs a client at most ``timeout_s`` (and nothing while the breaker is open),
never a hang.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from alignkit.core.completion import Completion
from alignkit.core.config import GenerateConfig
from alignkit.core.errors import AlignkitError, ProviderError
from alignkit.core.messages import Message
from alignkit.core.model import Model, ModelBase
from alignkit.core.scrub import scrub
from alignkit.gateway.batching import Coalescer
from alignkit.gateway.config import BreakerConfig, GatewayConfig, RouteConfig
from alignkit.gateway.events import BreakerChanged, Events, UpstreamFailure
from alignkit.gateway.redact import REDACTOR
from alignkit.gateway.reviews import ReviewQueue
from alignkit.guard import Guard
from alignkit.guard.guard import EscalationEvent
from alignkit.providers import get_model


class UpstreamError(AlignkitError):
    status = 502
    kind = "error"
    retry_after_s: float | None = None


class UpstreamTimeout(UpstreamError):
    status = 504
    kind = "timeout"


class UpstreamFailed(UpstreamError):
    status = 502
    kind = "error"


class CircuitOpen(UpstreamError):
    status = 503
    kind = "circuit_open"

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


@dataclass
class RequestContext:
    """What the guard's escalation callback and the record need to know about the request it is part of."""

    request_id: str
    model: str
    key_id: str | None
    raw: list[Message]  # the client's messages, as sent
    response_id: str | None = None
    review_ids: list[str] = field(default_factory=list)
    upstream_s: float = 0.0
    first_call: float | None = None
    last_return: float | None = None
    _redacted: list[dict[str, Any]] | None = None

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The client's messages with PII and secrets redacted (worked out once, when first needed)."""
        if self._redacted is None:
            self._redacted = REDACTOR.get().messages(self.raw)
        return self._redacted


CURRENT: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "alignkit_gateway_request", default=None
)


class Breaker:
    """closed -> (failures in a row) -> open -> (reset_s) -> half_open -> closed or open."""

    def __init__(
        self, config: BreakerConfig, on_change: Callable[[str], None], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config, self.on_change, self.clock = config, on_change, clock
        self.state, self.failures, self.opened_at, self.trial = "closed", 0, 0.0, False

    def before(self) -> None:
        """Raise :class:`CircuitOpen` unless a call may go through now."""
        if self.state == "open":
            left = self.opened_at + self.config.reset_s - self.clock()
            if left > 0:
                raise CircuitOpen(f"the upstream is failing; retry in {left:.0f}s", left)
            self._set("half_open")
        if self.state == "half_open":
            if self.trial:  # one trial at a time
                raise CircuitOpen("the upstream is failing; a trial request is in progress", 1.0)
            self.trial = True

    def success(self) -> None:
        self.failures, self.trial = 0, False
        if self.state != "closed":
            self._set("closed")

    def failure(self) -> None:
        self.failures += 1
        self.trial = False
        if self.state == "half_open" or self.failures >= self.config.failures:
            self.opened_at = self.clock()
            if self.state != "open":
                self._set("open")

    def _set(self, state: str) -> None:
        self.state = state
        self.on_change(state)


class Resilient(ModelBase):
    """``model`` behind a timeout, retries and a breaker; reports failures as events."""

    provider = "gateway"

    def __init__(
        self, model: Model, route: RouteConfig, events: Events, sleep: Callable[[float], Any] = asyncio.sleep
    ) -> None:
        super().__init__(route.name, upstream=model.info.spec)
        self.model, self.route, self.events, self.sleep = model, route, events, sleep
        self.breaker = Breaker(route.breaker, lambda s: events.emit(BreakerChanged(route.name, s)))
        self.native_batching = getattr(model, "native_batching", False)
        batch = getattr(model, "batch_size", 8)
        self.coalescer = (
            Coalescer(model, max_batch=batch if isinstance(batch, int) else 8) if self.native_batching else None
        )

    async def _generate_batch(self, prompts: list[tuple[Message, ...]], config: GenerateConfig) -> list[Completion]:
        ctx = CURRENT.get()
        last: UpstreamError | None = None
        detail = ""
        for attempt in range(self.route.retries + 1):
            self.breaker.before()
            start = time.perf_counter()
            if ctx is not None and ctx.first_call is None:
                ctx.first_call = start
            try:
                async with asyncio.timeout(self.route.timeout_s):
                    out = await self._call(list(prompts), config)
            except TimeoutError:
                last = UpstreamTimeout(f"the upstream model did not answer within {self.route.timeout_s:g}s")
                detail = str(last)
            except (ProviderError, OSError) as e:  # the client learns the kind; the (scrubbed) detail goes to the log
                last, detail = UpstreamFailed(f"the upstream model failed ({type(e).__name__})"), scrub(str(e))[:300]
            except Exception as e:  # a provider bug is an upstream failure too, never a crash of the request path
                last, detail = UpstreamFailed(f"the upstream model failed ({type(e).__name__})"), scrub(str(e))[:300]
            except asyncio.CancelledError:  # the client went away: no verdict on the upstream
                self.breaker.trial = False
                raise
            else:
                self.breaker.success()
                if ctx is not None:
                    ctx.last_return = time.perf_counter()
                    ctx.upstream_s += ctx.last_return - start
                return out
            self.breaker.failure()
            if ctx is not None:
                ctx.upstream_s += time.perf_counter() - start
            if self.breaker.state == "open" or attempt == self.route.retries:
                break
            await self.sleep(min(2.0, 0.1 * 2**attempt))
        assert last is not None
        self.events.emit(UpstreamFailure(ctx.request_id if ctx else "", self.route.name, last.kind, detail))
        raise last

    async def _call(self, prompts: list[tuple[Message, ...]], config: GenerateConfig) -> list[Completion]:
        """One call to the model; a local model's calls go through the coalescer, in batches."""
        if self.coalescer is None:
            return await self.model.agenerate_batch(prompts, config, on_error="raise")
        out = await self.coalescer.generate(prompts, config)
        failed = next((c for c in out if not c.ok), None)
        if failed is not None:
            raise failed.exception or ProviderError(failed.error or "the model failed")
        return out

    @property
    def streams(self) -> bool:
        """Whether the upstream streams its answers (an OpenAI-compatible server does)."""
        return callable(getattr(self.model, "astream", None))

    async def astream(self, messages: list[Message], config: GenerateConfig) -> AsyncIterator[str]:
        """The upstream's own stream, behind the breaker, with ``timeout_s`` for the first piece and for
        each next one. Not retried once a piece has been sent on (the client may have seen it); a failure
        before the first piece is retried like a call."""
        ctx = CURRENT.get()
        for attempt in range(self.route.retries + 1):
            self.breaker.before()
            start, sent = time.perf_counter(), False
            pieces = self.model.astream(messages, config)  # type: ignore[attr-defined]
            try:
                while True:
                    async with asyncio.timeout(self.route.timeout_s):
                        piece = await anext(pieces, None)
                    if piece is None:
                        break
                    sent = True
                    yield piece
            except TimeoutError:
                error: UpstreamError = UpstreamTimeout(f"the upstream model sent nothing for {self.route.timeout_s:g}s")
                detail = str(error)
            except asyncio.CancelledError:
                self.breaker.trial = False
                raise
            except Exception as e:  # any provider failure: the client learns its kind, the log its detail
                error, detail = UpstreamFailed(f"the upstream model failed ({type(e).__name__})"), scrub(str(e))[:300]
            else:
                self.breaker.success()
                if ctx is not None:
                    ctx.upstream_s += time.perf_counter() - start
                return
            finally:
                await pieces.aclose()
            self.breaker.failure()
            if sent or self.breaker.state == "open" or attempt == self.route.retries:
                self.events.emit(UpstreamFailure(ctx.request_id if ctx else "", self.route.name, error.kind, detail))
                raise error
            await self.sleep(min(2.0, 0.1 * 2**attempt))


@dataclass
class Upstream:
    route: RouteConfig
    model: Resilient
    guard: Guard | None


class Upstreams:
    """Every route's upstream, built at start (a model that cannot be built stops the gateway with a
    clear error instead of failing its first user)."""

    def __init__(
        self,
        config: GatewayConfig,
        events: Events,
        *,
        models: Mapping[str, Model] | None = None,
        escalate: ReviewQueue,
    ) -> None:
        self.escalations = escalate
        self.given = set(models or {})
        self.routes: dict[str, Upstream] = {}
        for route in config.models:
            model = (models or {}).get(route.name) or get_model(route.model, **_provider_args(route))
            self.routes[route.name] = Upstream(route, Resilient(model, route, events), self._guard(route))

    def _guard(self, route: RouteConfig) -> Guard | None:
        if route.guard is None or route.guard == "none":
            return None
        if route.guard == "default":
            return Guard.default(escalate_to=self._escalated)
        return Guard.from_file(route.guard, escalate_to=self._escalated)

    def _escalated(self, event: EscalationEvent) -> None:
        """The guard's escalation callback: the case goes to the review queue with its request."""
        ctx = CURRENT.get()
        if ctx is None:
            raise RuntimeError("an escalation outside a gateway request")
        answer = event.text if event.on == "output" else None
        review_id = self.escalations.enqueue(
            request_id=ctx.request_id,
            response_id=ctx.response_id,
            model=ctx.model,
            rail=event.on,
            validator=event.validator,
            reason=event.verdict.reason or event.verdict.label or "",
            messages=ctx.messages,
            answer=answer,
        )
        ctx.review_ids.append(review_id)

    def get(self, name: str) -> Upstream | None:
        return self.routes.get(name)

    def names(self) -> list[str]:
        return list(self.routes)

    def states(self) -> dict[str, str]:
        return {name: up.model.breaker.state for name, up in self.routes.items()}

    async def aclose(self) -> None:
        """Close the models the gateway built; a model handed in (``models=``) belongs to its caller."""
        for name, up in self.routes.items():
            close = getattr(up.model.model, "aclose", None)
            if callable(close) and name not in self.given:
                await close()


def _provider_args(route: RouteConfig) -> dict[str, Any]:
    """The route's provider arguments; an OpenAI-compatible upstream leaves retries and the timeout to
    the gateway (its own retries would wait out a dead upstream for minutes)."""
    args = dict(route.args)
    if route.model.startswith("openai/"):
        args.setdefault("max_retries", 0)
        args.setdefault("timeout", route.timeout_s)
    return args
