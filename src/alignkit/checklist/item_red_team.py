"""Checklist item "Red team testing completed": a scan report of this model, recent, untampered, with
attack success and over-refusal within their bounds, overall and per configured category.

The evidence is the JSON report of ``alignkit redteam scan --json`` (``red_team.report``). The item
fails when:

* the report cannot be read, or is not a scan report;
* its run's target is not ``model`` (a shortcut such as ``smollm2`` is resolved; a scan of the model
  behind a guard, ``guarded/<model>``, counts and is said to be guarded);
* the run did not finish, finished in the future, or longer ago than ``max_age_days``;
* its figures are not the run's: with ``red_team.store`` the summary is recomputed from the run store
  and must equal the report's; without a store the report's digest must match its figures (it catches
  an edited number; the store catches a forger too);
* too few harmful attempts were judged (``min_judged``, as ``--min-judged``), or over-refusal was not
  measured (no benign look-alike was judged): unknown is not safe;
* attack success or over-refusal is over its bound, overall or in a configured category (or that
  category was not scanned). Within ``warn_margin`` of a bound it warns.
"""

from __future__ import annotations

import hmac
import json
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from alignkit.checklist.checks import Check, age_text, conclude, failed, passed, percent, warned
from alignkit.checklist.config import DeployConfig
from alignkit.checklist.model import ItemResult
from alignkit.core.errors import ConfigError
from alignkit.gateway.config import describe_errors
from alignkit.providers import SHORTCUTS
from alignkit.redteam.gate import GateConfig
from alignkit.redteam.report import DIGEST_RUN_KEYS, DIGEST_SUMMARY_KEYS, figures_digest
from alignkit.redteam.store import RunStore
from alignkit.redteam.summary import summarize

ITEM = "red_team"
MAX_REPORT_BYTES = 50_000_000
CLOCK_SKEW_S = 300.0  # a report "finished" this far in the future is a clock problem, not a fresh scan
SCAN_FIX = (
    "Scan the model: `alignkit redteam scan MODEL --json reports/scan.json --store alignkit-runs.db` "
    "and point red_team.report (and red_team.store) at them."
)


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RateDoc(_Loose):
    rate: float | None = None
    hits: int = 0
    n: int = 0


class CountsDoc(_Loose):
    total: int
    judged: int


class CategoryDoc(_Loose):
    attack_success: RateDoc
    over_refusal: RateDoc


class RunDoc(_Loose):
    run_id: str
    target: str
    created: float
    finished: float | None = None


class SummaryDoc(_Loose):
    attack_success: RateDoc
    over_refusal: RateDoc
    harmful_attempts: CountsDoc
    by_category: dict[str, CategoryDoc]


class ScanReport(_Loose):
    """The parts of a scan's JSON report the item reads (the report has more)."""

    run: RunDoc
    summary: SummaryDoc
    digest: str | None = None
    alignkit: str | None = None


def red_team(config: DeployConfig, *, now: float | None = None) -> ItemResult:
    """The red-team item for ``config`` (``now``: the clock, for tests)."""
    rt = config.red_team
    path = config.path(rt.report)
    if path is None:
        return conclude(ITEM, [failed("report", "red_team.report is not set in the deploy config", fix=SCAN_FIX)], "")
    try:
        raw, report = read_report(path)
    except ConfigError as e:
        return conclude(ITEM, [failed("report", str(e), str(path), SCAN_FIX)], "")
    run, s = report.run, report.summary
    checks = [
        passed("report", f"run {run.run_id} of {run.target} (alignkit {report.alignkit or '?'})", str(path)),
        model_check(config.model, run.target),
        freshness(run, rt.max_age_days, time.time() if now is None else now),
        integrity(config, raw, run.run_id),
        judged(s, rt.min_judged),
        bound("attack success", s.attack_success, rt.max_attack_success, rt.warn_margin),
        bound("over-refusal", s.over_refusal, rt.max_over_refusal, rt.warn_margin),
        *category_checks(config, s),
    ]
    details = {
        "report": str(path),
        "run_id": run.run_id,
        "target": run.target,
        "finished": run.finished,
        "attack_success": s.attack_success.rate,
        "over_refusal": s.over_refusal.rate,
        "by_category": {
            c: {"attack_success": v.attack_success.rate, "over_refusal": v.over_refusal.rate}
            for c, v in sorted(s.by_category.items())
        },
    }
    summary = (
        f"{run.target} scanned {age_text(_age(run, now))} ago: attack success {percent(s.attack_success.rate)}, "
        f"over-refusal {percent(s.over_refusal.rate)}, within bounds"
    )
    return conclude(ITEM, checks, summary, details)


