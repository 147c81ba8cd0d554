"""The HTML dashboard: traffic, blocks, latency, the review queue and open incidents, on one page.

    app.include_router(router(gateway))
    GET /dashboard                   the page (no data in it; open, like a login page)
    GET /dashboard/static/{name}     its script and style sheet
    GET /v1/dashboard/stats?window=hour|day   the figures, JSON (admin scope)

The figures come from the shared store, so every gateway instance behind one load balancer shows the
same traffic: requests from ``exchanges``, blocks and blocks by validator from ``audit``, the review
queue from ``reviews``, open incidents from ``incidents``, in buckets (a minute over the last hour, a
quarter of an hour over the last day). Latency p50/p99 is what this instance measured
(:class:`~alignkit.gateway.recent.Recent`): latency is not stored per request.

Keys: a browser cannot add a bearer header to a page load, so the page holds no data and asks for an
admin key in a form; the key stays in the tab's ``sessionStorage`` (gone when the tab closes) and goes
out only as ``Authorization: Bearer`` on the page's own ``fetch`` calls: never in a URL, so never in an
access log or a browser history. With ``auth: none`` (loopback only) no key is asked for. The page
draws its charts as inline SVG with its own script: no CDN, no external source of any kind, which the
Content-Security-Policy header enforces.
"""

from __future__ import annotations

import asyncio
import time
from importlib import resources
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import HTMLResponse, JSONResponse, Response

from alignkit.gateway.auth import require
from alignkit.gateway.db import SQL
from alignkit.gateway.metrics import BLOCKING_ACTIONS, Metrics

if TYPE_CHECKING:
    from alignkit.gateway.app import Gateway

__all__ = ["CSP", "WINDOWS", "router", "stats"]

WINDOWS: dict[str, tuple[int, int]] = {"hour": (60, 60), "day": (900, 96)}
"""Window name -> (bucket seconds, number of buckets)."""
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}
STATIC = {"dashboard.js": "text/javascript; charset=utf-8", "dashboard.css": "text/css; charset=utf-8"}
MAX_ROWS = 20  # validators and incidents shown: the page is a summary, the CLI has the rest
_BLOCKING_SQL = "(action IN ({}) OR action LIKE '%->refrain')".format(
    ", ".join(f"'{a}'" for a in sorted(BLOCKING_ACTIONS))
)
_BUCKET_SQL = "(CAST(at * 1000 AS BIGINT) - ?) / ?"  # integer bucket index, the same on SQLite and PostgreSQL


def static_text(name: str) -> str:
    return (resources.files("alignkit.gateway") / "static" / name).read_text(encoding="utf-8")


def _per_bucket(db: SQL, sql: str, start: float, end: float, bucket_s: int, n: int, columns: int) -> list[list[int]]:
    """``columns`` counts per bucket from a query whose first column is :data:`_BUCKET_SQL`."""
    out = [[0] * n for _ in range(columns)]
    start_ms = int(start * 1000)
    for row in db.read(sql, (start_ms, bucket_s * 1000, start, end)):
        b = int(row[0])
        if 0 <= b < n:
            for c in range(columns):
                out[c][b] = int(row[c + 1] or 0)
    return out


