"""Incidents in the gateway's store: opened by a trigger or a person, acknowledged, resolved, each with a
timeline of what happened to it.

    store = IncidentStore(db, runbook="https://wiki/runbook", owner="oncall")
    incident, opened = store.observe("upstream_outage", "big", "sev1", "Upstream outage: big", {"failures": 10})
    store.acknowledge(incident.id, actor="ak-1234")        # open -> acknowledged
    store.resolve(incident.id, actor="ak-1234", note="vLLM restarted")
    store.timeline(incident.id)                            # opened, observed, acknowledged, resolved, ...

One unresolved incident per ``dedup_key`` (a trigger and its subject, such as ``upstream_outage:big``):
:meth:`IncidentStore.observe` opens it the first time and appends an ``observed`` event to it after
that. The store enforces it with a partial unique index, so two gateways sharing PostgreSQL that see
the same outage at once still open one incident. Status changes are conditional updates (``WHERE
status = 'open'``) committed together with their timeline event: a second resolve finds nothing to
change and gets :class:`TransitionError`, never a second ``resolved`` event.

Every call blocks on the database; the gateway makes them from its incident worker thread or through
``asyncio.to_thread``, never on the request path.
"""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from alignkit.core.errors import AlignkitError
from alignkit.gateway.db import SQL
from alignkit.gateway.schema import new_id

__all__ = [
    "SEVERITIES",
    "STATUSES",
    "Incident",
    "IncidentError",
    "IncidentNotFound",
    "IncidentStore",
    "TimelineEvent",
    "TransitionError",
]

SEVERITIES = ("sev1", "sev2", "sev3", "sev4")  # sev1 is the worst
STATUSES = ("open", "acknowledged", "resolved")
LIST_FILTERS = (*STATUSES, "active", "all")  # active: not resolved yet
MAX_TITLE_CHARS = 200
MAX_NOTE_CHARS = 4000
MAX_DETAIL_CHARS = 8000  # one timeline event's JSON; a bigger one keeps its message, cut
MAX_TIMELINE = 1000  # events shown per incident (the newest ones)
MAX_LIST = 1000

_COLUMNS = "id, trigger, dedup_key, severity, title, status, owner, runbook, opened, acknowledged, resolved"
_SELECT = f"SELECT {_COLUMNS} FROM incidents"  # noqa: S608 (constant text)
_BY_ID = f"{_SELECT} WHERE id = ?"
_OPEN_BY_KEY = f"{_SELECT} WHERE dedup_key = ? AND status <> 'resolved'"
_LISTS = {
    "all": f"{_SELECT} ORDER BY opened DESC, id DESC LIMIT ?",
    "active": f"{_SELECT} WHERE status <> 'resolved' ORDER BY opened DESC, id DESC LIMIT ?",
    **{s: f"{_SELECT} WHERE status = '{s}' ORDER BY opened DESC, id DESC LIMIT ?" for s in STATUSES},
}
_INSERT = f"INSERT INTO incidents ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608 (constant text)


class IncidentError(AlignkitError):
    """An incident operation that cannot be done."""


class IncidentNotFound(IncidentError, LookupError):
    """No incident has this id."""


class TransitionError(IncidentError):
    """The incident's status does not allow this change (resolving a resolved incident, say)."""


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    trigger: str  # jailbreak_spike | harmful_answer | escalation_backlog | upstream_outage | manual
    dedup_key: str  # the trigger and its subject: one unresolved incident per key
    severity: str  # sev1 .. sev4
    title: str
    status: str  # open | acknowledged | resolved
    owner: str | None
    runbook: str | None
    opened: float
    acknowledged: float | None
    resolved: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "incident",
            "trigger": self.trigger,
            "dedup_key": self.dedup_key,
            "severity": self.severity,
            "title": self.title,
            "status": self.status,
            "owner": self.owner,
            "runbook": self.runbook,
            "opened": self.opened,
            "acknowledged": self.acknowledged,
            "resolved": self.resolved,
        }


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    id: str
    incident_id: str
    at: float
    kind: str  # opened | observed | acknowledged | resolved | note | webhook
    actor: str | None  # a key id, a CLI user, "trigger" or "webhook"
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at, "kind": self.kind, "actor": self.actor, "detail": self.detail}


def more_severe(a: str, b: str) -> bool:
    """Whether severity ``a`` is worse than ``b`` (sev1 is worse than sev2)."""
    return SEVERITIES.index(a) < SEVERITIES.index(b)


def check_severity(severity: str) -> str:
    if severity not in SEVERITIES:
        raise IncidentError(f"severity must be one of {', '.join(SEVERITIES)}; got {severity[:20]!r}")
    return severity


