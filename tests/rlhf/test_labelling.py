"""The labelling store, item sources, JSON API, and one real headless-browser session."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alignkit.core import ConfigError, Message, PreferencePair, RecordError
from alignkit.core.jsonl import write_jsonl
from alignkit.providers.mock import MockModel
from alignkit.rlhf.data import load_preferences
from alignkit.rlhf.labelling import (
    LabelItem,
    LabelStore,
    check_annotator,
    create_app,
    generate_items,
    items_from_file,
    read_prompts,
)
from alignkit.rlhf.labelling.agreement import cohen_kappa, fleiss_kappa, percent_agreement, position_bias
from tests.helpers.browser import chromium_or_fail

HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


def item(n: int, a: str | None = None, b: str | None = None) -> LabelItem:
    return LabelItem((Message("user", f"question {n}?"),), a or f"answer A{n}", b or f"answer B{n}", "mock/a", "mock/b")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LabelStore]:
    with LabelStore(tmp_path / "labels.sqlite") as s:
        s.add_items(item(n) for n in range(4))
        yield s


def ids(store: LabelStore) -> list[str]:
    return [i.id for i in store.items()]


def label_all(store: LabelStore, who: str, choices: list[str]) -> None:
    for item_id, choice in zip(ids(store), choices, strict=False):
        store.record_label(item_id, who, choice)


# -- agreement, by hand ---------------------------------------------------------------------------------

ALICE = ["a", "a", "b", "tie"]
BOB = ["a", "b", "b", "tie"]


def test_cohen_and_fleiss_kappa_match_hand_computed_values() -> None:
    # p_o = 3/4; p_e = .5*.25 + .25*.5 + .25*.25 = 5/16; kappa = (3/4 - 5/16) / (11/16) = 7/11.
    assert percent_agreement(ALICE, BOB) == 0.75
    assert cohen_kappa(ALICE, BOB) == pytest.approx(7 / 11)
    # Per-item agreement 1, 0, 1, 1 (mean 3/4); pooled a 3/8, b 3/8, tie 2/8, p_e = 22/64; kappa = 13/21.
    assert fleiss_kappa([list(p) for p in zip(ALICE, BOB, strict=True)]) == pytest.approx(13 / 21)
    assert cohen_kappa(["a", "a"], ["a", "a"]) is None  # chance agreement 1: undefined, not a crash
    assert cohen_kappa([], []) is None and fleiss_kappa([["a"]]) is None
    bias = position_bias([True, True, True, False])
    assert (bias.decided, bias.left_wins, bias.left_rate) == (4, 3, 0.75) and 0 < bias.p_value < 1  # type: ignore[operator]


def test_store_agreement_over_shared_items_without_skips(store: LabelStore) -> None:
    label_all(store, "alice", ALICE)
    label_all(store, "bob", BOB)
    label_all(store, "carol", ["a", "skip"])
    report = store.agreement()
    pairs = {(p.first, p.second): p for p in report.pairs}
    assert pairs["alice", "bob"].items == 4 and pairs["alice", "bob"].kappa == pytest.approx(7 / 11)
    assert pairs["alice", "carol"].items == 1 and pairs["alice", "carol"].percent == 1.0  # carol's skip excluded
    # Items (a,a,a), (a,b), (b,b), (tie,tie): per-item 1, 0, 1, 1; pooled a 4/9, b 3/9, tie 2/9 -> 127/208.
    assert report.fleiss_items == 4 and report.fleiss_kappa == pytest.approx(127 / 208)
    progress = store.progress()
    assert progress["carol"].labelled == 1 and progress["carol"].skipped == 1 and progress["carol"].total == 4


def test_relabel_updates_in_place(store: LabelStore) -> None:
    first = store.record_label(ids(store)[0], "alice", "a")
    again = store.record_label(ids(store)[0], "alice", "b")
    labels = store.labels()
    assert len(labels) == 1 and labels[0].choice == "b" and again.created == first.created
    assert store.progress_of("alice").labelled == 1


def test_next_item_skips_own_labels_and_prefers_least_labelled(store: LabelStore) -> None:
    first = ids(store)[0]
    assert store.next_item("alice").id == first  # type: ignore[union-attr]
    store.record_label(first, "alice", "a")
    assert store.next_item("alice").id == ids(store)[1]  # type: ignore[union-attr]
    assert store.next_item("bob").id == ids(store)[1]  # type: ignore[union-attr]  # item 0 already has a label
    label_all(store, "alice", ["a", "skip", "tie", "b"])
    assert store.next_item("alice") is None  # skipped items do not come back


def test_add_items_dedupes_by_content_and_drops_identical_answers(store: LabelStore) -> None:
    swapped = LabelItem(item(0).prompt, item(0).answer_b, item(0).answer_a)
    report = store.add_items([item(0), swapped, item(9), item(9), item(10, "same", " same ")])
    assert (report.added, report.duplicates, report.identical) == (1, 3, 1)
    assert store.count_items() == 5


def test_layout_is_seeded_stored_and_balanced(tmp_path: Path) -> None:
    with LabelStore(tmp_path / "x.sqlite", seed=3) as s:
        s.add_items(item(n) for n in range(60))
        lefts = {i.id: i.left for i in s.items()}
    assert 15 < sum(v == "a" for v in lefts.values()) < 45
    with LabelStore(tmp_path / "x.sqlite", seed=99) as s:  # a reopened store keeps the stored layout
        assert {i.id: i.left for i in s.items()} == lefts
        one = s.items()[0]
        left, right = one.shown()
        assert (left == one.answer_a) == (one.left == "a") and {left, right} == {one.answer_a, one.answer_b}
        assert one.choice_for("left") == one.left and one.choice_for("right") != one.left
        assert one.choice_for("tie") == "tie"
        s.record_label(one.id, "alice", one.choice_for("left"))
        assert s.position_bias().left_rate == 1.0 and s.position_bias("nobody").decided == 0


def test_export_majority_and_each(store: LabelStore, tmp_path: Path) -> None:
    label_all(store, "alice", ALICE)
    label_all(store, "bob", BOB)
    label_all(store, "carol", ["a", "skip"])
    pairs = {p.id: p for p in store.export()}
    i0, i1, i2, i3 = (pairs[i] for i in ids(store))
    assert (i0.chosen, i0.rejected, i0.tie, i0.chosen_prob) == ("answer A0", "answer B0", False, None)
    assert i0.annotator == "alice,bob,carol" and i0.metadata["model_chosen"] == "mock/a"
    assert i1.tie and i1.chosen_prob == 0.5  # one vote each: a draw
    assert (i2.chosen, i2.rejected, i2.metadata["model_chosen"]) == ("answer B2", "answer A2", "mock/b")
    assert i3.tie and i3.prompt == (Message("user", "question 3?"),)
    each = store.export("each")
    assert len(each) == 9 and {p.annotator for p in each} == {"alice", "bob", "carol"}
    with pytest.raises(ConfigError, match="majority"):
        store.export("vote")  # type: ignore[arg-type]
    # Exported files feed reward training's loader unchanged.
    out = tmp_path / "prefs.jsonl"
    write_jsonl(out, store.export())
    loaded, report = load_preferences(out)
    assert len(loaded) == 4 and report.kept == 4 and all(isinstance(p, PreferencePair) for p in loaded)


def test_disagreement_becomes_a_soft_label(store: LabelStore) -> None:
    first = ids(store)[0]
    for who, choice in [("u1", "b"), ("u2", "b"), ("u3", "a"), ("u4", "tie")]:
        store.record_label(first, who, choice)
    (pair,) = store.export()
    assert pair.chosen == "answer B0" and pair.chosen_prob == pytest.approx(2.5 / 4)


def test_a_label_survives_the_process_dying(tmp_path: Path) -> None:
    db = tmp_path / "crash.sqlite"
    with LabelStore(db) as s:
        s.add_items([item(1)])
        item_id = s.items()[0].id
    code = (
        "import os, sys; from alignkit.rlhf.labelling import LabelStore;"
        f"s = LabelStore(sys.argv[1]); s.record_label({item_id!r}, 'alice', 'tie'); os._exit(9)"
    )
    assert subprocess.run([sys.executable, "-c", code, str(db)], check=False).returncode == 9
    rows = sqlite3.connect(db).execute("SELECT item_id, annotator, choice FROM labels").fetchall()
    assert rows == [(item_id, "alice", "tie")]


def test_annotator_names_are_checked() -> None:
    assert check_annotator("alice.smith@lab-1") == "alice.smith@lab-1"
    for bad in ["", " alice", "a b", "<script>", "a" * 65, "-lead", "名前"]:
        with pytest.raises(ConfigError, match="1 to 64 characters"):
            check_annotator(bad)


def test_record_label_rejects_unknown_items_and_choices(store: LabelStore) -> None:
    with pytest.raises(KeyError):
        store.record_label("nope", "alice", "a")
    with pytest.raises(ConfigError, match="unknown choice"):
        store.record_label(ids(store)[0], "alice", "left")


# -- item sources -----------------------------------------------------------------------------------------


def test_items_from_pair_files(tmp_path: Path) -> None:
    jsonl = tmp_path / "pairs.jsonl"
    rows = [
        {"prompt": "hi", "response_a": "hello", "response_b": "hey", "model_a": "m1", "model_b": "m2"},
        {"prompt": [{"role": "user", "content": "q"}], "chosen": "good", "rejected": "bad", "annotator": "x"},
    ]
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    first, second = items_from_file(jsonl)
    assert (first.answer_a, first.answer_b, first.model_a, first.source) == ("hello", "hey", "m1", str(jsonl))
    assert second.prompt == (Message("user", "q"),) and (second.answer_a, second.answer_b) == ("good", "bad")
    csv_file = tmp_path / "pairs.csv"
    csv_file.write_text('prompt,answer_a,answer_b\n"what, then?",one,two\n')
    (only,) = items_from_file(csv_file)
    assert only.prompt[0].content == "what, then?" and only.answer_b == "two"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "x", "response_a": "y"}\n')
    with pytest.raises(RecordError, match=r"bad\.jsonl:1: no field\(s\) \['response_b'\]"):
        items_from_file(bad)
    bad.write_text('{"text": "x"}\n')
    with pytest.raises(RecordError, match="expected a prompt and two answers"):
        items_from_file(bad)


def test_read_prompts(tmp_path: Path) -> None:
    txt = tmp_path / "p.txt"
    txt.write_text("one\n\n two \n")
    assert [p[0].content for p in read_prompts(txt)] == ["one", "two"]
    jl = tmp_path / "p.jsonl"
    jl.write_text(
        '{"prompt": "a"}\n{"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]}\n'
    )
    assert [len(p) for p in read_prompts(jl)] == [1, 2]
    jl.write_text('{"question": "a"}\n')
    with pytest.raises(RecordError, match=r"p\.jsonl:1: no 'prompt'"):
        read_prompts(jl)


def test_generate_items_from_two_models_or_one_sampled_twice() -> None:
    items, failed = generate_items(["p1", "p2", "p3"], MockModel("echo"), MockModel("fixed", text="no"), batch_size=2)
    assert failed == 0 and [(i.answer_a, i.answer_b) for i in items] == [("p1", "no"), ("p2", "no"), ("p3", "no")]
    assert items[0].model_a == "mock/echo" and items[0].source == "mock/echo vs mock/fixed"
    sampled = MockModel("scripted", responses=["x1", "y1", "x2", "y2"])
    items, _ = generate_items(["p1", "p2"], sampled)
    assert [(i.answer_a, i.answer_b) for i in items] == [("x1", "x2"), ("y1", "y2")]
    assert items[0].source == "mock/scripted sampled twice"
    from alignkit.core import GenerateConfig

    with pytest.raises(ConfigError, match="temperature above 0"):
        generate_items(["p"], MockModel("echo"), config=GenerateConfig(temperature=0))
    items, failed = generate_items(["p1", "p2"], MockModel("echo"), MockModel("error"))
    assert items == [] and failed == 2


# -- the JSON API ---------------------------------------------------------------------------------------------


def client(store: LabelStore, **kw: Any) -> Any:
    from fastapi.testclient import TestClient

    return TestClient(create_app(store, **kw))


def test_api_next_label_progress_and_stats(store: LabelStore) -> None:
    c = client(store)
    got = c.get("/api/next", params={"annotator": "alice"}).json()
    shown = store.item(got["item"]["id"])
    assert got["progress"] == {"annotator": "alice", "labelled": 0, "skipped": 0, "total": 4, "done": 0}
    assert (got["item"]["left"], got["item"]["right"]) == shown.shown()
    assert "mock/a" not in json.dumps(got)  # blind: annotators never see which model wrote what
    r = c.post("/api/label", json={"item_id": shown.id, "annotator": "alice", "choice": "right"})
    assert r.status_code == 200 and r.json()["progress"]["done"] == 1
    assert store.labels()[0].choice == ("b" if shown.left == "a" else "a")
    assert c.get("/api/next", params={"annotator": "alice"}).json()["item"]["id"] != shown.id
    assert c.get("/api/progress", params={"annotator": "alice"}).json()["labelled"] == 1
    stats = c.get("/api/stats").json()
    assert stats["labels"] == 1 and stats["position_bias"]["left_rate"] == 0.0


def test_api_rejects_bad_input_with_clear_messages(store: LabelStore) -> None:
    c = client(store)
    item_id = ids(store)[0]
    for params in ({"annotator": "<b>x</b>"}, {}):
        r = c.get("/api/next", params=params)
        assert r.status_code == 400 and "invalid annotator name" in r.json()["detail"]
    r = c.post("/api/label", json={"item_id": item_id, "annotator": "a b", "choice": "left"})
    assert r.status_code == 400 and "letters, digits" in r.json()["detail"]
    r = c.post("/api/label", json={"item_id": item_id, "annotator": "alice", "choice": "A"})
    assert r.status_code == 422 and r.json()["detail"].startswith("invalid request: choice:")
    r = c.post("/api/label", json={"item_id": "missing", "annotator": "alice", "choice": "tie"})
    assert r.status_code == 404 and "no such item" in r.json()["detail"]
    r = c.post("/api/label", content=b"item_id=x", headers={"content-type": "text/plain"})
    assert r.status_code == 422  # a cross-site form post is not JSON
    assert store.labels() == []


def test_api_caps_the_body_size(store: LabelStore) -> None:
    c = client(store, max_body_bytes=1024)
    big = {"item_id": ids(store)[0], "annotator": "alice", "choice": "left", "pad": "x" * 5000}
    r = c.post("/api/label", json=big)
    assert r.status_code == 413 and "over 1024 bytes" in r.json()["detail"]
    r = c.post("/api/label", content=iter([b"{" + b" " * 800, b" " * 800 + b"}"]))  # streamed, no length
    assert r.status_code == 413
    assert store.labels() == []


def test_api_token_is_required_when_set(store: LabelStore) -> None:
    c = client(store, token="s3cret-token")
    assert c.get("/").status_code == 200  # the page itself holds no data
    assert c.get("/api/stats").status_code == 401
    r = c.get("/api/stats", headers={"Authorization": "Bearer wrong-token"})
    assert r.status_code == 401 and "#token=" in r.json()["detail"]
    assert c.get("/api/stats", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
    with pytest.raises(ConfigError, match="too short"):
        create_app(store, token="abc")


def test_page_headers_hosts_and_static_files(store: LabelStore) -> None:
    c = client(store, allowed_hosts=["127.0.0.1", "localhost", "testserver"])
    page = c.get("/")
    assert "script-src 'self'" in page.headers["content-security-policy"] and 'id="annotator"' in page.text
    js = c.get("/static/app.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert ".innerHTML" not in js.text and "insertAdjacentHTML" not in js.text and "document.write" not in js.text
    assert c.get("/static/../store.py").status_code == 404
    assert c.get("/static/store.py").status_code == 404
    assert c.get("/api/stats", headers={"host": "evil.example"}).status_code == 400  # DNS rebinding


def test_labelling_imports_no_web_framework() -> None:
    code = "import sys, alignkit.rlhf.labelling, alignkit.cli.label; print('fastapi' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- a real browser -------------------------------------------------------------------------------------------


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[tuple[str, Path, str]]:
    import uvicorn

    db = tmp_path / "live.sqlite"
    store = LabelStore(db)
    store.add_items([item(1, HOSTILE, "plain answer"), item(2), item(3), item(4)])
    token = "browser-test-token"
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(store, token=token, allowed_hosts=["127.0.0.1"])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/", db, token
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()
        store.close()


def test_browser_session_saves_every_label(live_server: tuple[str, Path, str]) -> None:
    chromium = chromium_or_fail()
    from playwright.sync_api import expect, sync_playwright

    url, db, token = live_server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.set_default_timeout(10_000)
            page.goto(f"{url}#token={token}")
            page.fill("#annotator", "alice")
            page.press("#annotator", "Enter")
            expect(page.locator("#progress")).to_have_text("0 of 4")
            # The hostile answer is shown as text, and none of its markup ran.
            expect(page.locator("#answers")).to_contain_text("<img src=x onerror=")
            assert page.evaluate("window.__pwned") is None
            assert page.locator("#answers img, #answers script").count() == 0
            for n, key in enumerate(["1", "ArrowRight", "t", "s"], start=1):
                page.keyboard.press(key)
                expect(page.locator("#progress")).to_have_text(f"{n} of 4")
            expect(page.locator("#done")).to_be_visible()
            page.reload()  # the name is remembered; the token stays for this tab
            expect(page.locator("#annotator")).to_have_value("alice")
            expect(page.locator("#progress")).to_have_text("4 of 4")
            expect(page.locator("#stats")).to_contain_text("3 labels on 4 items")
        finally:
            browser.close()
    rows = sqlite3.connect(db).execute(
        "SELECT l.choice, i.left_answer FROM labels l JOIN items i ON i.id = l.item_id "
        "WHERE l.annotator = 'alice' ORDER BY l.created"
    )
    sides = [c if c in ("tie", "skip") else ("left" if c == left else "right") for c, left in rows]
    assert sides == ["left", "right", "tie", "skip"]
