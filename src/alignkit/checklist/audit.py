"""``alignkit audit run``: the scheduled safety audit, one report per run.

    report = run_audit(config, out_dir, plan_scan=plan_from_release)   # plan: the CLI resolves models
    report.exit_code   # 1: a regression or drift; 2: nothing found but something could not be measured

Three sections, each concluding or saying why it could not:

1. **Regression scan** (:mod:`.audit_scan`): the model scanned again with the release scan's probes,
   sample and seed, compared with the last scan and the release: regression or ok.
2. **Detector drift** (:mod:`.audit_drift`): each validator's scores on recent gateway traffic against
   the first days after the release: drift or stable. It is measured before the scan, and earlier
   audits' scans are left out, so the audit's own attacks never count as traffic.
3. **Escalations and incidents** (:mod:`.audit_review`) since the last audit: counts, for people to read.

Fail closed: a section that could not measure is ``unknown`` with its reason, and the audit's verdict
is ``incomplete`` (exit 2) unless something was found (``findings``, exit 1); ``clean`` (exit 0) needs
every measured section to pass. The report is written whatever the verdict (:mod:`.audit_report`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alignkit._version import __version__
from alignkit.checklist.audit_drift import BASELINE_FILE, DriftResult, Exclusion, measure_drift
from alignkit.checklist.audit_report import iso, list_audits, parse_iso, stamp, write_report
from alignkit.checklist.audit_review import gateway_store, review_summary
from alignkit.checklist.audit_scan import Regression, ScanPlan, ScanRef, previous_scan, read_release, regression_scan
from alignkit.checklist.config import DeployConfig
from alignkit.core.errors import ConfigError
from alignkit.gateway.db import SQL

__all__ = ["EXIT_CLEAN", "EXIT_FINDINGS", "EXIT_INCOMPLETE", "Audit", "run_audit"]

EXIT_CLEAN, EXIT_FINDINGS, EXIT_INCOMPLETE = 0, 1, 2

PlanScan = Callable[[ScanRef], ScanPlan]
"""Turns the release scan's record into what to scan (models resolved: the CLI's job)."""


@dataclass
class Audit:
    """One audit's sections and verdict."""

    model: str
    started: float
    regression: Regression
    drift: DriftResult
    review: dict[str, Any]
    finished: float = 0.0
    previous_audit: str | None = None
    since: float | None = None
    scan_key_id: str | None = None
    files: tuple[Path, Path] | None = None  # the JSON and the HTML written
    unmeasured: list[str] = field(default_factory=list)

    @property
    def findings(self) -> list[str]:
        found = [f"regression: {self.regression.reason}"] if self.regression.status == "regression" else []
        return found + ([f"drift: {self.drift.reason}"] if self.drift.status == "drift" else [])

    @property
    def exit_code(self) -> int:
        if self.findings:
            return EXIT_FINDINGS
        return EXIT_INCOMPLETE if self.unknowns else EXIT_CLEAN

    @property
    def verdict(self) -> str:
        return {EXIT_FINDINGS: "findings", EXIT_INCOMPLETE: "incomplete", EXIT_CLEAN: "clean"}[self.exit_code]

    @property
    def unknowns(self) -> list[str]:
        out = [f"regression scan: {self.regression.reason}"] if self.regression.status == "unknown" else []
        out += [f"drift: {self.drift.reason}"] if self.drift.status == "unknown" else []
        return out + self.unmeasured

    def to_dict(self) -> dict[str, Any]:
        window = self.regression.figures.get("scan_window") if self.regression.figures.get("through_gateway") else None
        return {
            "kind": "alignkit-audit",
            "alignkit": __version__,
            "model": self.model,
            "started": iso(self.started),
            "finished": iso(self.finished),
            "verdict": self.verdict,
            "status": {"clean": "pass", "incomplete": "warn", "findings": "fail"}[self.verdict],
            "exit_code": self.exit_code,
            "findings": self.findings,
            "unmeasured": self.unknowns,
            "previous_audit": self.previous_audit,
            "since": iso(self.since) if self.since is not None else None,
            "scan_traffic": {"start": window[0], "end": window[1], "key_id": self.scan_key_id} if window else None,
            "regression": self.regression.to_dict(),
            "drift": self.drift.to_dict(),
            "review": self.review,
        }