class IncidentStore:
    """Incidents and their timelines in the gateway's database. ``runbook`` and ``owner`` are given to
    every new incident (a manual one may name its own owner); ``clock`` is injectable for tests."""

    def __init__(
        self,
        db: SQL,
        *,
        runbook: str | None = None,
        owner: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db, self.runbook, self.owner, self.clock = db, runbook, owner, clock

    # -- opening ---------------------------------------------------------------------------------------
    def observe(
        self, trigger: str, subject: str | None, severity: str, title: str, detail: Mapping[str, Any]
    ) -> tuple[Incident, bool]:
        """Open an incident for ``trigger`` and ``subject``, or, while one is unresolved, append an
        ``observed`` event to it (raising its severity when this observation is worse). Returns the
        incident and whether it was opened now."""
        check_severity(severity)
        dedup_key = f"{trigger}:{subject}" if subject else trigger
        try:
            return self._observe(trigger, dedup_key, severity, title, detail)
        except Exception:  # another gateway opened it between our read and our insert: observe that one
            if self.find_open(dedup_key) is None:
                raise
            return self._observe(trigger, dedup_key, severity, title, detail)

    def _observe(
        self, trigger: str, dedup_key: str, severity: str, title: str, detail: Mapping[str, Any]
    ) -> tuple[Incident, bool]:
        now = self.clock()
        with self.db.transaction() as conn:
            row = conn.execute(_OPEN_BY_KEY, (dedup_key,)).fetchone()
            if row is None:
                incident = Incident(
                    new_id("inc-"),
                    trigger,
                    dedup_key,
                    severity,
                    title[:MAX_TITLE_CHARS],
                    "open",
                    self.owner,
                    self.runbook,
                    now,
                    None,
                    None,
                )
                _insert(conn, incident)
                _event(conn, incident.id, now, "opened", "trigger", {"message": incident.title, **detail})
                return incident, True
            incident = _incident(row)
            extra: dict[str, Any] = {}
            if more_severe(severity, incident.severity):
                conn.execute("UPDATE incidents SET severity = ? WHERE id = ?", (severity, incident.id))
                extra = {"severity_raised": [incident.severity, severity]}
                incident = replace(incident, severity=severity)
            _event(conn, incident.id, now, "observed", "trigger", {"message": title, **detail, **extra})
            return incident, False

    def open(
        self,
        *,
        severity: str,
        title: str,
        actor: str | None,
        owner: str | None = None,
        note: str | None = None,
    ) -> Incident:
        """Open a manual incident (a person saw something no trigger watches)."""
        check_severity(severity)
        title = title.strip()
        if not title or len(title) > MAX_TITLE_CHARS:
            raise IncidentError(f"an incident needs a title of 1 to {MAX_TITLE_CHARS} characters")
        now = self.clock()
        incident_id = new_id("inc-")
        incident = Incident(
            incident_id,
            "manual",
            f"manual:{incident_id}",
            severity,
            title,
            "open",
            owner or self.owner,
            self.runbook,
            now,
            None,
            None,
        )
        with self.db.transaction() as conn:
            _insert(conn, incident)
            _event(conn, incident_id, now, "opened", actor, {"message": _note(note) or title})
        return incident

    # -- transitions -----------------------------------------------------------------------------------
    def acknowledge(
        self, incident_id: str, *, actor: str | None, note: str | None = None, owner: str | None = None
    ) -> Incident:
        """open -> acknowledged. The owner becomes ``owner`` if given, else stays, else becomes ``actor``."""
        detail = {"message": _note(note) or "acknowledged", "owner": owner}
        return self._transition(
            incident_id,
            "UPDATE incidents SET status = 'acknowledged', acknowledged = ?, owner = COALESCE(?, owner, ?) "
            "WHERE id = ? AND status = 'open'",
            lambda now: (now, owner, actor, incident_id),
            "acknowledged",
            actor,
            detail,
            "only an open incident can be acknowledged",
        )

    def resolve(self, incident_id: str, *, actor: str | None, note: str | None = None) -> Incident:
        """open or acknowledged -> resolved."""
        return self._transition(
            incident_id,
            "UPDATE incidents SET status = 'resolved', resolved = ? WHERE id = ? AND status <> 'resolved'",
            lambda now: (now, incident_id),
            "resolved",
            actor,
            {"message": _note(note) or "resolved"},
            "it cannot be resolved twice",
        )

    def _transition(
        self,
        incident_id: str,
        sql: str,
        args: Callable[[float], tuple[Any, ...]],
        kind: str,
        actor: str | None,
        detail: dict[str, Any],
        refusal: str,
    ) -> Incident:
        now = self.clock()
        with self.db.transaction() as conn:
            changed = conn.execute(sql, args(now)).rowcount
            row = conn.execute(_BY_ID, (incident_id,)).fetchone()
            if row is None:
                raise IncidentNotFound(f"no incident {incident_id[:80]!r}; `alignkit incidents list` shows them")
            incident = _incident(row)
            if not changed:
                raise TransitionError(f"incident {incident.id} is {incident.status}: {refusal}")
            _event(conn, incident.id, now, kind, actor, {k: v for k, v in detail.items() if v is not None})
        return incident

    def record(self, incident_id: str, kind: str, actor: str | None, detail: Mapping[str, Any]) -> None:
        """Append an event (a note, a webhook delivery) to an incident's timeline; its status stays."""
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM incidents WHERE id = ?", (incident_id,)).fetchone() is None:
                raise IncidentNotFound(f"no incident {incident_id[:80]!r}; `alignkit incidents list` shows them")
            _event(conn, incident_id, self.clock(), kind, actor, detail)

    def note(self, incident_id: str, *, actor: str | None, text: str) -> None:
        self.record(incident_id, "note", actor, {"message": _note(text) or "(empty note)"})

    # -- reading ---------------------------------------------------------------------------------------
    def get(self, incident_id: str) -> Incident:
        row = self.db.read_one(_BY_ID, (incident_id,))
        if row is None:
            raise IncidentNotFound(f"no incident {incident_id[:80]!r}; `alignkit incidents list` shows them")
        return _incident(row)

    def find_open(self, dedup_key: str) -> Incident | None:
        """The unresolved incident of ``dedup_key`` (a trigger, or ``trigger:subject``), if any."""
        row = self.db.read_one(_OPEN_BY_KEY, (dedup_key,))
        return None if row is None else _incident(row)

    def list(self, status: str = "all", limit: int = 100) -> builtins.list[Incident]:
        """The newest incidents first; ``status``: open, acknowledged, resolved, active (not resolved) or all."""
        if status not in LIST_FILTERS:
            raise IncidentError(f"status must be one of {', '.join(LIST_FILTERS)}; got {status[:20]!r}")
        rows = self.db.read(_LISTS[status], (max(1, min(limit, MAX_LIST)),))
        return [_incident(r) for r in rows]

    def timeline(self, incident_id: str, limit: int = MAX_TIMELINE) -> builtins.list[TimelineEvent]:
        """The incident's events, oldest first (the newest ``limit`` of them)."""
        rows = self.db.read(
            "SELECT id, incident_id, at, kind, actor, detail FROM incident_events WHERE incident_id = ? "
            "ORDER BY at DESC, id DESC LIMIT ?",
            (incident_id, max(1, min(limit, MAX_TIMELINE))),
        )
        return [TimelineEvent(r[0], r[1], float(r[2]), r[3], r[4], _load(r[5])) for r in reversed(rows)]


def _note(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    if len(text) > MAX_NOTE_CHARS:
        raise IncidentError(f"a note may have at most {MAX_NOTE_CHARS} characters; this one has {len(text)}")
    return text.strip()


def _insert(conn: Any, i: Incident) -> None:
    conn.execute(
        _INSERT,
        (i.id, i.trigger, i.dedup_key, i.severity, i.title, i.status, i.owner, i.runbook, i.opened, None, None),
    )


def _event(conn: Any, incident_id: str, at: float, kind: str, actor: str | None, detail: Mapping[str, Any]) -> None:
    text = json.dumps(dict(detail), ensure_ascii=False, default=str)
    if len(text) > MAX_DETAIL_CHARS:
        text = json.dumps({"message": str(detail.get("message", ""))[:MAX_NOTE_CHARS], "truncated": True})
    conn.execute(
        "INSERT INTO incident_events (id, incident_id, at, kind, actor, detail) VALUES (?, ?, ?, ?, ?, ?)",
        (new_id("ie-"), incident_id, at, kind, actor, text),
    )


def _incident(row: Any) -> Incident:
    return Incident(
        str(row[0]),
        str(row[1]),
        str(row[2]),
        str(row[3]),
        str(row[4]),
        str(row[5]),
        row[6],
        row[7],
        float(row[8]),
        None if row[9] is None else float(row[9]),
        None if row[10] is None else float(row[10]),
    )


def _load(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {"message": text}
    return value if isinstance(value, dict) else {"message": value}
