"""The gateway's Prometheus metrics: fed by events, a registry per gateway, bounded labels, and the
example alert rules (docs/gateway/alerts.yml) naming only metrics that exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from alignkit.gateway.events import (
    BreakerChanged,
    Escalated,
    Events,
    FeedbackReceived,
    GuardDecision,
    RequestDone,
    ReviewDecided,
    UpstreamFailure,
)
from alignkit.gateway.logs import LogWriteFailed
from alignkit.gateway.metrics import MAX_LABEL_VALUES, METRIC_NAMES, Metrics, is_blocking
from alignkit.gateway.recent import Recent

ALERTS = Path(__file__).parents[2] / "docs" / "gateway" / "alerts.yml"
KEY_ID = "0123456789abcdef"


def done(model: str | None = "m", status: int = 200, **kw: object) -> RequestDone:
    base: dict[str, object] = {
        "request_id": "req_1",
        "key_id": KEY_ID,
        "model": model,
        "endpoint": "/v1/chat/completions",
        "status": status,
        "blocked": False,
        "escalated": False,
        "stream": False,
        "prompt_tokens": 7,
        "completion_tokens": 11,
        "stages_s": {"auth": 0.0001, "input_guard": 0.0004, "upstream": 0.2, "total": 0.21},
    }
    return RequestDone(**{**base, **kw})  # type: ignore[arg-type]


def decision(
    validator: str = "pii", flagged: bool = True, action: str | None = "refrain", **kw: object
) -> GuardDecision:
    base: dict[str, object] = {
        "request_id": "req_1",
        "key_id": KEY_ID,
        "model": "m",
        "rail": "input",
        "validator": validator,
        "score": 0.9,
        "flagged": flagged,
        "action": action,
        "category": "EMAIL",
    }
    return GuardDecision(**{**base, **kw})  # type: ignore[arg-type]


def value(m: Metrics, name: str, **labels: str) -> float:
    got = m.registry.get_sample_value(name, labels)
    return 0.0 if got is None else got


def test_every_event_lands_in_its_metric() -> None:
    events = Events()
    m = Metrics(events, models=["m"])
    events.emit(done())
    events.emit(done(status=502))
    events.emit(decision("jailbreak", action="refrain", category="jailbreak"))
    events.emit(decision("pii", action="fix"))  # repaired, not blocked
    events.emit(decision("pii", action="fix->refrain"))  # the repair failed closed: blocked
    events.emit(decision("toxicity", flagged=False, action=None, rail="output"))
    events.emit(UpstreamFailure("req_1", "m", "timeout", "read timed out"))
    events.emit(BreakerChanged("m", "open"))
    events.emit(Escalated("rev-1", "req_1", "m", "harmful_request"))
    events.emit(ReviewDecided("rev-1", "rejected", KEY_ID, True))
    events.emit(FeedbackReceived("chatcmpl-1", -1))
    events.emit(FeedbackReceived("chatcmpl-2", None))
    events.emit(LogWriteFailed("request", "ENOSPC"))
    m.set_queue_depth(4)

    p = "alignkit_gateway_"
    assert value(m, p + "requests_total", model="m", endpoint="/v1/chat/completions", status="200") == 1
    assert value(m, p + "requests_total", model="m", endpoint="/v1/chat/completions", status="502") == 1
    assert value(m, p + "blocks_total", validator="jailbreak", category="jailbreak", rail="input") == 1
    assert value(m, p + "blocks_total", validator="pii", category="EMAIL", rail="input") == 1  # only fix->refrain
    assert value(m, p + "guard_decisions_total", validator="pii", rail="input", action="fix") == 1
    assert value(m, p + "guard_decisions_total", validator="toxicity", rail="output", action="none") == 1
    assert value(m, p + "stage_duration_seconds_count", stage="total", model="m") == 2
    assert value(m, p + "stage_duration_seconds_bucket", stage="upstream", model="m", le="0.25") == 2
    assert value(m, p + "stage_duration_seconds_bucket", stage="upstream", model="m", le="0.1") == 0
    assert value(m, p + "tokens_total", model="m", kind="prompt") == 14
    assert value(m, p + "tokens_total", model="m", kind="completion") == 22
    assert value(m, p + "upstream_errors_total", model="m", kind="timeout") == 1
    assert value(m, p + "upstream_circuit_state", model="m") == 2
    assert value(m, p + "escalations_total", model="m", validator="harmful_request") == 1
    assert value(m, p + "reviews_decided_total", decision="rejected") == 1
    assert value(m, p + "feedback_total", rating="down") == 1
    assert value(m, p + "feedback_total", rating="none") == 1
    assert value(m, p + "log_write_errors_total") == 1
    assert value(m, p + "review_queue_depth") == 4
    events.emit(BreakerChanged("m", "closed"))
    assert value(m, p + "upstream_circuit_state", model="m") == 0
    assert m.snapshot()["requests"] == 2 and m.snapshot()["breakers"] == {"m": "closed"}


def test_two_gateways_in_one_process_keep_their_own_counts() -> None:
    e1, e2 = Events(), Events()
    m1, m2 = Metrics(e1), Metrics(e2)  # a shared default registry would raise "Duplicated timeseries" here
    e1.emit(done())
    e1.emit(done())
    e2.emit(done())
    labels = {"model": "m", "endpoint": "/v1/chat/completions", "status": "200"}
    assert value(m1, "alignkit_gateway_requests_total", **labels) == 2
    assert value(m2, "alignkit_gateway_requests_total", **labels) == 1


def test_render_is_the_text_format_and_names_only_listed_metrics() -> None:
    events = Events()
    m = Metrics(events, models=["m"])
    events.emit(done())
    body, content_type = m.render()
    assert content_type.startswith("text/plain; version=0.0.4")
    # prometheus_client adds a `_created` timestamp series to counters and histograms
    families = {f.name for f in text_string_to_metric_families(body.decode()) if not f.name.endswith("_created")}
    exported = {n.removesuffix("_total") for n in METRIC_NAMES}  # the parser names counters without _total
    assert families == exported


def test_labels_are_bounded_and_never_hold_keys_or_client_text() -> None:
    events = Events()
    m = Metrics(events, models=["m"])
    secret = "ak-0123456789abcdef-" + "s" * 43
    events.emit(done(model="jane@example.com"))  # a client's invented model name
    events.emit(done(model=secret))
    for i in range(MAX_LABEL_VALUES + 10):
        events.emit(decision(f"validator_{i}", category=f"cat {i} <script>"))
    text = m.render()[0].decode()
    assert "jane@example.com" not in text and secret not in text and KEY_ID not in text
    assert 'model="unknown"' in text
    assert 'validator="other"' in text
    validators = set(re.findall(r'alignkit_gateway_blocks_total\{[^}]*validator="([^"]*)"', text))
    assert len(validators) == MAX_LABEL_VALUES + 1  # the first 50, then "other"
    assert "<script>" not in text and 'category="cat_0__script_"' in text


def test_blocking_actions() -> None:
    assert is_blocking("refrain") and is_blocking("exception") and is_blocking("escalate")
    assert is_blocking("fix->refrain") and is_blocking("reask->refrain")
    assert not is_blocking("fix") and not is_blocking("noop") and not is_blocking(None)


def test_recent_latency_quantiles_are_within_one_bin() -> None:
    r = Recent()
    for i in range(1, 1001):  # 1 ms .. 1000 ms, uniform
        r.add(60.0 * 100 + i / 100, i / 1000, blocked=i % 10 == 0, error=i > 995)
    b = r.overall(60.0 * 100)
    assert b.requests == 1000 and b.blocked == 100 and b.errors == 5
    assert b.p50_ms is not None and 500 <= b.p50_ms <= 500 * 1.25
    assert b.p99_ms is not None and 990 <= b.p99_ms <= 990 * 1.25
    buckets = r.series(60.0 * 99, 60, 3)
    assert [x.requests for x in buckets] == [0, 1000, 0]
    assert buckets[0].p50_ms is None


def test_recent_forgets_what_is_older_than_a_day() -> None:
    r = Recent()
    r.add(0.0, 0.1, blocked=False, error=False)
    r.add(2 * 86_400.0, 0.1, blocked=False, error=False)
    assert r.overall(0.0).requests == 1


# -- the example alert rules ----------------------------------------------------------------------------

PROMQL_WORDS = set(
    "sum max min avg count by without rate increase irate histogram_quantile clamp_min clamp_max and or unless "
    "offset abs absent on ignoring bool".split()
)


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads: everything left once label matchers, groupings, ranges,
    strings and numbers are taken out, less the PromQL words."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    names = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", expr))
    return names - PROMQL_WORDS


def test_alert_rules_parse_and_name_only_exported_metrics() -> None:
    rules = yaml.safe_load(ALERTS.read_text())
    exported = set(METRIC_NAMES) | {
        n + suffix for n in METRIC_NAMES if n.endswith("_seconds") for suffix in ("_bucket", "_sum", "_count")
    }
    seen: set[str] = set()
    alerts = [r for g in rules["groups"] for r in g["rules"]]
    assert len(alerts) >= 5
    for rule in alerts:
        assert rule["alert"] and rule["expr"] and rule["labels"]["severity"]
        names = metric_names(rule["expr"])
        assert names, rule["alert"]
        assert names <= exported | {"up"}, f"{rule['alert']} names unknown metrics: {names - exported - {'up'}}"
        seen |= names
    for needed in ("upstream_errors_total", "blocks_total", "stage_duration_seconds_bucket", "review_queue_depth"):
        assert "alignkit_gateway_" + needed in seen
    assert "up" in seen  # the gateway-down rule


def test_the_name_finder_sees_through_promql() -> None:
    expr = 'histogram_quantile(0.99, sum by (le, model) (rate(x_bucket{stage="total"}[5m]))) > 10 and up == 0'
    assert metric_names(expr) == {"x_bucket", "up"}


@pytest.mark.parametrize("state", ["open", "half_open", "closed", "weird"])
def test_breaker_states_are_numbers(state: str) -> None:
    events = Events()
    m = Metrics(events)
    events.emit(BreakerChanged("m", state))
    expected = {"open": 2, "half_open": 1, "closed": 0}.get(state, 2)
    assert value(m, "alignkit_gateway_upstream_circuit_state", model="m") == expected
