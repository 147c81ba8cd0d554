"""Logging and monitoring active: ``/health`` and ``/ready`` answer, ``/metrics`` counts the probe's
request, and the probe's request is logged (its request id is in the gateway's JSON request log and
store) without the personal data its prompt held.

The probe's prompt carries a fake e-mail address and phone number made for this run. After it, the
new part of the request log (``logging.path`` in the gateway's config) and the probe's rows in the
store (``exchanges``, ``audit``, ``reviews``) must hold the probe's request id (so the log was written
and the absence below is evidence, not a missing line) and neither of the two values. A gateway that
logs to stderr (no ``logging.path``) cannot be read here: the item warns and says so.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from alignkit.checklist.live_probe import Probe, ProbeError, error_text, item, probe_id, show, wait_until
from alignkit.checklist.model import Evidence, ItemResult
from alignkit.gateway.db import SQL

ID = "logging_monitoring"
REQUESTS_METRIC = "alignkit_gateway_requests_total"
LOG_ERRORS_METRIC = "alignkit_gateway_log_write_errors_total"
MAX_LOG_READ = 64 * 1024 * 1024  # bytes of new log read after the probe: a minute of a very busy gateway
LOG_WAIT_S = 2.0  # the request line is written before the answer is sent; a little slack for a slow disk
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def fake_pii() -> tuple[str, str]:
    """An e-mail address and a phone number made for one probe (example.com, and 555-01xx, which
    North American numbering keeps for fiction)."""
    return f"alignkit-probe-{secrets.token_hex(4)}@example.com", f"+1 415 555 01{secrets.randbelow(100):02d}"


def needles(email: str, phone: str) -> list[str]:
    """What must not appear: the address, the number as sent and as bare digits."""
    return [email, phone, re.sub(r"\D", "", phone)]


def metric_sum(text: str, name: str, **labels: str) -> float | None:
    """The sum of ``name``'s samples whose labels include ``labels``; None when no sample has the name."""
    total, seen = 0.0, False
    for line in text.splitlines():
        m = _SAMPLE.match(line)
        if m is None or m.group(1) != name:
            continue
        have = dict(_LABEL.findall(m.group(2) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            try:
                total, seen = total + float(m.group(3)), True
            except ValueError:
                continue
    return total if seen else None


@dataclass
class LogScan:
    """What the new part of a log held: the probe's request id, and which needles."""

    path: Path
    read: int = 0
    has_id: bool = False
    leaked: list[str] = field(default_factory=list)


def scan_log(path: Path, offset: int, request_id: str, secrets_: list[str]) -> LogScan:
    """Read ``path`` from ``offset`` (from the start if the file shrank: rotated) and look for the request
    id and each of ``secrets_`` (case-insensitively)."""
    scan = LogScan(path)
    with path.open("rb") as f:
        size = f.seek(0, 2)
        f.seek(offset if offset <= size else 0)
        data = f.read(MAX_LOG_READ).decode("utf-8", "replace")
    scan.read = len(data)
    scan.has_id = request_id in data
    low = data.lower()
    scan.leaked = [s for s in secrets_ if s.lower() in low]
    return scan


def scan_store(db: SQL, request_id: str, secrets_: list[str]) -> tuple[dict[str, int], list[str]]:
    """The probe's rows per table, and the tables whose rows hold one of ``secrets_``."""
    queries = {
        "exchanges": "SELECT response_id, messages, answer FROM exchanges WHERE request_id = ?",
        "audit": "SELECT validator, category, action FROM audit WHERE request_id = ?",
        "reviews": "SELECT reason, messages, answer, final_answer, note FROM reviews WHERE request_id = ?",
    }
    counts, leaked = {}, []
    for table, sql in queries.items():
        rows = db.read(sql, (request_id,))
        counts[table] = len(rows)
        text = "\n".join(str(v) for row in rows for v in row if v is not None).lower()
        leaked += [f"{table}: {s}" for s in secrets_ if s.lower() in text]
    return counts, leaked


def _scrape(probe: Probe) -> tuple[float, float | None]:
    """Chat requests counted so far, and log lines that could not be written."""
    r = probe.request("GET", "/metrics")
    if r.status_code != 200:
        raise ProbeError(
            f"GET /metrics answered {r.status_code}: {error_text(r)}", "serve /metrics (alignkit serve does)"
        )
    if REQUESTS_METRIC not in r.text:
        raise ProbeError(f"GET /metrics has no {REQUESTS_METRIC}: is this an alignkit gateway?")
    count = metric_sum(r.text, REQUESTS_METRIC, endpoint="/v1/chat/completions") or 0.0  # none yet: 0
    return count, metric_sum(r.text, LOG_ERRORS_METRIC)


def check_logging(probe: Probe) -> ItemResult:
    """See the module docstring."""
    probe.need_key("user")
    fails: list[str] = []
    warns: list[str] = []
    evidence: list[Evidence] = []
    for path in ("/health", "/ready"):
        r = probe.request("GET", path)
        evidence.append(Evidence(f"GET {path}", show(r), probe.url + path))
        if r.status_code != 200:
            fails.append(f"{path} answered {r.status_code}")
    before, _ = _scrape(probe)
    log = _log_path(probe, fails, warns)
    offset = log.stat().st_size if log is not None and log.is_file() else 0
    email, phone = fake_pii()
    rid = probe_id()
    r = probe.chat(f"My e-mail is {email} and my phone is {phone}. Reply with OK.", request_id=rid)
    what = "probe request (its prompt holds a fake e-mail and phone)"
    evidence.append(Evidence(what, f"{show(r)}, request id {rid}", f"{probe.url}/v1/chat/completions"))
    if r.status_code != 200:
        fails.append(f"the probe request answered {r.status_code}: {error_text(r)}")
    patience = 1.0 if r.status_code == 200 else 0.0  # a refused probe may never be counted or logged: no wait
    after, log_errors = wait_until(lambda: _counted(probe, before), patience) or _scrape(probe)
    counted = f"{before:g} before the probe, {after:g} after"
    evidence.append(Evidence(f"{REQUESTS_METRIC} (chat completions)", counted, f"{probe.url}/metrics"))
    if after < before + 1:
        fails.append(
            "/metrics did not count the probe's request (several processes behind one URL each count their own: "
            "point the checklist at one instance)"
        )
    if log_errors:
        warns.append(f"{log_errors:g} log lines could not be written since the gateway started ({LOG_ERRORS_METRIC})")
    secrets_ = needles(email, phone)
    if log is not None:
        _check_log(log, offset, rid, secrets_, evidence, fails, LOG_WAIT_S * patience)
    _check_store(probe, rid, secrets_, evidence, fails)
    details = {"request_id": rid, "requests_before": before, "requests_after": after}
    if fails:
        return item(ID, "fail", "; ".join(fails), evidence, _FIX, details)
    if warns:
        return item(ID, "warn", "; ".join(warns), evidence, _FIX_WARN, details)
    return item(
        ID,
        "pass",
        "/health, /ready and /metrics answer, the probe was counted and logged by its request id, without its PII",
        evidence,
        details=details,
    )


_FIX = (
    "keep alignkit's request log (it never writes prompts): nothing else may write conversation text into "
    "logging.path or the store; serve /metrics, /health and /ready from the instance the checklist probes"
)
_FIX_WARN = "set logging.path in gateway.yaml so the request log can be checked, and keep its disk writable"


def _counted(probe: Probe, before: float) -> tuple[float, float | None] | None:
    got = _scrape(probe)
    return got if got[0] >= before + 1 else None


def _log_path(probe: Probe, fails: list[str], warns: list[str]) -> Path | None:
    gw = probe.gateway
    if gw is None:
        fails.append(f"cannot read the gateway's config, so not its log or store: {probe.gateway_error}")
        return None
    if gw.logging.path is None:
        warns.append(
            "the gateway logs to stderr (no logging.path in its config): the checklist cannot read those lines, "
            "so the request log was not checked for PII"
        )
        return None
    return probe.gateway_path(gw.logging.path)


def _check_log(
    log: Path, offset: int, rid: str, secrets_: list[str], evidence: list[Evidence], fails: list[str], wait_s: float
) -> None:
    if not log.is_file():
        fails.append(f"no request log at {log} (logging.path)")
        return
    scan = wait_until(lambda: (s := scan_log(log, offset, rid, secrets_)).has_id and s, wait_s)
    scan = scan or scan_log(log, offset, rid, secrets_)
    found = f"{scan.read:,} new bytes; the probe's request id {'present' if scan.has_id else 'ABSENT'}; " + (
        f"PII found: {', '.join(scan.leaked)}" if scan.leaked else "no probe PII"
    )
    evidence.append(Evidence("the request log after the probe", found, str(log)))
    if not scan.has_id:
        fails.append(f"the probe's request id is not in {log}: is logging.path the file this gateway writes?")
    if scan.leaked:
        fails.append(f"the request log holds the probe's personal data ({', '.join(scan.leaked)})")


def _check_store(probe: Probe, rid: str, secrets_: list[str], evidence: list[Evidence], fails: list[str]) -> None:
    if probe.gateway is None:
        return  # said once, by _log_path
    try:
        counts, leaked = scan_store(probe.store(), rid, secrets_)
    except ProbeError as e:
        fails.append(e.message)
        return
    rows = ", ".join(f"{t} {n}" for t, n in counts.items())
    found = f"rows of the probe: {rows}; " + (f"PII found: {', '.join(leaked)}" if leaked else "no probe PII")
    evidence.append(Evidence("the gateway's store after the probe", found, probe.store_name))
    if not counts["exchanges"]:
        fails.append("the store has no exchange for the probe's request id: is this the store of that gateway?")
    if leaked:
        fails.append(f"the store holds the probe's personal data ({', '.join(leaked)})")
