"""The gateway's schema: one list of migrations, run as written on SQLite and on PostgreSQL.

Portable SQL only: ``TEXT``, ``BIGINT``, ``DOUBLE PRECISION`` (times are unix seconds), ``INTEGER`` for
booleans (0/1), JSON as ``TEXT``; ids are made by alignkit (:func:`new_id`), never by the database.
Migrations are appended, never edited. No table holds raw PII or a key: exchanges are stored after PII
and secret redaction, keys as SHA-256 hashes.
"""

from __future__ import annotations

import os
import time

MIGRATIONS: list[str] = [
    # 1: the first schema.
    """
    CREATE TABLE api_keys (
        key_id TEXT PRIMARY KEY,          -- public part of the key: ak-<key_id>-<secret>
        secret_hash TEXT NOT NULL,        -- sha256 of the secret part, hex
        name TEXT NOT NULL,
        scopes TEXT NOT NULL,             -- JSON list: user, reviewer, admin
        models TEXT,                      -- JSON list of model names it may call; NULL: all
        limits TEXT,                      -- JSON LimitConfig overriding the gateway's per-key limits; NULL: those
        created DOUBLE PRECISION NOT NULL,
        revoked DOUBLE PRECISION
    );
    CREATE TABLE audit (
        id TEXT PRIMARY KEY,
        at DOUBLE PRECISION NOT NULL,
        request_id TEXT NOT NULL,
        key_id TEXT,
        model TEXT NOT NULL,
        rail TEXT NOT NULL,               -- input | output
        validator TEXT NOT NULL,
        category TEXT,
        score DOUBLE PRECISION NOT NULL,
        flagged INTEGER NOT NULL,
        action TEXT                       -- the on-fail action that ran, NULL when not flagged
    );
    CREATE INDEX audit_at ON audit (at);
    CREATE INDEX audit_request ON audit (request_id);
    CREATE TABLE exchanges (
        response_id TEXT PRIMARY KEY,     -- the id the client got (chatcmpl-..., cmpl-...)
        request_id TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL,
        key_id TEXT,
        model TEXT NOT NULL,
        messages TEXT NOT NULL,           -- JSON list of {role, content}, PII and secrets redacted
        answer TEXT NOT NULL,             -- what the client received
        blocked INTEGER NOT NULL,
        escalated INTEGER NOT NULL
    );
    CREATE INDEX exchanges_at ON exchanges (at);
    CREATE TABLE feedback (
        id TEXT PRIMARY KEY,
        response_id TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL,
        key_id TEXT,
        rating INTEGER,                   -- 1 thumbs up, -1 thumbs down, NULL none
        comment TEXT,
        correction TEXT                   -- a better answer, written by the user
    );
    CREATE INDEX feedback_response ON feedback (response_id);
    CREATE TABLE reviews (
        id TEXT PRIMARY KEY,
        request_id TEXT NOT NULL,
        response_id TEXT,
        created DOUBLE PRECISION NOT NULL,
        due DOUBLE PRECISION NOT NULL,    -- created + the SLA
        model TEXT NOT NULL,
        rail TEXT NOT NULL,
        validator TEXT NOT NULL,
        reason TEXT NOT NULL,
        messages TEXT NOT NULL,           -- JSON, redacted like exchanges.messages
        answer TEXT,                      -- the held answer (output escalations), redacted
        status TEXT NOT NULL,             -- pending | approved | edited | rejected
        final_answer TEXT,
        harmful INTEGER,
        reviewer TEXT,                    -- key_id
        decided DOUBLE PRECISION,
        note TEXT
    );
    CREATE INDEX reviews_status ON reviews (status, created);
    CREATE TABLE incidents (
        id TEXT PRIMARY KEY,
        opened DOUBLE PRECISION NOT NULL,
        trigger TEXT NOT NULL, -- jailbreak_spike, harmful_answer, escalation_backlog, upstream_outage, manual
        dedup_key TEXT NOT NULL,          -- one open incident per trigger and subject
        severity TEXT NOT NULL,           -- sev1 .. sev4
        title TEXT NOT NULL,
        status TEXT NOT NULL,             -- open | acknowledged | resolved
        owner TEXT,
        runbook TEXT,
        acknowledged DOUBLE PRECISION,
        resolved DOUBLE PRECISION
    );
    CREATE INDEX incidents_status ON incidents (status, dedup_key);
    CREATE TABLE incident_events (
        id TEXT PRIMARY KEY,
        incident_id TEXT NOT NULL REFERENCES incidents (id),
        at DOUBLE PRECISION NOT NULL,
        kind TEXT NOT NULL,               -- opened | observed | acknowledged | resolved | note | webhook
        actor TEXT,
        detail TEXT NOT NULL
    );
    CREATE INDEX incident_events_incident ON incident_events (incident_id, at);
    """,
    # 2: at most one unresolved incident per dedup key, even when several gateways share PostgreSQL and
    # open the same incident at once (a partial unique index: SQLite and PostgreSQL both have them).
    """
    CREATE UNIQUE INDEX incidents_one_open ON incidents (dedup_key) WHERE status <> 'resolved';
    """,
]


def new_id(prefix: str = "") -> str:
    """A unique id that sorts by creation time: milliseconds since the epoch, then 64 random bits."""
    return f"{prefix}{int(time.time() * 1000):012x}{os.urandom(8).hex()}"
