"""Incident response: each trigger fires from the gateway's events, one unresolved incident per trigger and
subject, status changes (409 on a wrong one), the admin API, `alignkit incidents`, and webhooks delivered
to a real loopback HTTP receiver (signed), with a dead webhook URL never delaying the event path."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient

from alignkit.cli.main import cli
from alignkit.core.errors import ConfigError
from alignkit.gateway.app import Gateway, create_app
from alignkit.gateway.config import GatewayConfig
from alignkit.gateway.db import open_database
from alignkit.gateway.events import BreakerChanged, GuardDecision, UpstreamFailure
from alignkit.gateway.incident_report import postmortem
from alignkit.gateway.incident_store import Incident, IncidentNotFound, IncidentStore, TransitionError
from alignkit.gateway.incident_triggers import SlidingCount
from alignkit.gateway.incident_webhooks import verify_signature
from alignkit.gateway.schema import MIGRATIONS
from tests.gateway.humans import bearer, make_gateway, make_keys, seed_review

SECRET = "whsec-test-0123456789abcdef"


# -- a real webhook receiver on loopback ------------------------------------------------------------------
class Receiver:
    """A tiny HTTP server in a thread that records every POST and answers ``statuses`` in order (then 200)."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.statuses = list(statuses or [])
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests.append((self.path, dict(self.headers.items()), body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T0KEN-in-the-path"

    def wait(self, n: int, timeout: float = 10.0) -> list[tuple[str, dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.requests

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def blackhole() -> Iterator[str]:
    """A URL whose server accepts the connection (the kernel does) and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/never"
    sock.close()


def gateway(tmp_path: Path, **incidents: Any) -> Gateway:
    return make_gateway(tmp_path, incidents={"runbook": "https://wiki/runbook", "owner": "oncall", **incidents})


def close(gw: Gateway) -> None:
    asyncio.run(gw.aclose())


@pytest.fixture
def gw(tmp_path: Path) -> Iterator[Gateway]:
    g = gateway(tmp_path, jailbreak_spike=3, window_s=60, upstream_failures=3, escalation_backlog=3)
    yield g
    close(g)


def settled(gw: Gateway) -> IncidentStore:
    assert gw.incidents.wait_idle(10)
    return gw.incidents.store


def blocked(
    model: str = "m", at: float | None = None, validator: str = "jailbreak", action: str = "refrain"
) -> GuardDecision:
    return GuardDecision("req", "key1", model, "input", validator, 0.97, True, action, at=at or time.time())


def wait_for_incident(gw: Gateway) -> Incident:
    deadline = time.monotonic() + 5
    while not (found := gw.incidents.store.list()) and time.monotonic() < deadline:
        time.sleep(0.005)
    return found[0]


def kinds(store: IncidentStore, incident: Incident) -> list[str]:
    return [e.kind for e in store.timeline(incident.id)]


# -- triggers ---------------------------------------------------------------------------------------------
def test_jailbreak_spike_opens_one_incident_per_model_and_later_spikes_are_observations(gw: Gateway) -> None:
    ev = gw.events
    ev.emit(blocked())
    ev.emit(blocked(validator="prompt_injection", action="fix->refrain"))
    ev.emit(blocked(action="noop"))  # flagged but let through: not a blocked attempt
    ev.emit(blocked(validator="toxicity"))  # not a jailbreak validator
    ev.emit(GuardDecision("req", "key1", "m", "input", "jailbreak", 0.1, False, None))  # not flagged
    assert settled(gw).list() == []
    ev.emit(blocked(validator="jailbreak", action="exception"))
    [incident] = settled(gw).list()
    assert (incident.trigger, incident.dedup_key, incident.severity, incident.status) == (
        "jailbreak_spike", "jailbreak_spike:m", "sev2", "open"
    )  # fmt: skip
    assert incident.owner == "oncall" and incident.runbook == "https://wiki/runbook"
    opened = gw.incidents.store.timeline(incident.id)[0]
    assert opened.detail["blocked"] == 3 and opened.detail["validators"] == {"jailbreak": 2, "prompt_injection": 1}
    for _ in range(3):  # the next spike on the same model: observed, not a second incident
        ev.emit(blocked())
    for _ in range(3):
        ev.emit(blocked(model="other"))
    store = settled(gw)
    assert sorted(i.dedup_key for i in store.list()) == ["jailbreak_spike:m", "jailbreak_spike:other"]
    assert kinds(store, incident) == ["opened", "observed"]


def test_the_spike_window_slides() -> None:
    count = SlidingCount(3, window_s=60)
    assert [count.add("m", at, None) for at in (0, 50, 100, 170)] == [None, None, None, None]  # never 3 in 60 s
    assert count.add("m", 180, "c") is None and count.add("m", 181, "d") == [None, "c", "d"]  # 170, 180, 181
    assert count.add("m", 182, "e") is None  # the burst started over


def exchange(gw: Gateway, review_id: str, *, escalated: bool) -> None:
    """The exchange of a review as the request path stores it: held for review, or delivered."""
    review = gw.reviews.get(review_id)
    assert review is not None
    gw.db.write(
        "INSERT INTO exchanges (response_id, request_id, at, key_id, model, messages, answer, blocked, escalated) "
        "VALUES (?, 'req', ?, NULL, 'm', '[]', ?, 0, ?)",
        (review.response_id, time.time(), "held for review" if escalated else "the harmful answer", int(escalated)),
    )


def test_harmful_answer_is_sev2_when_held_and_raises_to_sev1_once_one_was_delivered(gw: Gateway) -> None:
    held = seed_review(gw)  # an output escalation: the answer was held back
    exchange(gw, held, escalated=True)
    gw.reviews.decide(held, "reject", reviewer="rev1", harmful=True)
    [incident] = settled(gw).list()
    assert (incident.trigger, incident.dedup_key, incident.severity) == ("harmful_answer", "harmful_answer:m", "sev2")
    assert "held back" in incident.title
    not_harmful = seed_review(gw)
    gw.reviews.decide(not_harmful, "reject", reviewer="rev1", harmful=False)
    delivered = seed_review(gw, answer=None)  # the answer went out unguarded: the exchange says so
    exchange(gw, delivered, escalated=False)
    gw.reviews.decide(delivered, "reject", reviewer="rev1", harmful=True)
    store = settled(gw)
    [incident] = store.list()
    assert incident.severity == "sev1" and kinds(store, incident) == ["opened", "observed"]
    observed = store.timeline(incident.id)[1].detail
    assert observed["delivered"] is True and observed["severity_raised"] == ["sev2", "sev1"]
    assert observed["review_id"] == delivered


def test_review_backlog_opens_on_escalations_and_notes_when_it_clears(gw: Gateway) -> None:
    ids = [seed_review(gw) for _ in range(2)]
    assert settled(gw).list() == []
    ids.append(seed_review(gw))  # 3 pending = escalation_backlog
    [incident] = settled(gw).list()
    assert (incident.trigger, incident.severity, incident.title) == (
        "escalation_backlog", "sev3", "Review backlog: 3 pending, 0 overdue"
    )  # fmt: skip
    seed_review(gw)  # 4 < 2 x 3: not worse enough for another observation
    store = settled(gw)
    assert kinds(store, incident) == ["opened"]
    for rid in ids:
        gw.reviews.decide(rid, "reject", reviewer="rev1")
    gw.incidents.triggers.check_backlog()
    timeline = store.timeline(incident.id)
    assert timeline[-1].kind == "note" and "back under the threshold" in timeline[-1].detail["message"]


def test_an_overdue_review_opens_a_backlog_incident_on_the_periodic_check(tmp_path: Path) -> None:
    gw = gateway(tmp_path, escalation_backlog=100, backlog_check_s=0.05)
    gw.db.write(
        "INSERT INTO reviews (id, request_id, created, due, model, rail, validator, reason, messages, status) "
        "VALUES ('rev-old', 'req', ?, ?, 'm', 'input', 'jailbreak', 'r', '[]', 'pending')",
        (time.time() - 7200, time.time() - 3600),
    )  # no Escalated event: only the periodic check can see it
    deadline = time.monotonic() + 5
    while not gw.incidents.store.list() and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        [incident] = gw.incidents.store.list()
        assert incident.trigger == "escalation_backlog" and "1 overdue" in incident.title
    finally:
        close(gw)


def test_upstream_outage_from_the_breaker_with_a_note_when_it_closes_and_from_failure_bursts(gw: Gateway) -> None:
    gw.events.emit(BreakerChanged("m", "open"))
    gw.events.emit(BreakerChanged("m", "half_open"))
    gw.events.emit(BreakerChanged("m", "open"))
    [incident] = settled(gw).list()
    assert (incident.dedup_key, incident.severity) == ("upstream_outage:m", "sev1")
    gw.events.emit(BreakerChanged("m", "closed"))
    store = settled(gw)
    assert kinds(store, incident) == ["opened", "observed", "note"]
    assert "closed" in store.timeline(incident.id)[-1].detail["message"]
    for _ in range(5):  # refusals by the open breaker are not failures of the upstream
        gw.events.emit(UpstreamFailure("req", "big", "circuit_open", "open"))
    assert len(settled(gw).list()) == 1
    for kind in ("timeout", "error", "timeout"):
        gw.events.emit(UpstreamFailure("req", "big", kind, "the upstream model failed: sk-abcdef0123456789abcdef"))
    store = settled(gw)
    big = store.find_open("upstream_outage:big")
    assert big is not None and big.severity == "sev1"
    detail = store.timeline(big.id)[0].detail
    assert detail["kinds"] == {"timeout": 2, "error": 1} and "sk-abcdef0123456789abcdef" not in json.dumps(detail)


# -- the store: dedup and transitions --------------------------------------------------------------------
def test_transitions_and_dedup(store_url: str) -> None:
    db = open_database(store_url, MIGRATIONS)
    store = IncidentStore(db, owner="oncall")
    a, opened = store.observe("upstream_outage", "m", "sev1", "down", {"n": 1})
    b, again = store.observe("upstream_outage", "m", "sev1", "still down", {"n": 2})
    assert opened and not again and a.id == b.id
    ack = store.acknowledge(a.id, actor="ak1", note="on it")
    assert ack.status == "acknowledged" and ack.owner == "oncall" and ack.acknowledged is not None
    with pytest.raises(TransitionError, match="only an open incident"):
        store.acknowledge(a.id, actor="ak1")
    assert store.resolve(a.id, actor="ak1", note="restarted").status == "resolved"
    with pytest.raises(TransitionError, match="resolved twice"):
        store.resolve(a.id, actor="ak1")
    with pytest.raises(IncidentNotFound):
        store.resolve("inc-nope", actor="ak1")
    assert [e.kind for e in store.timeline(a.id)] == ["opened", "observed", "acknowledged", "resolved"]
    c, reopened = store.observe("upstream_outage", "m", "sev1", "down again", {})
    assert reopened and c.id != a.id  # dedup is among unresolved incidents only
    with pytest.raises(Exception, match=r"(?i)unique"):  # the database itself refuses a second open one
        db.write(
            "INSERT INTO incidents (id, opened, trigger, dedup_key, severity, title, status) "
            "VALUES ('inc-x', 0, 'upstream_outage', 'upstream_outage:m', 'sev1', 't', 'open')"
        )
    manual = store.open(severity="sev3", title="  odd answers  ", actor="ak1", owner="ann")
    assert (manual.title, manual.owner, manual.trigger) == ("odd answers", "ann", "manual")
    assert [i.id for i in store.list("active")] == [manual.id, c.id] and store.list("resolved") == [store.get(a.id)]
    db.close()


def test_gateways_sharing_a_store_that_see_one_outage_at_once_open_one_incident(store_url: str) -> None:
    dbs = [open_database(store_url, MIGRATIONS) for _ in range(2)]  # two gateway processes' connections
    stores = [IncidentStore(db) for db in dbs]
    start = threading.Barrier(8)
    results: list[tuple[Incident, bool]] = []

    def observe(store: IncidentStore) -> None:
        start.wait()
        results.append(store.observe("upstream_outage", "big", "sev1", "down", {}))

    threads = [threading.Thread(target=observe, args=(stores[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    try:
        assert len(results) == 8 and sum(opened for _, opened in results) == 1
        assert len({i.id for i, _ in results}) == 1
        assert sorted(kinds(stores[0], results[0][0])) == ["observed"] * 7 + ["opened"]
    finally:
        for db in dbs:
            db.close()


# -- the API ----------------------------------------------------------------------------------------------
def test_api_needs_admin_and_reports_wrong_transitions_as_409(tmp_path: Path) -> None:
    g = gateway(tmp_path)
    keys = make_keys(g)
    admin = bearer(keys.admin)
    with TestClient(create_app(g)) as c:
        assert c.get("/v1/incidents").status_code == 401
        assert c.get("/v1/incidents", headers=bearer(keys.reviewer)).status_code == 403
        r = c.post("/v1/incidents", json={"severity": "sev2", "title": "bad answers on m", "note": "from support"},
                   headers=admin)  # fmt: skip
        assert r.status_code == 201
        inc = r.json()
        assert inc["status"] == "open" and inc["owner"] == "oncall" and inc["runbook"] == "https://wiki/runbook"
        assert c.post("/v1/incidents", json={"severity": "sev9", "title": "x"}, headers=admin).status_code == 400
        assert (
            c.post("/v1/incidents", json={"severity": "sev2", "title": "x", "extra": 1}, headers=admin).status_code
            == 400
        )
        assert c.post("/v1/incidents", json={"severity": "sev2", "title": "x" * 201}, headers=admin).status_code == 400
        r = c.post(f"/v1/incidents/{inc['id']}/ack", json={"note": "looking", "owner": "bob"}, headers=admin)
        assert r.status_code == 200 and r.json()["status"] == "acknowledged" and r.json()["owner"] == "bob"
        r = c.post(f"/v1/incidents/{inc['id']}/ack", headers=admin)
        assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transition"
        assert c.post(f"/v1/incidents/{inc['id']}/resolve", json={"note": "fixed"}, headers=admin).status_code == 200
        assert c.post(f"/v1/incidents/{inc['id']}/resolve", headers=admin).status_code == 409
        assert c.post("/v1/incidents/inc-nope/resolve", headers=admin).status_code == 404
        shown = c.get(f"/v1/incidents/{inc['id']}", headers=admin).json()
        assert [(e["kind"], e["detail"]["message"]) for e in shown["timeline"]] == [
            ("opened", "from support"), ("acknowledged", "looking"), ("resolved", "fixed"),
        ]  # fmt: skip
        assert all(e["actor"] == keys_id(keys.admin) for e in shown["timeline"])
        assert c.get("/v1/incidents?status=active", headers=admin).json()["data"] == []
        assert [i["id"] for i in c.get("/v1/incidents?status=resolved", headers=admin).json()["data"]] == [inc["id"]]
        assert c.get("/v1/incidents?status=nope", headers=admin).status_code == 400


def keys_id(token: str) -> str:
    return token.split("-")[1]


# -- webhooks ---------------------------------------------------------------------------------------------
def test_webhooks_are_signed_retried_and_recorded_in_the_timeline(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIGNKIT_TEST_WEBHOOK_SECRET", SECRET)
    receiver.statuses = [503]  # the first attempt fails: retried
    g = gateway(tmp_path, webhooks=[receiver.url], webhook_secret_env="ALIGNKIT_TEST_WEBHOOK_SECRET",
                upstream_failures=1)  # fmt: skip
    try:
        g.events.emit(UpstreamFailure("req", "m", "timeout", "no answer"))
        incident = wait_for_incident(g)  # acknowledged and resolved while "opened" waits for its retry
        g.incidents.acknowledge(incident.id, actor="ak1", note="on it")
        g.incidents.resolve(incident.id, actor="ak1", note="back")
        got = receiver.wait(4)
        hooks = [e.detail for e in settled(g).timeline(incident.id) if e.kind == "webhook"]
    finally:
        close(g)
    assert len(got) == 4  # opened (twice: 503, then 200), acknowledged, resolved
    for path, headers, body in got:
        assert path == "/hooks/T0KEN-in-the-path" and headers["Content-Type"] == "application/json"
        expected = hmac.new(SECRET.encode(), headers["X-Alignkit-Timestamp"].encode() + b"." + body, hashlib.sha256)
        assert hmac.compare_digest(headers["X-Alignkit-Signature"], "sha256=" + expected.hexdigest())
        assert abs(time.time() - int(headers["X-Alignkit-Timestamp"])) < 60
        stamp, signature = headers["X-Alignkit-Timestamp"], headers["X-Alignkit-Signature"]
        assert verify_signature(SECRET.encode(), stamp, body, signature)  # the helper receivers may use
        assert not verify_signature(SECRET.encode(), stamp, body + b" ", signature)
        assert not verify_signature(SECRET.encode(), stamp, body, signature, now=int(stamp) + 3600)  # a replay
    assert got[0][1]["X-Alignkit-Delivery"] == got[1][1]["X-Alignkit-Delivery"]  # a retry keeps its delivery id
    # ...and the incident's later messages wait for it: a receiver never sees "resolved" before "opened"
    payloads = [json.loads(b) for _, _, b in got[1:]]
    assert [p["event"] for p in payloads] == ["incident.opened", "incident.acknowledged", "incident.resolved"]
    assert payloads[0]["incident"]["id"] == incident.id and payloads[0]["text"].startswith("[sev1] opened: ")
    assert payloads[2]["incident"]["status"] == "resolved" and payloads[2]["message"] == "back"
    assert sorted((h["event"], h["ok"], h["attempts"], h["status"]) for h in hooks) == [
        ("acknowledged", True, 1, 200), ("opened", True, 2, 200), ("resolved", True, 1, 200),
    ]  # fmt: skip
    assert all("T0KEN" not in json.dumps(h) and h["target"].startswith("http://127.0.0.1:") for h in hooks)


def test_a_dead_webhook_never_delays_the_event_path_and_shutdown_waits_bounded(
    tmp_path: Path, blackhole: str, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [404, 404, 404]  # a 4xx is not retried
    g = gateway(tmp_path, webhooks=[blackhole, receiver.url], webhook_timeout_s=30, webhook_drain_s=0.3,
                jailbreak_spike=2, window_s=60)  # fmt: skip
    start = time.perf_counter()
    for model in ("a", "b", "c"):
        g.events.emit(blocked(model=model))
        g.events.emit(blocked(model=model))
    assert time.perf_counter() - start < 0.5  # six events, three incidents opened, six webhooks: no waiting
    deadline = time.monotonic() + 5
    while len(g.incidents.store.list()) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(g.incidents.store.list()) == 3  # the store work is not stuck behind the dead URL
    assert len(receiver.wait(3)) == 3  # nor is the live URL
    start = time.perf_counter()
    close(g)
    assert time.perf_counter() - start < 6  # drain 0.3 s, not the 30 s webhook timeout
    db = open_database(str(tmp_path / "g.sqlite"), MIGRATIONS)
    store = IncidentStore(db)
    hooks = [e.detail for i in store.list() for e in store.timeline(i.id) if e.kind == "webhook"]
    db.close()
    assert sorted((h["ok"], h["status"], h["attempts"]) for h in hooks if h["status"] == 404) == [(False, 404, 1)] * 3
    dead = [h for h in hooks if h["status"] is None]
    assert len(dead) == 3 and all(h["error"].startswith("given up") and not h["ok"] for h in dead)
    assert "never" not in caplog.text and "T0KEN" not in caplog.text  # logs name the host only


def test_webhook_config_is_checked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "gateway.yaml"
    config.write_text(
        yaml.safe_dump({"models": [{"name": "m", "model": "mock/echo"}], "incidents": {"webhooks": ["ftp://t0k@h/x"]}})
    )
    with pytest.raises(ConfigError, match=r"incidents: .*webhooks\[0\] is not an http") as e:
        GatewayConfig.from_file(config)
    assert "t0k" not in str(e.value)  # a webhook URL may hold a token: the error does not repeat it
    monkeypatch.delenv("NO_SUCH_SECRET_ENV", raising=False)
    with pytest.raises(ConfigError, match="NO_SUCH_SECRET_ENV is not set"):
        gateway(tmp_path, webhooks=["https://hooks.example/x"], webhook_secret_env="NO_SUCH_SECRET_ENV")


# -- the CLI ----------------------------------------------------------------------------------------------
def test_cli_lists_shows_acks_resolves_and_exports(tmp_path: Path, receiver: Receiver) -> None:
    config = tmp_path / "gateway.yaml"
    db_path = tmp_path / "g.sqlite"
    config.write_text(yaml.safe_dump({
        "database": str(db_path),
        "models": [{"name": "m", "model": "mock/echo", "guard": None}],
        "incidents": {"webhooks": [receiver.url], "runbook": "https://wiki/runbook", "owner": "oncall"},
    }))  # fmt: skip
    db = open_database(str(db_path), MIGRATIONS)
    store = IncidentStore(db, runbook="https://wiki/runbook", owner="oncall")
    outage, _ = store.observe("upstream_outage", "m", "sev1", "Upstream outage: m | pipes", {"failures": 10})
    other = store.open(severity="sev3", title="slow reviews", actor="ak1")
    db.close()

    def run(*args: str) -> Any:
        return CliRunner().invoke(cli, ["incidents", *args, "--config", str(config)])

    out = run("list")
    assert out.exit_code == 0 and outage.id in out.output and other.id in out.output
    lines = run("list", "--json", "--status", "open").output.splitlines()
    assert {json.loads(x)["id"] for x in lines} == {outage.id, other.id}
    out = run("show", outage.id)
    assert out.exit_code == 0 and "sev1" in out.output and "opened" in out.output and "failures=10" in out.output
    out = run("ack", outage.id, "--note", "looking", "--by", "ann")
    assert out.exit_code == 0 and "acknowledged" in out.output and "webhooks: 1 of 1 delivered" in out.output
    assert json.loads(receiver.wait(1)[0][2])["event"] == "incident.acknowledged"
    assert run("resolve", outage.id, "--note", "restarted vLLM", "--no-webhooks").exit_code == 0
    out = run("resolve", outage.id)
    assert out.exit_code == 1 and "resolved twice" in out.output and len(receiver.requests) == 1
    assert run("show", "inc-nope").exit_code == 1
    out = run("export", "--status", "all")
    records = [json.loads(x) for x in out.output.splitlines()]
    assert {r["id"] for r in records} == {outage.id, other.id}
    mine = next(r for r in records if r["id"] == outage.id)
    assert [e["kind"] for e in mine["timeline"]] == ["opened", "acknowledged", "webhook", "resolved"]
    md = tmp_path / "postmortem.md"
    assert run("export", outage.id, "--format", "markdown", "--out", str(md)).exit_code == 0
    text = md.read_text()
    assert text.startswith("# Postmortem: Upstream outage: m \\| pipes") and "| Severity | sev1 |" in text
    assert "restarted vLLM" in text and "## Action items" in text and "| Runbook | https://wiki/runbook |" in text


def test_the_postmortem_keeps_hostile_text_inside_its_table_cells(tmp_path: Path) -> None:
    db = open_database(str(tmp_path / "g.sqlite"), MIGRATIONS)
    store = IncidentStore(db)
    incident = store.open(severity="sev2", title="x", actor="a", note="line one\n| injected | row |\n<script>")
    text = postmortem(incident, store.timeline(incident.id))
    db.close()
    [row] = [line for line in text.splitlines() if "| opened |" in line]
    assert row.endswith("| line one \\| injected \\| row \\| &lt;script&gt; |") and "<script>" not in text
    assert row.replace("\\|", "").count("|") == 5  # four cells, whatever the note held
