"""What opens incidents: four triggers that watch the gateway's events.

=====================  ==============================================================  ==========
trigger                fires when                                                      severity
=====================  ==============================================================  ==========
jailbreak_spike        ``jailbreak_spike`` blocked jailbreak or injection attempts on   sev2
                       one model within ``window_s`` (a sliding window)
harmful_answer         a reviewer confirms an answer harmful (``ReviewDecided``)        sev2, sev1 if
                                                                                       it was delivered
escalation_backlog     ``escalation_backlog`` reviews pending, or any overdue;          sev3
                       checked on every escalation and every ``backlog_check_s``
upstream_outage        a model's circuit breaker opens, or ``upstream_failures``        sev1
                       failed calls to it within ``window_s``; a note when it closes
=====================  ==============================================================  ==========

(the severities are ``incidents.severities`` in the config). Each trigger has a subject (the model, or
none for the backlog), and while its incident is unresolved a new firing appends ``observed`` to it.

The event handlers run on the request path, so they only count in memory under a lock. When a
trigger fires, the store work (and the webhooks after it) goes to the incident worker thread: a
request never waits for the database's write lock or for a webhook.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from alignkit.core.scrub import scrub
from alignkit.gateway.config import IncidentConfig
from alignkit.gateway.db import SQL
from alignkit.gateway.events import BreakerChanged, Escalated, Events, GuardDecision, ReviewDecided, UpstreamFailure
from alignkit.gateway.incident_store import Incident, IncidentStore
from alignkit.gateway.incident_webhooks import Webhooks, Worker

__all__ = ["SlidingCount", "Triggers"]

BLOCKING_ACTIONS = frozenset({"refrain", "exception", "escalate"})  # and "fix->refrain" and the like
MAX_SUBJECTS = 1000  # models tracked at once; the least recently seen is forgotten past this


class SlidingCount:
    """Fires when ``threshold`` hits on one subject fall within ``window_s`` of each other; each hit
    carries a tag (what the incident will summarise). Memory: ``threshold`` hits per subject."""

    def __init__(self, threshold: int, window_s: float) -> None:
        self.threshold, self.window_s = threshold, window_s
        self._hits: dict[str, deque[tuple[float, Any]]] = {}
        self._lock = threading.Lock()

    def add(self, subject: str, at: float, tag: Any) -> list[Any] | None:
        """Record a hit; the tags of the ``threshold`` hits when they make a burst (which then starts over)."""
        with self._lock:
            hits = self._hits.pop(subject, None) or deque(maxlen=self.threshold)
            self._hits[subject] = hits  # re-inserted: the dict's order is least recently seen first
            if len(self._hits) > MAX_SUBJECTS:
                del self._hits[next(iter(self._hits))]
            hits.append((at, tag))
            if len(hits) < self.threshold or at - hits[0][0] > self.window_s:
                return None
            tags = [t for _, t in hits]
            hits.clear()
            return tags


def blocking(action: str | None) -> bool:
    return action is not None and (action in BLOCKING_ACTIONS or action.endswith("->refrain"))


class Triggers:
    """Subscribes the four triggers to ``events``; ``store`` work runs on ``worker``; ``webhooks`` are
    told of each incident opened."""

    def __init__(
        self, db: SQL, store: IncidentStore, config: IncidentConfig, events: Events, worker: Worker, webhooks: Webhooks
    ) -> None:
        self.db, self.store, self.config, self.worker, self.webhooks = db, store, config, worker, webhooks
        self.severities = config.severities
        self._jailbreaks = SlidingCount(config.jailbreak_spike, config.window_s)
        self._failures = SlidingCount(config.upstream_failures, config.window_s)
        self._validators = frozenset(config.jailbreak_validators)
        self._backlog_lock = threading.Lock()
        self._backlog_queued = False
        self._backlog_last: tuple[int, int] | None = None  # (pending, overdue) last written to the incident
        events.subscribe(GuardDecision, self.on_guard_decision)
        events.subscribe(UpstreamFailure, self.on_upstream_failure)
        events.subscribe(BreakerChanged, self.on_breaker_changed)
        events.subscribe(Escalated, self.on_escalated)
        events.subscribe(ReviewDecided, self.on_review_decided)
        worker.every(config.backlog_check_s, self.check_backlog, "review backlog check")

    # -- event handlers (request path: memory only) ------------------------------------------------------
    def on_guard_decision(self, e: GuardDecision) -> None:
        if not (e.flagged and e.validator in self._validators and blocking(e.action)):
            return
        tags = self._jailbreaks.add(e.model, e.at, (e.validator, e.key_id))
        if tags is None:
            return
        validators = Counter(v for v, _ in tags)
        keys = Counter(k or "(no key)" for _, k in tags)
        detail = {
            "blocked": len(tags),
            "window_s": self.config.window_s,
            "model": e.model,
            "validators": dict(validators),
            "top_keys": dict(keys.most_common(5)),
        }
        title = f"Jailbreak spike on {e.model}: {len(tags)} blocked attempts within {self.config.window_s:g} s"
        self._submit("jailbreak_spike", e.model, self.severities.jailbreak_spike, title, detail)

    def on_upstream_failure(self, e: UpstreamFailure) -> None:
        if e.kind == "circuit_open":  # refusals by an open breaker: BreakerChanged already told us
            return
        tags = self._failures.add(e.model, e.at, (e.kind, e.detail[:300]))
        if tags is None:
            return
        detail = {
            "failures": len(tags),
            "window_s": self.config.window_s,
            "model": e.model,
            "kinds": dict(Counter(k for k, _ in tags)),
            "last_error": scrub(str(tags[-1][1]))[:300],  # scrubbed at the source; once more here
        }
        title = f"Upstream outage: {e.model} ({len(tags)} failed calls within {self.config.window_s:g} s)"
        self._submit("upstream_outage", e.model, self.severities.upstream_outage, title, detail)

    def on_breaker_changed(self, e: BreakerChanged) -> None:
        if e.state == "open":
            title = f"Upstream outage: {e.model} (circuit breaker open)"
            detail = {"model": e.model, "breaker": "open"}
            self._submit("upstream_outage", e.model, self.severities.upstream_outage, title, detail)
        elif e.state == "closed":
            self.worker.submit(_job(self._breaker_closed, e.model), f"outage note for {e.model}")

    def on_escalated(self, e: Escalated) -> None:
        self.request_backlog_check()

    def on_review_decided(self, e: ReviewDecided) -> None:
        if e.harmful:
            self.worker.submit(_job(self.harmful_answer, e), f"harmful answer of review {e.review_id}")

    # -- store work (the worker thread) ----------------------------------------------------------------
    def _submit(self, trigger: str, subject: str | None, severity: str, title: str, detail: dict[str, Any]) -> None:
        self.worker.submit(_job(self.fire, trigger, subject, severity, title, detail), f"{trigger} incident")

    def fire(self, trigger: str, subject: str | None, severity: str, title: str, detail: dict[str, Any]) -> Incident:
        """Open the trigger's incident for ``subject`` (webhooks told), or add an observation to it."""
        with self.webhooks.sequence:
            incident, opened = self.store.observe(trigger, subject, severity, title, detail)
            if opened:
                self.webhooks.notify("opened", incident, title)
        return incident

    def _breaker_closed(self, model: str) -> None:
        incident = self.store.find_open(f"upstream_outage:{model}")
        if incident is not None:
            message = "circuit breaker closed: the upstream answers again (resolve when it holds)"
            self.store.record(incident.id, "note", "trigger", {"message": message, "model": model})

    def harmful_answer(self, e: ReviewDecided) -> Incident:
        """Open (or add to) the harmful-answer incident of the review's model. Delivered: the stored
        exchange shows the answer went out (not blocked, not held for review), or the reviewer approved
        it (which releases the held answer). Otherwise the escalation held it back; a review the store
        does not have counts as delivered (the worse case)."""
        review = self.db.read_one(
            "SELECT model, rail, validator, response_id FROM reviews WHERE id = ?", (e.review_id,)
        )
        delivered: bool | None = None
        model = "unknown"
        if review is not None:
            model, delivered = str(review[0]), False
            exchange = None
            if review[3]:
                exchange = self.db.read_one(
                    "SELECT blocked, escalated FROM exchanges WHERE response_id = ?", (review[3],)
                )
            if exchange is not None:
                delivered = not exchange[0] and not exchange[1]
            delivered = delivered or e.decision == "approved"  # approving releases the held answer
        sev = self.severities.harmful_answer if delivered is False else self.severities.harmful_answer_delivered
        how = {True: "delivered to the user", False: "held back", None: "delivery unknown"}[delivered]
        detail = {
            "review_id": e.review_id,
            "decision": e.decision,
            "reviewer": e.reviewer,
            "model": model,
            "rail": None if review is None else review[1],
            "validator": None if review is None else review[2],
            "delivered": delivered,
        }
        return self.fire("harmful_answer", model, sev, f"Harmful answer confirmed on {model} ({how})", detail)

    def request_backlog_check(self) -> None:
        """Queue one backlog check (requests while one is queued share it)."""
        with self._backlog_lock:
            if self._backlog_queued:
                return
            self._backlog_queued = True
        if not self.worker.submit(_job(self.check_backlog), "review backlog check"):
            with self._backlog_lock:
                self._backlog_queued = False

    def check_backlog(self) -> Incident | None:
        """Open (or add to) the backlog incident when reviews pile up or are overdue; a note once the
        backlog is back under the threshold. Observations are added when the backlog doubles, not on
        every new review, so the timeline stays readable."""
        with self._backlog_lock:
            self._backlog_queued = False
        row = self.db.read_one(
            "SELECT COUNT(*), SUM(CASE WHEN due < ? THEN 1 ELSE 0 END) FROM reviews WHERE status = 'pending'",
            (self.store.clock(),),
        )
        pending, overdue = int(row[0] or 0), int(row[1] or 0)
        last = self._backlog_last
        if pending < self.config.escalation_backlog and not overdue:
            if last is not None:
                self._backlog_last = None
                incident = self.store.find_open("escalation_backlog")
                if incident is not None:
                    message = f"backlog back under the threshold: {pending} pending, none overdue"
                    self.store.record(incident.id, "note", "trigger", {"message": message})
            return None
        worse = last is None or pending >= 2 * last[0] or overdue >= max(1, 2 * last[1])
        if not worse and self.store.find_open("escalation_backlog") is not None:
            return None
        self._backlog_last = (pending, overdue)
        title = f"Review backlog: {pending} pending, {overdue} overdue"
        detail = {"pending": pending, "overdue": overdue, "threshold": self.config.escalation_backlog}
        return self.fire("escalation_backlog", None, self.severities.escalation_backlog, title, detail)


def _job(fn: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    """A worker job that calls ``fn(*args)`` on the worker thread."""

    async def run() -> Any:
        return fn(*args)

    return run
