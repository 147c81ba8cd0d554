"""The checklist's live items against real gateways served over real HTTP: a well-configured one passes
every item; limits off, no reviewers, a log that holds the probe's PII, and a gateway that is down or
silent each fail the item they break, with the reason; stderr logging and a default SLA warn."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from alignkit.checklist.config import DeployConfig
from alignkit.checklist.live import LIVE_ITEMS, live_items
from alignkit.checklist.live_logs import metric_sum, scan_log
from alignkit.checklist.model import ItemResult
from alignkit.core.model import Model
from alignkit.gateway.app import Gateway, create_app
from alignkit.gateway.config import GatewayConfig, LimitConfig
from alignkit.gateway.db import open_database
from alignkit.gateway.schema import MIGRATIONS
from alignkit.providers.mock import MockModel
from tests.gateway.live import live_server

GUARD = {
    "name": "probe-test",
    "input": [{"validator": "secrets", "on_fail": "escalate"}],
    "output": [{"validator": "pii", "on_fail": "fix"}],
}
ENV = {"user": "CK_TEST_USER_KEY", "reviewer": "CK_TEST_REVIEWER_KEY"}


def write_gateway(tmp_path: Path, **overrides: Any) -> Path:
    (tmp_path / "guard.yaml").write_text(yaml.safe_dump(GUARD))
    config = {
        "database": "gateway.sqlite",  # relative: read from the config's folder
        "limits": {"requests_per_min": 1000},
        "logging": {"path": "requests.log"},
        "review": {"sla_s": 900},
        "models": [{"name": "m", "model": "mock/echo", "guard": "guard.yaml"}],
        **overrides,
    }
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def deploy(tmp_path: Path, gateway_config: Path | None, timeout_s: float = 10.0) -> DeployConfig:
    gateway: dict[str, Any] = {"keys": ENV, "timeout_s": timeout_s}
    if gateway_config is not None:
        gateway["config"] = gateway_config.name
    return DeployConfig.model_validate({"model": "m", "gateway": gateway, "base": str(tmp_path)})


@contextmanager
def serving(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    user_rpm: int | None = 5,
    reviewer: str = "live",
    model: Model | None = None,
    **overrides: Any,
) -> Iterator[tuple[str, Path]]:
    """A gateway from ``tmp_path/gateway.yaml`` on a free loopback port, with a user probe key (limited to
    ``user_rpm``) and a reviewer key ("live", "revoked" or "none") in the environment."""
    path = write_gateway(tmp_path, **overrides)
    monkeypatch.chdir(tmp_path)  # the gateway opens its relative paths from here, as `alignkit serve` would
    gw = Gateway(GatewayConfig.from_file(path), models={"m": model} if model else None)
    limits = LimitConfig(requests_per_min=user_rpm) if user_rpm else None
    _, user = gw.keys.create("checklist-probe", ["user"], limits=limits)
    monkeypatch.setenv(ENV["user"], user)
    if reviewer != "none":
        rec, key = gw.keys.create("alice", ["reviewer"])
        monkeypatch.setenv(ENV["reviewer"], key)
        if reviewer == "revoked":
            gw.keys.revoke(rec.key_id)
    with live_server(create_app(gw)) as url:
        yield url, path


def by_id(results: list[ItemResult]) -> dict[str, ItemResult]:
    assert [r.id for r in results] == list(LIVE_ITEMS)
    return {r.id: r for r in results}


def found(result: ItemResult, what: str) -> str:
    return next(e.found for e in result.evidence if e.what.startswith(what))


def test_a_well_configured_gateway_passes_every_live_item(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serving(tmp_path, monkeypatch) as (url, path):
        got = by_id(live_items(deploy(tmp_path, path), url))
    assert {i: r.status for i, r in got.items()} == dict.fromkeys(LIVE_ITEMS, "pass"), {
        i: r.summary for i, r in got.items()
    }
    limits = got["rate_limits"]
    assert "x-ratelimit-limit-requests: 5" in found(limits, "first request")
    assert "HTTP 429" in found(limits, "request") and "retry-after:" in found(limits, "request 4: the 429")
    assert limits.details["requests_to_429"] + 2 == 6  # the logging and feedback probes used two of the five
    logs = got["logging_monitoring"]
    rid = logs.details["request_id"]
    assert rid.startswith("probe_") and logs.details["requests_after"] >= logs.details["requests_before"] + 1
    assert "request id present" in found(logs, "the request log") and "no probe PII" in found(logs, "the request log")
    assert "exchanges 1" in found(logs, "the gateway's store")
    log_text = (tmp_path / "requests.log").read_text()
    assert rid in log_text and "@example.com" not in log_text
    feedback = got["feedback"]
    db = open_database(str(tmp_path / "gateway.sqlite"), MIGRATIONS)
    try:
        row = db.read_one(
            "SELECT response_id, rating, comment FROM feedback WHERE id = ?", (feedback.details["feedback_id"],)
        )
        marked = db.read("SELECT request_id FROM exchanges")
    finally:
        db.close()
    assert row[0] == feedback.details["response_id"] and row[1] is None and "checklist probe" in row[2]
    assert all(r[0].startswith("probe_") for r in marked)  # every probe request is marked
    escalation = got["escalation"]
    assert "1: alice" in found(escalation, "live keys") and "secrets (input)" in found(escalation, "guards")
    assert escalation.details["sla_s"] == 900 and escalation.fix is None


def test_a_second_run_within_the_minute_says_the_probe_key_is_still_limited(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving(tmp_path, monkeypatch) as (url, path):
        assert by_id(live_items(deploy(tmp_path, path), url))["rate_limits"].status == "pass"
        got = by_id(live_items(deploy(tmp_path, path), url))
    assert got["rate_limits"].status == "warn" and "already over its limit of 5" in got["rate_limits"].summary
    for i in ("logging_monitoring", "feedback"):
        assert got[i].status == "fail" and "did a checklist run less than a minute ago" in got[i].summary
    assert got["escalation"].status == "pass"  # the reviewer key has its own limit


def test_a_gateway_without_limits_fails_rate_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serving(tmp_path, monkeypatch, user_rpm=None, limits={}) as (url, path):
        got = by_id(live_items(deploy(tmp_path, path), url))
    assert got["rate_limits"].status == "fail"
    assert "no request limit" in got["rate_limits"].summary and "requests_per_min" in (got["rate_limits"].fix or "")
    assert {got[i].status for i in ("logging_monitoring", "feedback", "escalation")} == {"pass"}


def test_a_key_whose_limit_is_too_high_to_exceed_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serving(tmp_path, monkeypatch, user_rpm=10_000) as (url, path):
        result = by_id(live_items(deploy(tmp_path, path), url))["rate_limits"]
    assert result.status == "fail" and "10000 requests a minute" in result.summary and "--rpm" in (result.fix or "")


def test_a_gateway_that_is_down_fails_every_item_quickly(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    t0 = time.monotonic()
    results = live_items(deploy(tmp_path, write_gateway(tmp_path)), f"http://127.0.0.1:{port}")
    assert time.monotonic() - t0 < 5
    assert [r.status for r in results] == ["fail"] * 4
    assert all("does not answer" in r.summary and "ConnectError" in r.summary for r in results)
    assert all(r.fix and "start the gateway" in r.fix for r in results)


def test_a_gateway_that_never_answers_fails_within_its_timeout(tmp_path: Path) -> None:
    with socket.socket() as s:  # accepts connections (the kernel's backlog) and never answers
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        t0 = time.monotonic()
        results = live_items(deploy(tmp_path, None, timeout_s=1.0), f"http://127.0.0.1:{s.getsockname()[1]}")
        elapsed = time.monotonic() - t0
    assert elapsed < 4
    assert [r.status for r in results] == ["fail"] * 4 and all("no answer" in r.summary for r in results)


def test_a_gateway_without_live_reviewers_fails_escalation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serving(tmp_path, monkeypatch, reviewer="revoked") as (url, path):
        result = by_id(live_items(deploy(tmp_path, path), url))["escalation"]
    assert result.status == "fail"
    assert "review queue answered 401" in result.summary and "no live key has the reviewer" in result.summary
    assert "alignkit keys create" in (result.fix or "")


def test_no_reviewer_key_in_the_environment_fails_escalation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV["reviewer"], raising=False)
    with serving(tmp_path, monkeypatch, reviewer="none") as (url, path):
        result = by_id(live_items(deploy(tmp_path, path), url))["escalation"]
    assert result.status == "fail" and f"{ENV['reviewer']} is not set" in result.summary


def leaky_model(log: Path) -> MockModel:
    """An upstream that writes each prompt into the gateway's log file (a debug line left switched on)."""

    def answer(prompt: str) -> str:
        with log.open("a") as f:
            f.write(json.dumps({"type": "debug", "prompt": prompt}) + "\n")
        return "OK"

    return MockModel.from_callable(answer)


