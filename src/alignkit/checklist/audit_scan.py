"""The audit's regression scan: the model scanned again with the release scan's probes, compared with the
last scan (the previous audit's, or the release's when there was none) and with the release.

The attempts are planned by the caller from the release scan's run record (same probes, sample, seed,
converters and attacks: the CLI resolves them as ``alignkit redteam scan`` does), so an attempt has the
key it had then, and the comparison is made on the attempts both scans made (:func:`redteam.report.diff`:
new vulnerabilities, fixes, attempts the new scan could not judge). A **regression** is attack success
up by more than ``audits.max_attack_success_rise`` over the last scan or over the release; a scan that
could not be judged (fewer than 80% of its harmful attempts, :mod:`alignkit.redteam.gate`) is
**unknown**, never "no regression".
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from alignkit.checklist.config import DeployConfig
from alignkit.core.errors import ConfigError
from alignkit.core.model import Model
from alignkit.redteam.base import Attempt
from alignkit.redteam.engine import ScanConfig, run_scan
from alignkit.redteam.gate import GateConfig, check_gate
from alignkit.redteam.judge import Judge
from alignkit.redteam.report import Diff, diff
from alignkit.redteam.store import AttemptRow, RunStore
from alignkit.redteam.summary import Rate, summarize


@dataclass(frozen=True)
class ScanRef:
    """A stored scan run: its store file, id, target, when it finished and its recorded options."""

    store: str
    run_id: str
    target: str = ""
    finished: float | None = None
    config: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"store": self.store, "run_id": self.run_id, "target": self.target, "finished": self.finished}

    def rows(self) -> list[AttemptRow]:
        """The run's attempts (a ConfigError when the store or the run is missing)."""
        if not Path(self.store).is_file():
            raise ConfigError(f"the run store {self.store} of scan {self.run_id!r} is missing")
        with RunStore(self.store) as store:
            return list(store.attempts(self.run_id))


def read_release(config: DeployConfig) -> ScanRef:
    """The release scan: ``red_team.report`` names the run, ``red_team.store`` holds its attempts."""
    report, store = config.path(config.red_team.report), config.path(config.red_team.store)
    if report is None or store is None:
        raise ConfigError(
            "deploy.yaml: red_team.report and red_team.store must name the release scan (`alignkit redteam scan "
            "MODEL --json REPORT --store STORE`): the audit repeats that scan and compares with it"
        )
    try:
        run = json.loads(report.read_text(encoding="utf-8"))["run"]
        ref = ScanRef(str(store), str(run["run_id"]), str(run["target"]), run.get("finished"), dict(run["config"]))
    except OSError as e:
        raise ConfigError(f"red_team.report: cannot read {report}: {e.strerror or e}") from None
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"red_team.report: {report} is not a scan report with a run record ({e})") from None
    if not store.is_file():
        raise ConfigError(f"red_team.store: no run store at {store}; it must hold run {ref.run_id!r}")
    with RunStore(store) as s:
        info = s.run_info(ref.run_id)  # the report's run must be in the store
    return ScanRef(ref.store, ref.run_id, ref.target, info.get("finished") or info["created"], ref.config)


def previous_scan(audits: Sequence[dict[str, Any]], release: ScanRef) -> tuple[ScanRef, str]:
    """The last scan to compare with: the newest earlier audit's scan, else the release; and a note when
    that audit's scan is no longer stored (then the release it is)."""
    for doc in audits:  # newest first
        run = (doc.get("regression") or {}).get("run")
        if not isinstance(run, dict) or not run.get("run_id"):
            continue
        ref = ScanRef(str(run.get("store")), str(run["run_id"]), str(run.get("target", "")), run.get("finished"))
        note = f"the last audit's scan {ref.run_id} is not in {ref.store}; compared with the release"
        if not Path(ref.store).is_file():
            return release, note
        try:
            with RunStore(ref.store) as s:
                s.run_info(ref.run_id)
        except ConfigError:
            return release, note
        return ref, ""
    return release, ""


