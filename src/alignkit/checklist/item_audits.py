"""Checklist item "Regular safety audits scheduled": a valid schedule, and a recent audit report.

* ``audits.schedule`` must be a cron expression (five fields with valid ranges, or a macro such as
  ``@weekly``; :mod:`alignkit.checklist.cron`). The item warns when the schedule can leave more than
  ``period_days`` between two runs: the newest report would go stale before the next run.
* ``audits.reports`` is the folder ``alignkit audit run`` writes to (:mod:`alignkit.checklist.audit_report`):
  its reports are the files ``audit-<UTC time>.json`` with a top-level ``finished`` ISO 8601 time. The
  newest must have finished within ``period_days``; none at all fails ("no audit has run yet"), and so
  does a time in the future. Files of that name that cannot be read are listed (a warning).
* The last audit's verdict: ``clean`` passes; ``findings`` (a regression, drift) or ``incomplete`` (a
  part could not be measured) warn with what they were: the audit ran, and someone must read it.

That the schedule is installed (crontab, systemd timer, CronJob) the checklist cannot see; that it
runs, the reports show.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

from alignkit.checklist.audit_report import NAME, list_audits, parse_iso
from alignkit.checklist.checks import Check, age_text, conclude, failed, passed, warned
from alignkit.checklist.config import AuditCheck, DeployConfig
from alignkit.checklist.cron import longest_gap, parse_cron
from alignkit.checklist.model import ItemResult
from alignkit.core.errors import ConfigError

ITEM = "audits"
CLOCK_SKEW_S = 300.0
RUN_FIX = "Run `alignkit audit run --config deploy.yaml` (and schedule it: see audits.schedule)."


def audits(config: DeployConfig, *, now: float | None = None) -> ItemResult:
    """The audits item for ``config`` (``now``: the clock, for tests)."""
    clock = time.time() if now is None else now
    checks = [schedule_check(config.audits, clock), *report_checks(config, clock)]
    return conclude(ITEM, checks, f"scheduled, and the last audit is within {config.audits.period_days:g} days")


def schedule_check(audit: AuditCheck, now: float) -> Check:
    """The schedule parses, fires, and never leaves more than ``period_days`` between runs."""
    if not audit.schedule:
        fix = "Set audits.schedule to a cron expression, e.g. '0 3 * * 1' (03:00 every Monday)."
        return failed("schedule", "audits.schedule is not set: no audit is scheduled", fix=fix)
    try:
        cron = parse_cron(audit.schedule)
    except ConfigError as e:
        return failed("schedule", str(e), fix="Write audits.schedule as five cron fields or a macro such as @weekly.")
    gap = longest_gap(cron, dt.datetime.fromtimestamp(now, dt.UTC).date())
    if gap is None:
        return failed("schedule", f"{audit.schedule!r} never fires", fix="Fix audits.schedule: it names no real date.")
    gap_text = age_text(gap.total_seconds())
    if gap.total_seconds() > audit.period_days * 86400:
        fix = f"Run audits at least every {audit.period_days:g} days, or raise audits.period_days to the schedule's."
        return warned("schedule", f"{audit.schedule!r} leaves up to {gap_text} between runs, over period_days", fix=fix)
    return passed("schedule", f"{audit.schedule!r}: at most {gap_text} between runs")


def report_checks(config: DeployConfig, now: float) -> list[Check]:
    """The newest audit report exists and finished within ``period_days``."""
    audit = config.audits
    folder = config.path(audit.reports)
    if folder is None:
        return [failed("last audit", "audits.reports is not set: where audit reports go is unknown", fix=RUN_FIX)]
    if not folder.is_dir():
        return [failed("last audit", f"no audit report folder at {folder}: no audit has run yet", str(folder), RUN_FIX)]
    found = list_audits(folder)  # newest first
    checks = []
    unread = sorted({p.name for p in folder.iterdir() if NAME.fullmatch(p.name)} - {p.name for p, _ in found})
    if unread:
        found_text = f"{', '.join(unread)}: not audit JSON with an ISO 8601 finished time"
        checks.append(warned("unreadable audit reports", found_text, str(folder), "Remove or fix these files."))
    if not found:
        text = f"no audit-<time>.json report in {folder}: no audit has run yet"
        return [*checks, failed("last audit", text, str(folder), RUN_FIX)]
    path, doc = found[0]
    finished = parse_iso(doc["finished"])
    age, when = now - finished, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(finished))
    if age < -CLOCK_SKEW_S:
        checks.append(
            failed("last audit", f"finished in the future ({when}): a wrong clock or an edited report", str(path))
        )
    elif age > audit.period_days * 86400:
        text = f"finished {when}, {age_text(age)} ago: older than period_days {audit.period_days:g}"
        checks.append(failed("last audit", text, str(path), RUN_FIX))
    else:
        checks.append(passed("last audit", f"finished {when}, {age_text(age)} ago", str(path)))
    return [*checks, verdict_check(path, doc)]


def verdict_check(path: Path, doc: dict[str, Any]) -> Check:
    """What the last audit concluded: clean passes; findings or an incomplete audit warn, with what they were."""
    verdict = doc.get("verdict")
    found = [str(f) for f in doc.get("findings") or []] + [str(u) for u in doc.get("unmeasured") or []]
    if verdict == "clean":
        return passed("last audit's verdict", "clean", str(path))
    fix = "Read the audit's report and act on it; rerun `alignkit audit run` once fixed."
    text = f"{verdict or 'no verdict recorded'}: {'; '.join(found) or 'see the report'}"
    return warned("last audit's verdict", text, str(path), fix)
