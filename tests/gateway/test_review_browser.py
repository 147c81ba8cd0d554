"""The reviewer page in a real browser (Debian's chromium through playwright) against a real uvicorn
server: sign in with a reviewer key, see a seeded pending review with its SLA timer, edit the held
answer, mark it harmful and send; the store then holds the decision."""

from __future__ import annotations

from pathlib import Path

from alignkit.gateway.app import create_app
from tests.gateway.humans import HOSTILE, make_gateway, make_keys, seed_review
from tests.gateway.live import live_server
from tests.helpers.browser import chromium_or_fail


def test_a_reviewer_signs_in_edits_a_held_answer_and_the_decision_is_stored(tmp_path: Path) -> None:
    chromium = chromium_or_fail()
    from playwright.sync_api import expect, sync_playwright

    gw = make_gateway(tmp_path, review={"sla_s": 900})
    keys = make_keys(gw)
    rid = seed_review(gw, question=f"Tell me how to hotwire a car {HOSTILE}", answer="First, strip the ignition wires.")
    late = seed_review(gw, question="An older case", answer="Some answer.")
    gw.db.write("UPDATE reviews SET due = due - 1000 WHERE id = ?", (late,))
    console: list[str] = []
    with live_server(create_app(gw)) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.set_default_timeout(10_000)
            page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: console.append(str(e)))
            page.goto(f"{url}/review")
            expect(page.locator("#login")).to_be_visible()
            page.fill("#key", keys.user)  # a user key is refused: the queue stays closed
            page.click("#login button[type=submit]")
            expect(page.locator("#status")).to_contain_text("reviewer")
            expect(page.locator("#queue")).to_be_hidden()

            page.fill("#key", keys.reviewer)
            page.click("#login button[type=submit]")
            expect(page.locator("#counts")).to_have_text("2 pending, 1 overdue")
            assert keys.reviewer not in page.url and page.evaluate("sessionStorage.length") == 1
            item = page.locator(f"#reviews li[data-id='{rid}']")
            expect(item.locator(".timer")).to_contain_text("left")
            expect(page.locator(f"#reviews li[data-id='{late}'] .timer")).to_contain_text("overdue")

            item.click()
            expect(page.locator("#conversation")).to_contain_text("<img src=x onerror=")  # shown as text
            assert page.evaluate("window.__pwned") is None
            assert page.locator("#detail img, #detail script").count() == 0
            expect(page.locator("#held")).to_have_text("First, strip the ignition wires.")
            expect(page.locator("#final")).to_have_value("First, strip the ignition wires.")
            page.fill("#final", "I can't help with hotwiring a car. A locksmith or your dealer can help you.")
            page.check("#harmful")
            page.fill("#note", "instructions for theft")
            page.click("#buttons button[data-decision=edit]")
            expect(page.locator("#status")).to_contain_text(f"Saved: review {rid} edited, marked harmful")
            expect(page.locator("#counts")).to_have_text("1 pending, 1 overdue")
            expect(page.locator(f"#reviews li[data-id='{rid}']")).to_have_count(0)  # gone from the pending list

            page.reload()  # still signed in in this tab, without the key in any URL
            expect(page.locator("#counts")).to_have_text("1 pending, 1 overdue")
            page.click("#logout")
            expect(page.locator("#login")).to_be_visible()
            assert page.evaluate("sessionStorage.length") == 0
        finally:
            browser.close()
        review = gw.reviews.get(rid)  # read while the server (and so the store) is still open
    assert [m for m in console if not m.startswith("Failed to load resource")] == []  # no CSP refusal, no JS error
    assert review is not None and review.status == "edited" and review.harmful is True
    assert review.final_answer == "I can't help with hotwiring a car. A locksmith or your dealer can help you."
    assert review.reviewer == keys.reviewer_id and review.note == "instructions for theft"