def _store_figures(db: SQL, start: float, end: float, bucket_s: int, n: int) -> dict[str, Any]:
    requests, escalated = _per_bucket(
        db,
        f"SELECT {_BUCKET_SQL}, COUNT(*), SUM(escalated) FROM exchanges "  # noqa: S608 (constants only)
        "WHERE at >= ? AND at < ? GROUP BY 1",
        start,
        end,
        bucket_s,
        n,
        2,
    )
    (blocked,) = _per_bucket(
        db,
        f"SELECT {_BUCKET_SQL}, COUNT(DISTINCT request_id) FROM audit "  # noqa: S608 (constants only)
        f"WHERE at >= ? AND at < ? AND flagged = 1 AND {_BLOCKING_SQL} GROUP BY 1",
        start,
        end,
        bucket_s,
        n,
        1,
    )
    validators = db.read(
        f"SELECT validator, COUNT(*), SUM(CASE WHEN {_BLOCKING_SQL} THEN 1 ELSE 0 END) FROM audit "  # noqa: S608
        "WHERE at >= ? AND at < ? AND flagged = 1 GROUP BY validator ORDER BY 3 DESC, 2 DESC, 1 LIMIT ?",
        (start, end, MAX_ROWS),
    )
    pending = db.read_one(
        "SELECT COUNT(*), SUM(CASE WHEN due < ? THEN 1 ELSE 0 END) FROM reviews WHERE status = 'pending'", (end,)
    )
    open_count = db.read_one("SELECT COUNT(*) FROM incidents WHERE status <> 'resolved'")
    incidents = db.read(
        "SELECT id, opened, trigger, severity, title, status, owner FROM incidents WHERE status <> 'resolved' "
        "ORDER BY opened DESC LIMIT ?",
        (MAX_ROWS,),
    )
    return {
        "requests": requests,
        "blocked": blocked,
        "escalated": escalated,
        "validators": [{"validator": v, "flagged": int(f), "blocked": int(b or 0)} for v, f, b in validators],
        "reviews": {"pending": int(pending[0] or 0), "overdue": int(pending[1] or 0)},
        "incidents": {
            "open": int(open_count[0] or 0),
            "items": [
                dict(zip(("id", "opened", "trigger", "severity", "title", "status", "owner"), row, strict=True))
                for row in incidents
            ],
        },
    }


def stats(db: SQL, metrics: Metrics, window: str = "hour", now: float | None = None) -> dict[str, Any]:
    """The dashboard's figures for the last ``window`` (see the module docstring)."""
    bucket_s, n = WINDOWS[window]
    now = time.time() if now is None else now
    start = (now // bucket_s + 1) * bucket_s - n * bucket_s  # the last bucket holds now
    end = start + n * bucket_s
    store = _store_figures(db, start, end, bucket_s, n)
    here = metrics.recent.series(start, bucket_s, n)
    overall = metrics.recent.overall(start)
    metrics.set_queue_depth(store["reviews"]["pending"])
    return {
        "window": window,
        "bucket_s": bucket_s,
        "start": start,
        "now": now,
        "series": {
            "t": [start + i * bucket_s for i in range(n)],
            "requests": store["requests"],
            "blocked": store["blocked"],
            "escalated": store["escalated"],
            "instance_requests": [b.requests for b in here],
            "p50_ms": [b.p50_ms for b in here],
            "p99_ms": [b.p99_ms for b in here],
        },
        "totals": {k: sum(store[k]) for k in ("requests", "blocked", "escalated")},
        "latency": {"p50_ms": overall.p50_ms, "p99_ms": overall.p99_ms, "requests": overall.requests},
        "validators": store["validators"],
        "reviews": store["reviews"],
        "incidents": store["incidents"],
        "instance": metrics.snapshot(),
    }


def router(gw: Gateway) -> APIRouter:
    r = APIRouter()
    admin = Depends(require(gw, "admin"))

    @r.get("/dashboard", response_class=HTMLResponse)
    async def page() -> HTMLResponse:
        return HTMLResponse(static_text("dashboard.html"), headers=HEADERS)

    @r.get("/dashboard/static/{name}")
    async def static(name: str) -> Response:
        if name not in STATIC:
            raise HTTPException(404, "no such file")
        return Response(static_text(name), media_type=STATIC[name], headers=HEADERS)

    @r.get("/v1/dashboard/stats", dependencies=[admin])
    async def dashboard_stats(window: Annotated[Literal["hour", "day"], Query()] = "hour") -> JSONResponse:
        figures = await asyncio.to_thread(stats, gw.db, gw.metrics, window)
        return JSONResponse(figures, headers=HEADERS)

    return r