def test_a_log_that_holds_the_probes_pii_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serving(tmp_path, monkeypatch, model=leaky_model(tmp_path / "requests.log")) as (url, path):
        got = by_id(live_items(deploy(tmp_path, path), url))
    result = got["logging_monitoring"]
    assert result.status == "fail" and "request log holds the probe's personal data" in result.summary
    assert "@example.com" in found(result, "the request log") and "request id present" in found(
        result, "the request log"
    )
    assert "no probe PII" in found(result, "the gateway's store")  # the store itself stayed clean
    assert got["feedback"].status == "pass"


def test_stderr_logging_and_a_default_sla_warn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with serving(tmp_path, monkeypatch, logging={"level": "info"}, review={}) as (url, path):
        got = by_id(live_items(deploy(tmp_path, path), url))
    assert got["logging_monitoring"].status == "warn" and "logs to stderr" in got["logging_monitoring"].summary
    assert "exchanges 1" in found(got["logging_monitoring"], "the gateway's store")  # the rest was still checked
    assert got["escalation"].status == "warn" and "review.sla_s is not set" in got["escalation"].summary


def test_a_guard_that_never_escalates_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    models = [
        {"name": "m", "model": "mock/echo", "guard": "default"},
        {"name": "raw", "model": "mock/echo", "guard": None},
    ]
    with serving(tmp_path, monkeypatch, models=models) as (url, path):
        result = by_id(live_items(deploy(tmp_path, path), url))["escalation"]
    assert result.status == "warn" and "reach review only by hand" in result.summary
    assert found(result, "guards") == "m: nothing escalates; raw: no guard"


