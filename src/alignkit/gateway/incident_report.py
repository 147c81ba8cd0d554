"""Incidents as files: one JSON record per incident (with its timeline) and a Markdown postmortem
skeleton whose facts (times, severity, owner, timeline) are filled in and whose analysis is left to
the people who were there.

    write_jsonl("incidents.jsonl", (record(i, store.timeline(i.id)) for i in store.list("all")))
    Path("postmortem.md").write_text(postmortem(incident, store.timeline(incident.id)))
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from alignkit.gateway.incident_store import Incident, TimelineEvent

__all__ = ["describe_event", "duration", "postmortem", "record", "utc"]

PROMPT = "_{}_"  # the skeleton's prompts, in italics, for the authors to replace


def record(incident: Incident, timeline: Sequence[TimelineEvent]) -> dict[str, Any]:
    """The incident and its timeline as one JSON-able record (a line of the JSONL export)."""
    return {**incident.to_dict(), "timeline": [t.to_dict() for t in timeline]}


def utc(at: float | None) -> str:
    if at is None:
        return "-"
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3 h 05 min``, ``2 d 4 h``."""
    s = int(max(0.0, seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def describe_event(event: TimelineEvent, most: int = 300) -> str:
    """One line for a timeline event: its message, then its other fields as ``key=value``."""
    detail = dict(event.detail)
    message = str(detail.pop("message", "") or "")
    extra = " ".join(
        f"{k}={json.dumps(v, ensure_ascii=False, default=str)}" for k, v in detail.items() if v is not None
    )
    text = " · ".join(p for p in (message, extra) if p)
    return text if len(text) <= most else text[: most - 1] + "…"


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: no line breaks, pipes or raw HTML."""
    return " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _since(incident: Incident, at: float | None) -> str:
    return utc(at) if at is None else f"{utc(at)} ({duration(at - incident.opened)} after opening)"


def postmortem(incident: Incident, timeline: Sequence[TimelineEvent]) -> str:
    """A Markdown postmortem skeleton (blameless format): facts filled in, analysis prompted."""
    resolution = [e for e in timeline if e.kind == "resolved"]
    resolved_note = describe_event(resolution[-1]) if resolution else PROMPT.format("Not resolved yet.")
    lines = [
        f"# Postmortem: {_cell(incident.title)}",
        "",
        "| | |",
        "|---|---|",
        f"| Incident | `{incident.id}` |",
        f"| Severity | {incident.severity} |",
        f"| Status | {incident.status} |",
        f"| Trigger | {incident.trigger} (`{_cell(incident.dedup_key)}`) |",
        f"| Owner | {_cell(incident.owner or '-')} |",
        f"| Runbook | {_cell(incident.runbook or '-')} |",
        f"| Opened | {utc(incident.opened)} |",
        f"| Acknowledged | {_since(incident, incident.acknowledged)} |",
        f"| Resolved | {_since(incident, incident.resolved)} |",
        "",
        "## Summary",
        "",
        PROMPT.format("What happened, in two or three sentences, for someone who was not there."),
        "",
        "## Impact",
        "",
        PROMPT.format("Who was affected, how many requests or users, for how long; was any harmful text delivered?"),
        "",
        "## Timeline (UTC)",
        "",
        "| Time | Event | By | Detail |",
        "|---|---|---|---|",
        *(f"| {utc(e.at)} | {e.kind} | {_cell(e.actor or '-')} | {_cell(describe_event(e))} |" for e in timeline),
        "",
        "## Detection",
        "",
        f"Opened by the `{incident.trigger}` trigger."
        if incident.trigger != "manual"
        else PROMPT.format("Who noticed it, and how?"),
        PROMPT.format("Did the trigger fire early enough? Which signal would have caught it sooner?"),
        "",
        "## Root cause",
        "",
        PROMPT.format("Why did it happen? Ask why until the answer is a process or a system, not a person."),
        "",
        "## Resolution and recovery",
        "",
        _cell(resolved_note) if resolution else resolved_note,
        "",
        "## What went well",
        "",
        "- ",
        "",
        "## What went wrong",
        "",
        "- ",
        "",
        "## Action items",
        "",
        "| Action | Owner | Due | Tracking |",
        "|---|---|---|---|",
        "| | | | |",
        "",
    ]
    return "\n".join(lines)
