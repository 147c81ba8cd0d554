"""The audit's review of escalations and incidents since the last audit, read from the gateway's store.

Reviews: how many were escalated since, by what became of them (pending, approved, edited, rejected),
how many reviewers confirmed harmful, and, whenever they were escalated, how many are still pending
and how many of those are past their SLA. Incidents: how many were opened since, by severity and by
status, and every unresolved one by severity (the worst listed by name). Overdue reviews and open sev1
or sev2 incidents are called out for attention.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alignkit.checklist.config import DeployConfig
from alignkit.core.errors import ConfigError
from alignkit.gateway.config import GatewayConfig
from alignkit.gateway.db import SQL, open_database
from alignkit.gateway.incident_store import SEVERITIES
from alignkit.gateway.incident_store import STATUSES as INCIDENT_STATUSES
from alignkit.gateway.schema import MIGRATIONS

REVIEW_STATUSES = ("pending", "approved", "edited", "rejected")
LISTED = 20  # unresolved incidents listed by name (the worst first)


def gateway_store(config: DeployConfig) -> SQL:
    """The store of the gateway ``gateway.config`` names. A relative SQLite path is read from that
    config's folder (``alignkit serve`` runs there); a file that does not exist is an error, never a new
    empty store."""
    path = config.path(config.gateway.config)
    if path is None:
        raise ConfigError(
            "deploy.yaml: gateway.config is not set; name the file `alignkit serve --config` runs with, so the "
            "audit can read the gateway's store"
        )
    url = GatewayConfig.from_file(path).database
    if "://" not in url or url.startswith("sqlite:///"):
        db = Path(url.removeprefix("sqlite:///")).expanduser()
        db = db if db.is_absolute() else path.resolve().parent / db
        if not db.is_file():
            raise ConfigError(f"no gateway store at {db} (database: in {path}); point database: at the store")
        url = str(db)
    return open_database(url, MIGRATIONS)


def _counts(db: SQL, sql: str, args: tuple[Any, ...], keys: tuple[str, ...]) -> dict[str, int]:
    """``{key: count}`` from a ``SELECT key, COUNT(*) ... GROUP BY key``, every expected key present."""
    found = {str(k): int(n) for k, n in db.read(sql, args)}
    return {**dict.fromkeys(keys, 0), **found}


def review_summary(db: SQL, *, since: float, now: float) -> dict[str, Any]:
    """Escalations and incidents since ``since`` (unix seconds), and what is still open at ``now``."""
    created = _counts(
        db, "SELECT status, COUNT(*) FROM reviews WHERE created >= ? GROUP BY status", (since,), REVIEW_STATUSES
    )
    pending, overdue, oldest = db.read_one(
        "SELECT COUNT(*), SUM(CASE WHEN due < ? THEN 1 ELSE 0 END), MIN(created) FROM reviews WHERE status = 'pending'",
        (now,),
    )
    harmful = db.read_one("SELECT COUNT(*) FROM reviews WHERE harmful = 1 AND decided >= ?", (since,))[0]
    opened = _counts(
        db, "SELECT severity, COUNT(*) FROM incidents WHERE opened >= ? GROUP BY severity", (since,), SEVERITIES
    )
    opened_status = _counts(
        db, "SELECT status, COUNT(*) FROM incidents WHERE opened >= ? GROUP BY status", (since,), INCIDENT_STATUSES
    )
    unresolved = "FROM incidents WHERE status <> 'resolved'"
    open_now = _counts(db, f"SELECT severity, COUNT(*) {unresolved} GROUP BY severity", (), SEVERITIES)
    worst = db.read(
        f"SELECT id, severity, status, title, opened {unresolved} ORDER BY severity, opened LIMIT ?", (LISTED,)
    )
    reviews = {
        "escalated_since": sum(created.values()),
        "since_by_status": created,
        "confirmed_harmful_since": int(harmful or 0),
        "pending": int(pending or 0),
        "overdue": int(overdue or 0),
        "oldest_pending_hours": None if oldest is None else round((now - float(oldest)) / 3600, 1),
    }
    incidents = {
        "opened_since": sum(opened.values()),
        "since_by_severity": opened,
        "since_by_status": opened_status,
        "open_by_severity": open_now,
        "open": [
            {"id": i, "severity": sev, "status": st, "title": title, "opened": float(at)}
            for i, sev, st, title, at in worst
        ],
    }
    attention = []
    if reviews["overdue"]:
        attention.append(f"{reviews['overdue']} escalated conversation(s) waiting past the review SLA")
    serious = open_now["sev1"] + open_now["sev2"]
    if serious:
        attention.append(f"{serious} sev1/sev2 incident(s) not resolved")
    return {"since": since, "reviews": reviews, "incidents": incidents, "attention": attention}