@dataclass
class Regression:
    """The regression section of an audit."""

    status: Literal["regression", "ok", "unknown"]
    reason: str
    run: ScanRef | None = None
    previous: ScanRef | None = None
    release: ScanRef | None = None
    figures: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        refs = {k: v.to_dict() if v else None for k, v in (("run", self.run), ("previous", self.previous))}
        return {
            "status": self.status,
            "reason": self.reason,
            **refs,
            "release": self.release.to_dict() if self.release else None,
            **self.figures,
            "notes": self.notes,
        }


@dataclass(frozen=True)
class ScanPlan:
    """What to scan, as the caller resolved it from the release scan's run record."""

    target: Model
    attempts: list[Attempt]
    judge: Judge
    config: ScanConfig
    options: dict[str, Any]  # recorded with the run, as `alignkit redteam scan` records its options
    notes: list[str] = field(default_factory=list)
    through_gateway: bool = False  # its requests are gateway traffic, to be left out of later drift windows


async def regression_scan(
    plan: ScanPlan, *, store: str, run_id: str, previous: ScanRef, release: ScanRef, margin: float
) -> Regression:
    """Scan, store the run, and compare it with ``previous`` and ``release``."""
    started = time.time()
    with RunStore(store) as s:
        await run_scan(
            plan.target, plan.attempts, judge=plan.judge, store=s, run_id=run_id, config=plan.config,
            extra_config=plan.options,
        )  # fmt: skip
        info = s.run_info(run_id)
        rows = list(s.attempts(run_id))
    run = ScanRef(store, run_id, str(info["target"]), info.get("finished"))
    result = Regression("unknown", "", run, previous, release, notes=list(plan.notes))
    result.figures.update(scan_window=[started, time.time()], through_gateway=plan.through_gateway)
    keys = {a.key for a in plan.attempts}
    try:
        before = [r for r in previous.rows() if r.key in keys]
        at_release = before if previous == release else [r for r in release.rows() if r.key in keys]
    except ConfigError as e:
        result.reason = f"cannot compare: {e}"
        return result
    conclude(result, diff(before, rows), summarize(at_release).asr, margin)
    return result


def conclude(result: Regression, d: Diff, release_asr: Rate, margin: float) -> None:
    """Fill in the verdict and figures of ``result`` from the diff of the last scan (A) and this one (B)."""
    gate = check_gate(d.b, GateConfig())
    by_key = {v.key: v for v in d.b.vulnerabilities}
    result.figures.update(
        attack_success={"now": d.b.asr.to_dict(), "previous": d.a.asr.to_dict(), "release": release_asr.to_dict()},
        over_refusal={"now": d.b.over_refusal.to_dict(), "previous": d.a.over_refusal.to_dict()},
        attempts=d.b.attempts.to_dict(),
        compared=d.a.attempts.total,
        by_category=d.to_dict()["by_category"],
        new_vulnerabilities=[_vuln(by_key[k]) for k in d.regressions if k in by_key],
        fixed=len(d.fixes),
        unmeasured=len(d.unmeasured),
        margin=margin,
    )
    if not d.a.attempts.total:
        result.reason = "the last scan made none of this scan's attempts (were the probes changed?)"
        return
    if not gate.passed:
        result.reason = f"this scan could not be judged: {gate.reason}"
        return
    rises = [
        f"attack success {_pct(rate)} -> {_pct(d.b.asr)} since the {name} (more than {100 * margin:g} points)"
        for name, rate in (("last scan", d.a.asr), ("release", release_asr))
        if rate.value is not None and d.b.asr.value is not None and d.b.asr.value - rate.value > margin
    ]
    if rises:
        result.status, result.reason = "regression", "; ".join(dict.fromkeys(rises))
    else:
        result.status = "ok"
        result.reason = (
            f"attack success {_pct(d.b.asr)} (last scan {_pct(d.a.asr)}, release {_pct(release_asr)}); "
            f"{len(d.regressions)} new, {len(d.fixes)} fixed"
        )


def _pct(rate: Rate) -> str:
    return "n/a" if rate.value is None else f"{100 * rate.value:.1f}%"


def _vuln(r: AttemptRow) -> dict[str, Any]:
    return {
        "key": r.key,
        "probe_id": r.probe_id,
        "category": r.category,
        "severity": r.severity,
        "converter": r.converter,
        "attack": r.attack,
        "reason": r.reason,
    }