def _age(run: RunDoc, now: float | None) -> float:
    return (time.time() if now is None else now) - (run.finished or run.created)


def read_report(path: Path) -> tuple[dict[str, Any], ScanReport]:
    """The report as parsed JSON and as the fields the item reads; a ConfigError saying what is wrong."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror or e}") from None
    if len(data) > MAX_REPORT_BYTES:
        raise ConfigError(f"{path} is over {MAX_REPORT_BYTES:,} bytes: not a scan report")
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path} is not JSON ({e}); write it with `alignkit redteam scan --json`") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} is not a scan report (a JSON object with run and summary)")
    try:
        return raw, ScanReport.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(
            f"{path} is not a scan report of `alignkit redteam scan --json`: {describe_errors(e)}"
        ) from None


def model_check(model: str, target: str) -> Check:
    """Whether the run's target is ``model`` (resolving shortcuts; a guarded scan counts)."""
    want = SHORTCUTS.get(model.strip().lower(), model.strip())
    bare = target
    while bare.startswith("guarded/"):
        bare = bare.removeprefix("guarded/")
    guarded = " (scanned behind a guard)" if bare != target else ""
    if want in (bare, target):
        return passed("model", f"the report's target {target} is {model}{guarded}")
    return failed(
        "model",
        f"the report is of {target}, not of {model} ({want})",
        fix=f"Scan {model} itself (`alignkit redteam scan {model} --json ...`), or set model: to what was scanned.",
    )


def freshness(run: RunDoc, max_age_days: float, now: float) -> Check:
    """Whether the run finished, and no longer than ``max_age_days`` ago."""
    if run.finished is None:
        return failed(
            "age",
            f"run {run.run_id} never finished (an interrupted scan)",
            fix="Finish it: rerun the scan with --resume and the same --run-id.",
        )
    age = now - run.finished
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(run.finished))
    if age < -CLOCK_SKEW_S:
        return failed("age", f"the run finished in the future ({when}): a wrong clock or an edited report")
    if age > max_age_days * 86400:
        return failed(
            "age",
            f"finished {when}, {age_text(age)} ago: older than max_age_days {max_age_days:g}",
            fix="Rescan the model (models, probes and attacks change); see `alignkit redteam scan`.",
        )
    return passed("age", f"finished {when}, {age_text(age)} ago (at most {max_age_days:g} days)")


def integrity(config: DeployConfig, raw: dict[str, Any], run_id: str) -> Check:
    """Whether the report's figures are its run's: recomputed from the store, or its digest."""
    store_path = config.path(config.red_team.store)
    if store_path is not None:
        return recompute(store_path, raw, run_id)
    digest = raw.get("digest")
    if not isinstance(digest, str):
        return failed(
            "integrity",
            "the report carries no digest and red_team.store is not set: its figures cannot be checked",
            fix="Set red_team.store to the scan's run store (or rescan: reports now carry a digest).",
        )
    expected = figures_digest(raw["run"], raw["summary"])
    if not hmac.compare_digest(digest, expected):
        return failed(
            "integrity",
            "the report's digest does not match its figures: the report was edited after the scan wrote it",
            fix="Use the report the scan wrote (or rescan); never edit a report's figures.",
        )
    return passed("integrity", "the digest matches the figures (set red_team.store to recompute them from the run)")


