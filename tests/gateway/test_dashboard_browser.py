"""The dashboard in a real browser (Debian's chromium through playwright) against a real uvicorn server:
the admin key is asked for once, kept in the tab and sent only as a bearer header; charts are drawn
offline under the page's Content-Security-Policy; server text shows as text."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from alignkit.gateway.app import Gateway, create_app
from alignkit.gateway.config import GatewayConfig
from tests.gateway.dashboard_data import HOSTILE_TITLE, audit, incident, review
from tests.gateway.live import live_server
from tests.helpers.browser import chromium_or_fail


def test_dashboard_in_a_browser(tmp_path: Path) -> None:
    chromium = chromium_or_fail()
    from playwright.sync_api import expect, sync_playwright

    config = {"database": str(tmp_path / "g.sqlite"), "models": [{"name": "m", "model": "mock/echo", "guard": None}]}
    gw = Gateway(GatewayConfig.model_validate(config))
    admin = gw.keys.create("ops", ["admin"])[1]
    user = gw.keys.create("app", ["user"])[1]
    now = time.time()
    for _ in range(3):
        audit(gw.db, now - 30, "jailbreak", "refrain")
    audit(gw.db, now - 30, "pii", "fix")
    review(gw.db, now - 60, now - 1)  # overdue
    incident(gw.db, now - 120, HOSTILE_TITLE, severity="sev1")

    with live_server(create_app(gw)) as url:
        for n in range(4):  # real traffic: exchanges in the store, latency in this instance
            r = httpx.post(
                f"{url}/v1/chat/completions",
                json={"model": "m", "messages": [{"role": "user", "content": f"hello {n}"}]},
                headers={"Authorization": f"Bearer {user}"},
            )
            assert r.status_code == 200
        requests: list[Any] = []
        problems: list[str] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
            try:
                page = browser.new_page()
                page.set_default_timeout(10_000)
                page.on("request", lambda r: requests.append(r))
                page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: problems.append(str(e)))
                page.goto(f"{url}/dashboard")

                # No key yet: the form asks for one; a key without the admin scope is refused with the reason.
                expect(page.locator("#login")).to_be_visible()
                expect(page.locator("#board")).to_be_hidden()
                page.fill("#key", user)
                page.press("#key", "Enter")
                expect(page.locator("#status")).to_contain_text("lacks the 'admin' scope")
                assert page.evaluate("sessionStorage.length") == 0

                page.fill("#key", admin)
                page.click("#login button[type=submit]")
                expect(page.locator("#board")).to_be_visible()
                expect(page.locator("#login")).to_be_hidden()
                tile = page.locator('#tiles .tile[data-name="requests"] .value')
                expect(tile).to_have_text("4")
                expect(page.locator('#tiles .tile[data-name="blocked"] .value')).to_have_text("3")
                expect(page.locator('#tiles .tile[data-name="reviews overdue"]')).to_have_class("tile alert")
                assert page.locator('#tiles .tile[data-name="p50 latency (ms)"] .value').inner_text() != "–"

                # Charts: inline SVG, one path per series with data, a bar per flagged validator.
                assert page.locator('#chart-traffic svg path[data-series="requests"]').count() == 1
                assert page.locator('#chart-traffic svg circle[data-series="blocked"]').count() >= 1
                assert page.locator('#chart-latency svg circle[data-series="p99"]').count() >= 1
                bars = page.locator("#chart-validators g.bar")
                expect(bars).to_have_count(2)
                assert bars.first.get_attribute("data-validator") == "jailbreak"
                expect(bars.first).to_contain_text("3 / 3")

                # The incident's hostile title is text; none of its markup ran.
                expect(page.locator("#incidents tbody")).to_contain_text("<img src=x onerror=")
                assert page.locator("#incidents img").count() == 0
                assert page.evaluate("window.__pwned") is None
                expect(page.locator("#incidents td.sev1")).to_have_text("sev1")

                # The other window, a reload (the key stays in this tab), then forgetting the key.
                page.select_option("#window", "day")
                expect(page.locator("#chart-traffic svg")).to_have_count(1)
                page.reload()
                expect(page.locator("#board")).to_be_visible()
                expect(tile).to_have_text("4")
                page.click("#logout")
                expect(page.locator("#login")).to_be_visible()
                assert page.evaluate("sessionStorage.length") == 0
            finally:
                browser.close()

    # No script error, no CSP violation; the refused keys' 401 and 403 are the only failed loads.
    refused = [m for m in problems if m.startswith("Failed to load resource") and ("401" in m or "403" in m)]
    assert len(refused) == 2 and not [m for m in problems if m not in refused], problems
    assert all(r.url.startswith(url) for r in requests), [r.url for r in requests if not r.url.startswith(url)]
    assert not any(admin in r.url or user in r.url for r in requests)  # keys never in a URL
    stats_calls = [r for r in requests if "/v1/dashboard/stats" in r.url]
    assert any(r.headers.get("authorization") == f"Bearer {admin}" for r in stats_calls)
    assert {r.url.split("?")[1] for r in stats_calls} >= {"window=hour", "window=day"}
