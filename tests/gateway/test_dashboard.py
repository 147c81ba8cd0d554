"""The dashboard's figures (/v1/dashboard/stats) from the shared store, on SQLite and PostgreSQL, its
admin-only access, its page and headers, and the figures of real requests through the gateway."""

from __future__ import annotations

import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import alignkit.gateway
from alignkit.gateway.app import Gateway, create_app
from alignkit.gateway.config import GatewayConfig
from alignkit.gateway.dashboard import CSP, stats
from alignkit.gateway.db import SQL, open_database
from alignkit.gateway.events import Events
from alignkit.gateway.metrics import Metrics
from alignkit.gateway.schema import MIGRATIONS
from tests.gateway.dashboard_data import HOSTILE_TITLE, NOW, seed


def make(tmp_path: Path, **config: Any) -> Gateway:
    base = {
        "auth": "none",
        "allowed_hosts": ["testserver"],  # a key-less gateway checks the Host header
        "database": str(tmp_path / "g.sqlite"),
        "models": [{"name": "m", "model": "mock/echo", "guard": None}],
    }
    return Gateway(GatewayConfig.model_validate({**base, **config}))


def check_figures(db: SQL) -> None:
    seed(db)
    events = Events()
    metrics = Metrics(events)
    got = stats(db, metrics, "hour", now=NOW)
    s = got["series"]
    assert got["bucket_s"] == 60 and len(s["t"]) == 60
    assert s["t"][-1] <= NOW < s["t"][-1] + 60 and got["start"] == s["t"][0]
    assert s["requests"][-1] == 3 and s["requests"][-11] == 2 and sum(s["requests"]) == 5
    assert s["escalated"][-1] == 1
    assert s["blocked"][-1] == 1  # two refrain rows of one request are one blocked request
    assert s["blocked"][-11] == 2 and sum(s["blocked"]) == 3
    assert got["totals"] == {"requests": 5, "blocked": 3, "escalated": 1}
    assert got["validators"] == [
        {"validator": "jailbreak", "flagged": 3, "blocked": 3},
        {"validator": "pii", "flagged": 2, "blocked": 1},
    ]
    assert got["reviews"] == {"pending": 2, "overdue": 1}
    assert got["incidents"]["open"] == 1 and got["incidents"]["items"][0]["title"] == HOSTILE_TITLE
    assert metrics.registry.get_sample_value("alignkit_gateway_review_queue_depth") == 2
    day = stats(db, metrics, "day", now=NOW)
    assert day["bucket_s"] == 900 and len(day["series"]["t"]) == 96
    assert day["totals"] == {"requests": 6, "blocked": 4, "escalated": 1}


def test_figures_from_the_store_sqlite(tmp_path: Path) -> None:
    db = open_database(str(tmp_path / "g.sqlite"), MIGRATIONS)
    try:
        check_figures(db)
    finally:
        db.close()


def test_figures_from_the_store_postgres(fresh_postgres_url: str) -> None:
    db = open_database(fresh_postgres_url, MIGRATIONS)
    try:
        check_figures(db)
    finally:
        db.close()


def test_latency_comes_from_this_instance() -> None:
    db_free_events = Events()
    metrics = Metrics(db_free_events)
    metrics.recent.add(NOW - 5, 0.2, blocked=False, error=False)
    metrics.recent.add(NOW - 5, 0.4, blocked=False, error=False)
    bucket = metrics.recent.series(NOW - 50, 60, 1)[0]
    assert bucket.requests == 2 and bucket.p50_ms is not None and 200 <= bucket.p50_ms <= 250


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    gw = make(tmp_path, auth="keys")
    keys = {scope: gw.keys.create(scope, [scope])[1] for scope in ("user", "reviewer", "admin")}
    with TestClient(create_app(gw)) as c:
        yield c, keys


def test_stats_need_an_admin_key(keyed: tuple[TestClient, dict[str, str]]) -> None:
    c, keys = keyed
    assert c.get("/v1/dashboard/stats").status_code == 401
    for scope in ("user", "reviewer"):
        r = c.get("/v1/dashboard/stats", headers={"Authorization": f"Bearer {keys[scope]}"})
        assert r.status_code == 403 and "admin" in r.json()["error"]["message"]
    r = c.get("/v1/dashboard/stats?window=day", headers={"Authorization": f"Bearer {keys['admin']}"})
    assert r.status_code == 200 and r.json()["window"] == "day"
    assert r.headers["content-security-policy"] == CSP and r.headers["cache-control"] == "no-store"
    r = c.get("/v1/dashboard/stats?window=week", headers={"Authorization": f"Bearer {keys['admin']}"})
    assert r.status_code == 400 and r.json()["error"]["param"] == "query.window"


def test_the_page_is_self_contained_under_a_strict_csp(keyed: tuple[TestClient, dict[str, str]]) -> None:
    c, _ = keyed
    page = c.get("/dashboard")  # holds no data: served without a key, like a login page
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-frame-options"] == "DENY" and page.headers["referrer-policy"] == "no-referrer"
    assert "http://" not in page.text and "https://" not in page.text and "<script>" not in page.text
    assert 'method="post"' in page.text  # without the script, the key would never land in a URL
    for name, kind in (("dashboard.js", "javascript"), ("dashboard.css", "css")):
        r = c.get(f"/dashboard/static/{name}")
        assert r.status_code == 200 and kind in r.headers["content-type"]
        assert "https://" not in r.text.replace("http://www.w3.org/2000/svg", "")
    assert c.get("/dashboard/static/..%2Fdashboard.py").status_code == 404
    assert c.get("/dashboard/static/review.js").status_code == 404  # only the dashboard's own files


def test_real_requests_reach_metrics_logs_and_the_dashboard(tmp_path: Path) -> None:
    log = tmp_path / "requests.log"
    gw = make(tmp_path, logging={"path": str(log)})
    with TestClient(create_app(gw)) as c:
        for text in ("hello", "what is a haiku?"):
            r = c.post("/v1/chat/completions", json={"model": "m", "messages": [{"role": "user", "content": text}]})
            assert r.status_code == 200
        assert c.post("/v1/chat/completions", json={"model": "nope", "messages": []}).status_code in (400, 404)
        got = c.get("/v1/dashboard/stats").json()
        metrics = c.get("/metrics").text
    assert got["totals"]["requests"] == 2 and got["latency"]["requests"] >= 2 and got["latency"]["p50_ms"] > 0
    assert 'alignkit_gateway_requests_total{endpoint="/v1/chat/completions",model="m",status="200"} 2.0' in metrics
    assert 'alignkit_gateway_stage_duration_seconds_count{model="m",stage="total"}' in metrics
    text = log.read_text()
    assert text.count('"type": "request"') >= 2 and "haiku" not in text  # never the conversation


def test_the_page_files_ship_in_the_wheel() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["src/alignkit"]
    static = Path(alignkit.gateway.__file__).parent / "static"
    assert {"dashboard.html", "dashboard.js", "dashboard.css"} <= {p.name for p in static.iterdir()}
    ignored = subprocess.run(["git", "check-ignore", *map(str, static.iterdir())], capture_output=True, text=True)
    assert ignored.stdout == ""  # hatchling leaves out what git ignores
