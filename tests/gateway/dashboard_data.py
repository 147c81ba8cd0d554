"""Rows for the dashboard's tests: traffic, guard decisions, reviews and incidents at known times, written
through the gateway's own store (SQLite or PostgreSQL)."""

from __future__ import annotations

import json

from alignkit.gateway.db import SQL
from alignkit.gateway.schema import new_id

NOW = 1_790_000_030.0  # hour window: the last one-minute bucket starts at NOW - 50, the first at NOW - 3590
HOSTILE_TITLE = "Jailbreak spike <img src=x onerror=window.__pwned=1>"


def exchange(db: SQL, at: float, *, blocked: bool = False, escalated: bool = False) -> None:
    db.write(
        "INSERT INTO exchanges (response_id, request_id, at, key_id, model, messages, answer, blocked, escalated) "
        "VALUES (?, ?, ?, NULL, 'm', ?, '', ?, ?)",
        (new_id("chatcmpl-"), new_id("req_"), at, json.dumps([]), int(blocked), int(escalated)),
    )


def audit(db: SQL, at: float, validator: str, action: str | None, *, request_id: str | None = None) -> None:
    db.write(
        "INSERT INTO audit (id, at, request_id, key_id, model, rail, validator, category, score, flagged, action) "
        "VALUES (?, ?, ?, NULL, 'm', 'input', ?, NULL, ?, ?, ?)",
        (
            new_id("aud_"),
            at,
            request_id or new_id("req_"),
            validator,
            0.9 if action else 0.1,
            int(bool(action)),
            action,
        ),
    )


def review(db: SQL, created: float, due: float, status: str = "pending") -> None:
    db.write(
        "INSERT INTO reviews (id, request_id, response_id, created, due, model, rail, validator, reason, messages, "
        "answer, status) VALUES (?, ?, NULL, ?, ?, 'm', 'output', 'toxicity', 'flagged', '[]', NULL, ?)",
        (new_id("rev-"), new_id("req_"), created, due, status),
    )


def incident(db: SQL, opened: float, title: str, status: str = "open", severity: str = "sev2") -> None:
    db.write(
        "INSERT INTO incidents (id, opened, trigger, dedup_key, severity, title, status, owner, runbook, "
        "acknowledged, resolved) VALUES (?, ?, 'jailbreak_spike', ?, ?, ?, ?, 'oncall', NULL, NULL, NULL)",
        (new_id("inc-"), opened, new_id("dedup-"), severity, title, status),
    )


def seed(db: SQL, now: float = NOW) -> None:
    """Last hour: 5 requests (3 in the last minute, 1 of them escalated, 2 ten minutes ago); one two hours
    ago. Blocks: jailbreak refrains on 2 requests (one request with two refrain rows), a pii repair that
    failed closed, a pii fix (not a block), an unflagged verdict. Reviews: 2 pending (1 overdue), 1 done.
    Incidents: 1 open with a hostile title, 1 resolved."""
    for dt in (5, 10, 15):
        exchange(db, now - dt, escalated=dt == 15)
    for _ in range(2):
        exchange(db, now - 600)
    exchange(db, now - 7200)
    shared = new_id("req_")
    audit(db, now - 5, "jailbreak", "refrain", request_id=shared)
    audit(db, now - 5, "jailbreak", "refrain", request_id=shared)
    audit(db, now - 600, "jailbreak", "refrain")
    audit(db, now - 600, "pii", "fix->refrain")
    audit(db, now - 600, "pii", "fix")
    audit(db, now - 600, "toxicity", None)
    audit(db, now - 7200, "jailbreak", "refrain")  # outside the hour
    review(db, now - 100, now + 3500)
    review(db, now - 7200, now - 3600)  # overdue
    review(db, now - 7200, now - 3600, status="approved")
    incident(db, now - 300, HOSTILE_TITLE)
    incident(db, now - 9000, "old outage", status="resolved")
