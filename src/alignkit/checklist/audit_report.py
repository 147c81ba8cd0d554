"""The audit's files: ``audit-<UTC time>.json`` (the figures; what the checklist's audits item and the
next audit read) and ``audit-<UTC time>.html`` (one self-contained page: no scripts, no external
assets, every stored text escaped), written atomically into ``audits.reports``.

The time is when the audit started, ``YYYYMMDDTHHMMSSZ`` (``audit-20261201T030000Z.json``), so names
sort in time order; the JSON's top-level ``finished`` is an ISO 8601 UTC time (``2026-12-01T03:04:05Z``).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from pathlib import Path
from typing import Any

from alignkit.core.files import write_text_atomic

NAME = re.compile(r"audit-(\d{8}T\d{6}Z)\.json")
MAX_LISTED = 1000  # earlier audits read (newest first): years of daily audits


def stamp(t: float) -> str:
    """``20261201T030000Z``: the time in report names."""
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def iso(t: float) -> str:
    """``2026-12-01T03:00:00Z``."""
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    """Unix seconds of an ISO 8601 time (a time without a zone is read as UTC)."""
    t = dt.datetime.fromisoformat(text)
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).timestamp()


def list_audits(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The audit reports in ``folder``, newest first; files that are not readable audit JSON are skipped."""
    if not folder.is_dir():
        return []
    found = []
    for p in sorted((p for p in folder.iterdir() if NAME.fullmatch(p.name)), reverse=True)[:MAX_LISTED]:
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and isinstance(doc.get("finished"), str) and _is_iso(doc["finished"]):
            found.append((p, doc))
    return found


def _is_iso(text: str) -> bool:
    try:
        parse_iso(text)
    except ValueError:
        return False
    return True


def write_report(folder: Path, doc: dict[str, Any], started: float) -> tuple[Path, Path]:
    """Write the HTML page, then the JSON (the JSON is the record that the audit ran: it comes last)."""
    name = f"audit-{stamp(started)}"
    page, data = folder / f"{name}.html", folder / f"{name}.json"
    write_text_atomic(page, to_html(doc))
    write_text_atomic(data, json.dumps({**doc, "html": page.name}, indent=2, default=str))
    return data, page


# -- the page ---------------------------------------------------------------------------------------------
esc = html.escape
STYLE = (
    "body{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}"
    ".drift,.regression,.findings{color:#b03a2e;font-weight:bold}.unknown,.incomplete,.not{color:#9a6700}"
    ".stable,.ok,.clean{color:#1e7e34}"
)


