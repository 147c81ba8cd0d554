"""The gateway application: one :class:`Gateway` holds the parts, :func:`create_app` serves them.

    gw = Gateway(GatewayConfig.default())      # opens the store, builds guards and upstreams
    app = create_app(gw)                       # FastAPI; `alignkit serve` runs it under uvicorn

Parts and who owns them: :mod:`.openai_api` (the OpenAI-compatible endpoints and the request path),
:mod:`.upstream` (routing, timeouts, retries, circuit breakers), :mod:`.keys`/:mod:`.auth`,
:mod:`.limits`, :mod:`.metrics`/:mod:`.logs`/:mod:`.dashboard`, :mod:`.reviews`, :mod:`.feedback`,
:mod:`.incidents`. They talk through :class:`~alignkit.gateway.events.Events`, not by name.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from alignkit.core.model import Model
from alignkit.gateway import dashboard, feedback, incidents, openai_api, reviews
from alignkit.gateway.auth import ApiError
from alignkit.gateway.config import GatewayConfig
from alignkit.gateway.db import SQL, open_database
from alignkit.gateway.events import Events
from alignkit.gateway.keys import KeyStore
from alignkit.gateway.limits import build_limiter
from alignkit.gateway.logs import setup_logging
from alignkit.gateway.metrics import Metrics
from alignkit.gateway.schema import MIGRATIONS
from alignkit.gateway.upstream import Upstreams
from alignkit.guard import Guard

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")


class Gateway:
    """Everything one gateway process holds. ``models`` replaces the model a route names (tests, or a
    model object built in Python)."""

    def __init__(
        self, config: GatewayConfig, *, models: Mapping[str, Model] | None = None, db: SQL | None = None
    ) -> None:
        self.config = config
        self.started = time.time()
        self.db = db or open_database(config.database, MIGRATIONS)
        self.events = Events()
        self.keys = KeyStore(self.db)
        self.limiter = build_limiter(config)
        self.metrics = Metrics(self.events, models=[m.name for m in config.models])
        self.request_log = setup_logging(config.logging, self.events)
        self.reviews = reviews.ReviewQueue(self.db, config.review, self.events)
        self.feedback = feedback.FeedbackStore(self.db, self.events)
        self.incidents = incidents.Incidents(self.db, config.incidents, self.events)
        self.upstreams = Upstreams(config, self.events, models=models, escalate=self.reviews)
        guards = [up.guard for up in self.upstreams.routes.values() if up.guard is not None]
        self.moderation_guard = guards[0] if guards else Guard.default()
        """What /v1/moderations checks with when the request names no model: the first route's guard."""

    async def aclose(self) -> None:
        await self.limiter.aclose()
        await self.incidents.aclose()
        await self.upstreams.aclose()
        self.request_log.close()
        self.db.close()

    def ready(self) -> dict[str, Any]:
        """What /ready reports: the store answers and every upstream's breaker state."""
        checks: dict[str, Any] = {}
        try:
            self.db.read_one("SELECT 1")
            checks["database"] = "ok"
        except Exception as e:  # a broken store makes the gateway unready, not dead
            checks["database"] = f"error: {type(e).__name__}"
        checks["upstreams"] = self.upstreams.states()
        return checks


class BodyLimit:
    """ASGI middleware: a body over ``limit`` bytes gets 413 before it is read whole (chunked or not), and
    a body whose next piece takes longer than ``timeout_s`` gets 408."""

    def __init__(self, app: ASGIApp, limit: int, timeout_s: float = 30.0) -> None:
        self.app, self.limit, self.timeout_s = app, limit, timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _refuse(413, f"request body over {self.limit:,} bytes", "request_too_large")(scope, receive, send)
            return
        seen, started = 0, False

        body_done = False

        async def limited() -> Any:
            nonlocal seen, body_done
            if body_done:  # after the body, receive() waits for a disconnect (a stream listens for it): no limit
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.timeout_s)
            except TimeoutError:
                raise _Refused(408, f"no request body data for {self.timeout_s:g}s", "request_timeout") from None
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _Refused(413, f"request body over {self.limit:,} bytes", "request_too_large")
                body_done = not message.get("more_body", False)
            return message

        async def tracked(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, tracked)
        except _Refused as e:
            if not started:  # a response already begun cannot be replaced; the connection just ends
                await _refuse(e.status, e.message, e.code)(scope, receive, send)


class _Refused(Exception):
    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


def _refuse(status: int, message: str, code: str) -> JSONResponse:
    return ApiError(status, message, code=code).response()


def create_app(gw: Gateway) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await gw.aclose()

    app = FastAPI(title="alignkit gateway", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.gateway = gw

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response(getattr(request.state, "request_id", None))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        return ApiError(
            400, f"{where or 'body'}: {first.get('msg', 'invalid request')}", param=where or None
        ).response()

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "uptime_s": round(time.time() - gw.started, 1)}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        checks = await asyncio.to_thread(gw.ready)
        ok = checks["database"] == "ok" and any(s != "open" for s in checks["upstreams"].values())
        return JSONResponse({"status": "ready" if ok else "not ready", **checks}, status_code=200 if ok else 503)

    @app.get("/metrics")
    async def metrics() -> Response:
        gw.metrics.set_queue_depth(await asyncio.to_thread(gw.reviews.pending_count))
        body, content_type = gw.metrics.render()
        return Response(body, media_type=content_type)

    app.include_router(openai_api.router(gw))
    app.include_router(feedback.router(gw))
    app.include_router(reviews.router(gw))
    app.include_router(incidents.router(gw))
    app.include_router(dashboard.router(gw))
    hosts = gw.config.allowed_hosts or (LOOPBACK_NAMES if gw.config.auth == "none" else None)
    if hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(hosts))
    app.add_middleware(BodyLimit, limit=gw.config.max_body_bytes, timeout_s=gw.config.body_timeout_s)
    return app