def exclusions(audits: list[tuple[Path, dict[str, Any]]]) -> list[Exclusion]:
    """The traffic earlier audits' scans sent through the gateway (kept out of the drift windows)."""
    out = []
    for _, doc in audits:
        t = doc.get("scan_traffic")
        if isinstance(t, dict) and isinstance(t.get("start"), int | float) and isinstance(t.get("end"), int | float):
            key = t.get("key_id")
            out.append(Exclusion(float(t["start"]), float(t["end"]), key if isinstance(key, str) else None))
    return out


def _drift(
    config: DeployConfig,
    db: SQL,
    release: ScanRef,
    now: float,
    out_dir: Path,
    audits: list[tuple[Path, dict[str, Any]]],
) -> DriftResult:
    return measure_drift(
        db,
        model=config.route(),  # the gateway records traffic under its route name
        release_run=release.run_id,
        release_time=release.finished or now,
        now=now,
        cfg=config.audits.drift,
        baseline_file=out_dir / BASELINE_FILE,
        exclusions=exclusions(audits),
    )


def run_audit(
    config: DeployConfig,
    out_dir: Path,
    *,
    plan_scan: PlanScan,
    open_store: Callable[[DeployConfig], SQL] = gateway_store,
    clock: Callable[[], float] = time.time,
    scan_key_id: str | None = None,
) -> Audit:
    """Run the audit and write its report into ``out_dir``. ``scan_key_id``: the id of the gateway key the
    scan uses, recorded so later audits leave its traffic out of the drift windows."""
    started = clock()
    out_dir.mkdir(parents=True, exist_ok=True)
    if (out_dir / f"audit-{stamp(started)}.json").exists():
        raise ConfigError(f"an audit report for {iso(started)} is already in {out_dir}; run it again in a second")
    audits = list_audits(out_dir)
    previous = audits[0] if audits else None
    audit = Audit(config.model, started, Regression("unknown", ""), DriftResult("unknown", ""), {})
    audit.previous_audit = previous[0].name if previous else None
    audit.scan_key_id = scan_key_id
    try:
        release: ScanRef | None = read_release(config)
    except ConfigError as e:
        release, audit.regression.reason = None, str(e)
        audit.drift.reason = f"no release to measure drift from: {e}"
    audit.since = parse_iso(previous[1]["finished"]) if previous else (release.finished if release else None)
    _gateway_sections(config, audit, release, out_dir, audits, open_store)
    if release is not None:
        audit.regression = _scan(config, release, audits, plan_scan, started)
    audit.finished = clock()
    audit.files = write_report(out_dir, audit.to_dict(), started)
    return audit


def _gateway_sections(
    config: DeployConfig,
    audit: Audit,
    release: ScanRef | None,
    out_dir: Path,
    audits: list[tuple[Path, dict[str, Any]]],
    open_store: Callable[[DeployConfig], SQL],
) -> None:
    """Drift and the review, from the gateway's store (before the scan adds traffic). A store that cannot
    be opened or read leaves both unknown, with the reason."""
    try:
        db = open_store(config)
    except Exception as e:  # a missing file, a PostgreSQL server that refuses us: unknown, not clean
        reason = f"cannot read the gateway store: {e if isinstance(e, ConfigError) else f'{type(e).__name__}: {e}'}"
        audit.review = {"error": reason}
        if release is not None:
            audit.drift.reason = reason
        return
    try:
        now = audit.started
        if release is not None:
            audit.drift = _drift(config, db, release, now, out_dir, audits)
        audit.review = review_summary(db, since=audit.since if audit.since is not None else 0.0, now=now)
    finally:
        db.close()


def _scan(
    config: DeployConfig, release: ScanRef, audits: list[tuple[Path, dict[str, Any]]], plan_scan: PlanScan, now: float
) -> Regression:
    """The regression section: plan, scan, compare (ConfigError: unknown, with the reason)."""
    last, note = previous_scan([doc for _, doc in audits], release)
    store = config.path(config.audits.store) or Path(release.store)
    try:
        plan = plan_scan(release)
        result = asyncio.run(
            regression_scan(
                plan,
                store=str(store),
                run_id=f"audit-{stamp(now)}",
                previous=last,
                release=release,
                margin=config.audits.max_attack_success_rise,
            )
        )
    except ConfigError as e:
        return Regression("unknown", f"the scan could not run: {e}", previous=last, release=release)
    if note:
        result.notes.append(note)
    return result