def test_without_the_gateway_config_the_store_items_fail_and_say_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with serving(tmp_path, monkeypatch) as (url, _):
        got = by_id(live_items(deploy(tmp_path, None), url))
    for i in ("logging_monitoring", "feedback", "escalation"):
        assert got[i].status == "fail" and "gateway.config" in got[i].summary + (got[i].fix or ""), got[i].summary
    assert got["rate_limits"].status == "pass"


def check_log(tmp_path: Path, write: Callable[[Path], int], needle: str) -> tuple[bool, list[str]]:
    log = tmp_path / "x.log"
    offset = write(log)
    scan = scan_log(log, offset, "probe_0123456789abcdef0123456789ab", [needle])
    return scan.has_id, scan.leaked


def test_scan_log_reads_only_what_came_after_the_probe_began(tmp_path: Path) -> None:
    def old_leak(log: Path) -> int:  # PII before the offset is not this probe's
        log.write_text("old@example.com\n")
        size = log.stat().st_size
        with log.open("a") as f:
            f.write('{"request_id": "probe_0123456789abcdef0123456789ab"}\n')
        return size

    assert check_log(tmp_path, old_leak, "OLD@example.com") == (True, [])

    def rotated(log: Path) -> int:  # the file shrank (rotated): read from its start
        log.write_text('{"request_id": "probe_0123456789abcdef0123456789ab", "x": "Old@Example.com"}\n')
        return 10_000

    assert check_log(tmp_path, rotated, "old@example.com") == (True, ["old@example.com"])


def test_metric_sum_adds_the_matching_samples() -> None:
    text = (
        "# TYPE alignkit_gateway_requests_total counter\n"
        'alignkit_gateway_requests_total{endpoint="/v1/chat/completions",model="m",status="200"} 3.0\n'
        'alignkit_gateway_requests_total{endpoint="/v1/chat/completions",model="m",status="429"} 2.0\n'
        'alignkit_gateway_requests_total{endpoint="/v1/moderations",model="m",status="200"} 7.0\n'
        "alignkit_gateway_log_write_errors_total 0.0\n"
    )
    assert metric_sum(text, "alignkit_gateway_requests_total", endpoint="/v1/chat/completions") == 5.0
    assert metric_sum(text, "alignkit_gateway_log_write_errors_total") == 0.0
    assert metric_sum(text, "alignkit_gateway_feedback_total") is None
