"""Prometheus metrics for ``GET /metrics``, fed by the gateway's events.

    metrics = Metrics(events, models=["smollm2", "big"])  # subscribes to the events below
    body, content_type = metrics.render()                 # the text exposition format
    metrics.set_queue_depth(n)                            # pending reviews, set when /metrics is read

Every metric lives in a registry of its own (:attr:`Metrics.registry`), so several gateways in one
process (tests, an embedding application) never collide. Label values are bounded: model names are the
configured routes (anything else reads ``unknown``), validators, categories, endpoints and kinds are
cut to a safe alphabet and to :data:`MAX_LABEL_VALUES` distinct values each (later ones read ``other``).
No metric is labelled by key, request or any text a client sent.

=============================================  =========  ======================================
metric                                         type       labels
=============================================  =========  ======================================
alignkit_gateway_requests_total                counter    model, endpoint, status
alignkit_gateway_blocks_total                  counter    validator, category, rail
alignkit_gateway_guard_decisions_total         counter    validator, rail, action
alignkit_gateway_stage_duration_seconds        histogram  stage (auth .. total), model
alignkit_gateway_tokens_total                  counter    model, kind (prompt, completion)
alignkit_gateway_upstream_errors_total         counter    model, kind (timeout, error, circuit_open)
alignkit_gateway_upstream_circuit_state        gauge      model (0 closed, 1 half open, 2 open)
alignkit_gateway_escalations_total             counter    model, validator
alignkit_gateway_review_queue_depth            gauge
alignkit_gateway_reviews_decided_total         counter    decision
alignkit_gateway_feedback_total                counter    rating (up, down, none)
alignkit_gateway_log_write_errors_total        counter
alignkit_gateway_start_time_seconds            gauge
=============================================  =========  ======================================
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

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
from alignkit.gateway.recent import Recent

__all__ = ["BLOCKING_ACTIONS", "LATENCY_BUCKETS", "MAX_LABEL_VALUES", "METRIC_NAMES", "Metrics", "is_blocking"]

PREFIX = "alignkit_gateway_"
MAX_LABEL_VALUES = 50  # distinct values per label before new ones read "other": bounded series per metric
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
"""Seconds: a guard stage takes a fraction of a millisecond, a long generation minutes."""
BLOCKING_ACTIONS = frozenset({"exception", "refrain", "escalate"})
"""On-fail actions after which the client does not get what it asked for (and ``X->refrain``: a repair
that failed closed)."""
BREAKER_STATES = {"closed": 0, "half_open": 1, "open": 2}
STAGES = ("auth", "limits", "input_guard", "upstream", "output_guard", "total")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # what generate_latest writes
_SAFE = re.compile(r"[^A-Za-z0-9_.:/+-]")

METRIC_NAMES: tuple[str, ...] = tuple(
    PREFIX + n
    for n in (
        "requests_total",
        "blocks_total",
        "guard_decisions_total",
        "stage_duration_seconds",
        "tokens_total",
        "upstream_errors_total",
        "upstream_circuit_state",
        "escalations_total",
        "review_queue_depth",
        "reviews_decided_total",
        "feedback_total",
        "log_write_errors_total",
        "start_time_seconds",
    )
)
"""Every metric :class:`Metrics` exports (histograms also export ``_bucket``, ``_sum`` and ``_count``)."""


def is_blocking(action: str | None) -> bool:
    return action is not None and (action in BLOCKING_ACTIONS or action.endswith("->refrain"))


class Bounded:
    """One label's values: cut to a safe alphabet and 64 characters, at most ``limit`` distinct ones
    (or only ``allowed`` ones, when given); the rest read ``other`` (``unknown`` outside ``allowed``)."""

    def __init__(self, limit: int = MAX_LABEL_VALUES, allowed: Iterable[str] | None = None) -> None:
        self.limit = limit
        self.allowed = None if allowed is None else {self._clean(a) for a in allowed}
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    @staticmethod
    def _clean(value: object) -> str:
        text = "none" if value is None else str(value)[:64]
        return _SAFE.sub("_", text) or "none"

    def __call__(self, value: object) -> str:
        clean = self._clean(value)
        if self.allowed is not None:
            return clean if clean in self.allowed else "unknown"
        with self._lock:
            if clean in self._seen:
                return clean
            if len(self._seen) >= self.limit:
                return "other"
            self._seen.add(clean)
            return clean


class Metrics:
    """The gateway's Prometheus metrics (see the module docstring), and :attr:`recent`, the last day per
    minute for the dashboard. ``models``: the configured route names (bounds the ``model`` label)."""

    def __init__(self, events: Events, *, models: Iterable[str] | None = None) -> None:
        self.events = events
        self.registry = CollectorRegistry(auto_describe=True)
        self.recent = Recent()
        self.started = time.time()
        allowed = None if models is None else [*models, "none"]
        self._model = Bounded(allowed=allowed)
        self._validator, self._category, self._endpoint = Bounded(), Bounded(), Bounded()
        self._action, self._kind, self._decision = Bounded(), Bounded(), Bounded()
        self._totals: dict[str, float] = {"requests": 0, "upstream_errors": 0, "log_write_errors": 0}
        self._breakers: dict[str, str] = {}
        self._build()
        self._subscribe()

    def _build(self) -> None:
        r, p = self.registry, PREFIX
        self.requests = Counter(p + "requests", "Requests finished.", ["model", "endpoint", "status"], registry=r)
        self.blocks = Counter(
            p + "blocks",
            "Guard decisions that stopped a request or its answer.",
            ["validator", "category", "rail"],
            registry=r,
        )
        self.decisions = Counter(
            p + "guard_decisions",
            "Validator verdicts (action none: passed).",
            ["validator", "rail", "action"],
            registry=r,
        )
        self.stages = Histogram(
            p + "stage_duration_seconds",
            "Time per stage of a request.",
            ["stage", "model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(p + "tokens", "Tokens in prompts and completions.", ["model", "kind"], registry=r)
        self.upstream_errors = Counter(
            p + "upstream_errors", "Upstream calls that failed after retries.", ["model", "kind"], registry=r
        )
        self.breaker = Gauge(
            p + "upstream_circuit_state", "Circuit breaker: 0 closed, 1 half open, 2 open.", ["model"], registry=r
        )
        self.escalations = Counter(
            p + "escalations", "Conversations sent to human review.", ["model", "validator"], registry=r
        )
        self.queue_depth = Gauge(p + "review_queue_depth", "Reviews waiting for a reviewer.", registry=r)
        self.reviews_decided = Counter(p + "reviews_decided", "Reviewer decisions.", ["decision"], registry=r)
        self.feedback = Counter(p + "feedback", "User feedback received.", ["rating"], registry=r)
        self.log_write_errors = Counter(
            p + "log_write_errors", "Request log lines that could not be written (disk full, ...).", registry=r
        )
        Gauge(p + "start_time_seconds", "When this gateway started (unix time).", registry=r).set(self.started)

    def _subscribe(self) -> None:
        on = self.events.subscribe
        on(RequestDone, self.on_request)
        on(GuardDecision, self.on_decision)
        on(UpstreamFailure, self.on_upstream_failure)
        on(BreakerChanged, self.on_breaker)
        on(Escalated, self.on_escalated)
        on(ReviewDecided, lambda e: self.reviews_decided.labels(self._decision(e.decision)).inc())
        on(FeedbackReceived, self.on_feedback)
        on(LogWriteFailed, self.on_log_write_failed)

    # -- subscribers -------------------------------------------------------------------------------------
    def on_request(self, e: RequestDone) -> None:
        model = self._model(e.model)
        self.requests.labels(model, self._endpoint(e.endpoint), str(int(e.status))).inc()
        for stage, seconds in e.stages_s.items():
            if stage in STAGES and seconds >= 0:
                self.stages.labels(stage, model).observe(seconds)
        if e.prompt_tokens > 0:
            self.tokens.labels(model, "prompt").inc(e.prompt_tokens)
        if e.completion_tokens > 0:
            self.tokens.labels(model, "completion").inc(e.completion_tokens)
        self._totals["requests"] += 1
        self.recent.add(e.at, e.stages_s.get("total"), blocked=e.blocked, error=e.status >= 500)

    def on_decision(self, e: GuardDecision) -> None:
        validator, rail = self._validator(e.validator), "output" if e.rail == "output" else "input"
        action = (e.action or "unknown") if e.flagged else "none"
        self.decisions.labels(validator, rail, self._action(action)).inc()
        if e.flagged and is_blocking(e.action):
            self.blocks.labels(validator, self._category(e.category), rail).inc()

    def on_upstream_failure(self, e: UpstreamFailure) -> None:
        self.upstream_errors.labels(self._model(e.model), self._kind(e.kind)).inc()
        self._totals["upstream_errors"] += 1

    def on_breaker(self, e: BreakerChanged) -> None:
        model = self._model(e.model)
        self.breaker.labels(model).set(BREAKER_STATES.get(e.state, 2))
        self._breakers[model] = e.state if e.state in BREAKER_STATES else "open"

    def on_escalated(self, e: Escalated) -> None:
        self.escalations.labels(self._model(e.model), self._validator(e.validator)).inc()

    def on_feedback(self, e: FeedbackReceived) -> None:
        rating = "none" if e.rating is None else "up" if e.rating > 0 else "down"
        self.feedback.labels(rating).inc()

    def on_log_write_failed(self, e: LogWriteFailed) -> None:
        self.log_write_errors.inc()
        self._totals["log_write_errors"] += 1

    # -- reading -------------------------------------------------------------------------------------------
    def set_queue_depth(self, n: int) -> None:
        self.queue_depth.set(max(0, n))

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE

    def snapshot(self) -> dict[str, Any]:
        """This process's totals for the dashboard: requests, upstream errors, log write errors, breakers."""
        return {
            **{k: int(v) for k, v in self._totals.items()},
            "breakers": dict(self._breakers),
            "started": self.started,
        }