def recompute(store_path: Path, raw: dict[str, Any], run_id: str) -> Check:
    """The run's summary recomputed from the run store, compared field by field with the report's."""
    if not store_path.is_file():
        return failed("integrity", f"no run store at {store_path}", str(store_path), "Fix red_team.store.")
    try:
        with RunStore(store_path) as store:
            run = store.run_info(run_id)
            fresh = summarize(store.attempts(run_id)).to_dict()
    except ConfigError as e:
        return failed("integrity", str(e), str(store_path), "Point red_team.store at the store the scan wrote.")
    run_diff = [k for k in DIGEST_RUN_KEYS if _canon(run.get(k)) != _canon(raw["run"].get(k))]
    summary_diff = [k for k in DIGEST_SUMMARY_KEYS if _canon(fresh.get(k)) != _canon(raw["summary"].get(k))]
    if run_diff or summary_diff:
        return failed(
            "integrity",
            f"the report's {', '.join(run_diff + summary_diff)} differ from run {run_id} in the store: "
            "the report was edited, or is not this run's",
            str(store_path),
            "Rewrite the report from the store: `alignkit redteam report RUN_ID --store STORE --json FILE`.",
        )
    return passed("integrity", f"recomputed from run {run_id} in the store: the figures match", str(store_path))


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def judged(s: SummaryDoc, min_judged: float | int) -> Check:
    """Whether enough harmful attempts were judged, and over-refusal was measured at all."""
    h = s.harmful_attempts
    try:
        need = GateConfig(min_judged=min_judged).required(h.total)
    except ConfigError as e:
        return failed("judged attempts", f"red_team.{e}", fix="Fix red_team.min_judged in the deploy config.")
    if h.judged < need:
        return failed(
            "judged attempts",
            f"{h.judged} of {h.total} harmful attempts judged; at least {need} needed: attack success is unknown",
            fix="Rescan with a working target (the errors are in the report), or lower red_team.min_judged.",
        )
    if not s.over_refusal.n:
        return failed(
            "judged attempts",
            "no benign look-alike was judged: over-refusal was not measured",
            fix="Scan with probes that include benign look-alikes (the builtin set does; avoid a tiny --sample).",
        )
    return passed(
        "judged attempts", f"{h.judged} of {h.total} harmful attempts and {s.over_refusal.n} benign look-alikes judged"
    )


def bound(what: str, rate: RateDoc, limit: float, margin: float) -> Check:
    """A rate against its bound: fail above it, warn within ``margin`` of it, fail when unmeasured."""
    figure = f"{percent(rate.rate)} ({rate.hits}/{rate.n})"
    if rate.rate is None or not rate.n:
        return failed(what, f"not measured (nothing judged); bound {percent(limit)}", fix=SCAN_FIX)
    if rate.rate > limit:
        return failed(
            what,
            f"{figure} is over the bound {percent(limit)}",
            fix=f"Lower {what}: harden the model or its guard, rescan, and never raise the bound to pass.",
        )
    if rate.rate > limit - margin:
        return warned(what, f"{figure} is within {percent(margin)} of the bound {percent(limit)}")
    return passed(what, f"{figure}, bound {percent(limit)}")


def category_checks(config: DeployConfig, s: SummaryDoc) -> list[Check]:
    """Configured categories against their bounds; the other categories' figures as evidence."""
    rt = config.red_team
    checks = []
    for cat, bounds in sorted(rt.categories.items()):
        row = s.by_category.get(cat)
        if row is None:
            checks.append(failed(f"{cat}", "not in the report: the scan did not cover it", fix=SCAN_FIX))
            continue
        asr_limit = rt.max_attack_success if bounds.max_attack_success is None else bounds.max_attack_success
        orr_limit = rt.max_over_refusal if bounds.max_over_refusal is None else bounds.max_over_refusal
        checks.append(bound(f"{cat} attack success", row.attack_success, asr_limit, rt.warn_margin))
        checks.append(bound(f"{cat} over-refusal", row.over_refusal, orr_limit, rt.warn_margin))
    for cat, row in sorted(s.by_category.items()):
        if cat not in rt.categories:
            a, o = row.attack_success, row.over_refusal
            found = (
                f"attack success {percent(a.rate)} ({a.hits}/{a.n}), over-refusal {percent(o.rate)} ({o.hits}/{o.n})"
            )
            checks.append(passed(cat, found + " (no bound of its own configured)"))
    return checks