def _table(head: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return "<p>(none)</p>"
    th = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{esc(_cell(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _when(window: list[float] | None) -> str:
    if not window:
        return "-"
    return " to ".join(dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M UTC") for t in window)


def _status(status: str) -> str:
    return f'<span class="{esc(status.split()[0])}">{esc(status)}</span>'


def _rate(d: dict[str, Any] | None) -> str:
    if not d or d.get("rate") is None:
        return "n/a"
    return f"{100 * d['rate']:.1f}% ({d['hits']}/{d['n']})"


def _regression(r: dict[str, Any]) -> list[str]:
    out = [f"<h2>Regression scan: {_status(r['status'])}</h2><p>{esc(r['reason'])}</p>"]
    runs = [
        [name, (r.get(name) or {}).get("run_id"), (r.get(name) or {}).get("target")]
        for name in ("run", "previous", "release")
    ]
    out.append(_table(["scan", "run", "target"], runs))
    asr = r.get("attack_success") or {}
    if asr:
        out.append(
            _table(
                ["", "now", "last scan", "release"],
                [["attack success", _rate(asr.get("now")), _rate(asr.get("previous")), _rate(asr.get("release"))]],
            )
        )
        cats = r.get("by_category") or {}
        out.append(
            _table(["category", "last scan", "now"], [[c, _pct(v.get("a")), _pct(v.get("b"))] for c, v in cats.items()])
        )
        vulns = r.get("new_vulnerabilities") or []
        out.append(
            f"<h3>New vulnerabilities ({len(vulns)}); fixed: {r.get('fixed', 0)}; "
            f"not judged now: {r.get('unmeasured', 0)}</h3>"
        )
        out.append(_table(["probe", "category", "severity", "converter", "attack", "why"], [
            [v["probe_id"], v["category"], v["severity"], v["converter"], v["attack"], v["reason"]] for v in vulns
        ]))  # fmt: skip
    out += [f"<p>Note: {esc(n)}</p>" for n in r.get("notes") or []]
    return out


def _drift(d: dict[str, Any]) -> list[str]:
    out = [f"<h2>Detector drift: {_status(d['status'])}</h2><p>{esc(d['reason'])}</p>"]
    out.append(
        f"<p>Method: {esc(d.get('method', ''))}. Baseline {esc(_when(d.get('baseline_window')))} (from "
        f"{esc(d.get('baseline_source') or '-')}); now {esc(_when(d.get('now_window')))}.</p>"
    )
    rows = []
    for v in d.get("validators") or []:
        base, now = v.get("baseline") or {}, v.get("now") or {}
        rows.append([
            v["validator"], v["status"], base.get("n"), now.get("n"), base.get("mean"), now.get("mean"),
            _pct(base.get("flagged_share")), _pct(now.get("flagged_share")), v.get("ks"), v.get("ks_p"), v["reason"],
        ])  # fmt: skip
    head = ["validator", "status", "n then", "n now", "mean then", "mean now", "flagged then", "flagged now"]
    out.append(_table([*head, "KS D", "KS p", "why"], rows))
    return out


def _review(r: dict[str, Any]) -> list[str]:
    if "error" in r:
        return [f"<h2>Escalations and incidents: <span class='unknown'>unknown</span></h2><p>{esc(r['error'])}</p>"]
    rev, inc = r["reviews"], r["incidents"]
    out = ["<h2>Escalations and incidents since the last audit</h2>"]
    out.append(_table(["escalated", *rev["since_by_status"], "confirmed harmful", "pending now", "overdue now"], [
        [rev["escalated_since"], *rev["since_by_status"].values(), rev["confirmed_harmful_since"], rev["pending"],
         rev["overdue"]]
    ]))  # fmt: skip
    out.append(_table(["incidents opened", *inc["since_by_severity"], "unresolved now"], [
        [inc["opened_since"], *inc["since_by_severity"].values(), sum(inc["open_by_severity"].values())]
    ]))  # fmt: skip
    out.append(_table(["unresolved incident", "severity", "status", "title"], [
        [i["id"], i["severity"], i["status"], i["title"]] for i in inc["open"]
    ]))  # fmt: skip
    out += [f"<p class='unknown'>Attention: {esc(a)}</p>" for a in r.get("attention") or []]
    return out


def to_html(doc: dict[str, Any]) -> str:
    """One self-contained page: the verdict, then the scan, drift and review sections."""
    body = [
        f"<h1>Safety audit: {esc(doc['model'])}</h1>",
        f"<p>{esc(doc['started'])} to {esc(doc['finished'])}; verdict {_status(doc['verdict'])} "
        f"(exit code {doc['exit_code']}); alignkit {esc(doc.get('alignkit', ''))}.</p>",
    ]
    body += [f"<p class='findings'>Finding: {esc(f)}</p>" for f in doc["findings"]]
    body += [f"<p class='unknown'>Not measured: {esc(u)}</p>" for u in doc["unmeasured"]]
    body += _regression(doc["regression"]) + _drift(doc["drift"]) + _review(doc["review"])
    return (
        "<!doctype html><html><head><meta charset='utf-8'><meta http-equiv='Content-Security-Policy' "
        "content=\"default-src 'none'; style-src 'unsafe-inline'\"><title>alignkit safety audit</title>"
        f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>"
    )
