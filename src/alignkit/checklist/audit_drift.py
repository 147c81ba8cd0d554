"""Detector drift on the gateway's traffic: each validator's scores now against those just after release.

The gateway's ``audit`` table holds every validator's score for every request, with its time. Per
validator (``rail:name``, e.g. ``input:jailbreak``) the audit compares two windows of one model's rows:

- the **baseline**: the model's first ``baseline_days`` of traffic on or after the release scan (the
  scan that certified it; traffic that starts later, when the gateway went live later, starts it
  later). Once that window has ended with enough scores for every validator it is frozen into
  ``drift-baseline.json`` beside the audit reports, so a store that prunes old rows still has it, and
  every later audit compares with the same thing. A new release scan (another run id) starts a new one;
- **now**: the last ``window_days`` before the audit (never reaching back into the baseline).

Per validator: the mean score and the share flagged in each; the Kolmogorov-Smirnov distance between
the score distributions and its p-value; the change in the share flagged and its two-proportion test.
A validator **drifts** when either difference is significant at ``alpha`` and at least its floor
(``min_ks``, ``min_flagged_change``). A validator with fewer than ``min_samples`` scores in either
window has **not enough data**: unknown, never "no drift". The audit's own red-team traffic (each
earlier audit records its key and when it scanned) is left out of both windows.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from alignkit.checklist.config import DriftCheck
from alignkit.checklist.drift_stats import ks_distance, ks_p_value, proportion_p_value, quantiles
from alignkit.core.files import write_text_atomic
from alignkit.gateway.db import SQL

BASELINE_FILE = "drift-baseline.json"
KEEP_SCORES = 2000  # order statistics stored per validator: the baseline's distribution to within 0.05%
MAX_ROWS = 1_000_000  # newest rows read per window: a week of a busy gateway, a few seconds to read
DAY = 86_400.0

DriftStatus = Literal["drift", "stable", "not enough data"]


@dataclass(frozen=True)
class Exclusion:
    """Rows an earlier audit's scan wrote: from ``start`` to ``end``, by ``key_id`` (None: any key)."""

    start: float
    end: float
    key_id: str | None = None

    def covers(self, at: float, key_id: str | None) -> bool:
        return self.start <= at <= self.end and (self.key_id is None or self.key_id == key_id)


@dataclass
class Scores:
    """One validator's scores in one window: how many, how many flagged, the mean, and the distribution
    (sorted; at most :data:`KEEP_SCORES` evenly spaced order statistics)."""

    n: int
    flagged: int
    mean: float
    sample: list[float]

    @classmethod
    def of(cls, scores: Sequence[float], flagged: int) -> Scores:
        return cls(len(scores), flagged, sum(scores) / len(scores), quantiles(scores, KEEP_SCORES))

    @property
    def flagged_share(self) -> float:
        return self.flagged / self.n

    def to_dict(self, *, with_sample: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"n": self.n, "flagged": self.flagged, "flagged_share": self.flagged_share}
        out["mean"] = self.mean
        if with_sample:
            out["sample"] = self.sample
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scores:
        return cls(int(d["n"]), int(d["flagged"]), float(d["mean"]), [float(x) for x in d["sample"]])


@dataclass
class ValidatorDrift:
    """One validator's verdict and its figures (None where a window had no scores)."""

    validator: str
    status: DriftStatus
    reason: str
    baseline: Scores | None = None
    now: Scores | None = None
    ks: float | None = None
    ks_p: float | None = None
    flagged_change: float | None = None
    flagged_p: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "validator": self.validator,
            "status": self.status,
            "reason": self.reason,
            "baseline": self.baseline.to_dict() if self.baseline else None,
            "now": self.now.to_dict() if self.now else None,
            "ks": self.ks,
            "ks_p": self.ks_p,
            "flagged_change": self.flagged_change,
            "flagged_p": self.flagged_p,
        }


@dataclass
class DriftResult:
    """The drift section of an audit: ``drift`` if any validator drifted, ``stable`` if every one was
    measured and none did, else ``unknown`` (the reason says what was missing)."""

    status: Literal["drift", "stable", "unknown"]
    reason: str
    baseline_window: tuple[float, float] | None = None
    now_window: tuple[float, float] | None = None
    baseline_source: str = ""
    validators: list[ValidatorDrift] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "reason": self.reason,
            "method": "two-sample Kolmogorov-Smirnov on scores + two-proportion z-test on the share flagged",
            "settings": self.settings,
            "baseline_window": list(self.baseline_window) if self.baseline_window else None,
            "now_window": list(self.now_window) if self.now_window else None,
            "baseline_source": self.baseline_source,
            "validators": [v.to_dict() for v in self.validators],
        }


def read_window(
    db: SQL, model: str, start: float, end: float, exclusions: Sequence[Exclusion] = ()
) -> dict[str, Scores]:
    """Each validator's scores for ``model`` from ``start`` (inclusive) to ``end`` (exclusive), without
    the rows ``exclusions`` cover; at most :data:`MAX_ROWS` of the newest rows."""
    rows = db.read(
        "SELECT rail, validator, score, flagged, at, key_id FROM audit WHERE model = ? AND at >= ? AND at < ? "
        "ORDER BY at DESC LIMIT ?",
        (model, start, end, MAX_ROWS),
    )
    scores: dict[str, list[float]] = defaultdict(list)
    flagged: dict[str, int] = defaultdict(int)
    for rail, validator, score, flag, at, key_id in rows:
        if any(x.covers(float(at), key_id) for x in exclusions):
            continue
        name = f"{rail}:{validator}"
        scores[name].append(float(score))
        flagged[name] += int(bool(flag))
    return {name: Scores.of(values, flagged[name]) for name, values in sorted(scores.items())}


def compare(name: str, base: Scores | None, now: Scores | None, cfg: DriftCheck) -> ValidatorDrift:
    """One validator's verdict: drift, stable, or not enough data."""
    short = [f"{w} has {s.n if s else 0} scores" for w, s in (("the baseline", base), ("now", now))]
    if base is None or now is None or base.n < cfg.min_samples or now.n < cfg.min_samples:
        reason = f"not enough data: {' and '.join(short)}; {cfg.min_samples} needed in each"
        return ValidatorDrift(name, "not enough data", reason, base, now)
    d = ks_distance(base.sample, now.sample)
    d_p = ks_p_value(d, len(base.sample), len(now.sample))
    change = now.flagged_share - base.flagged_share
    change_p = proportion_p_value(base.flagged, base.n, now.flagged, now.n)
    moved = []
    if d >= cfg.min_ks and d_p < cfg.alpha:
        moved.append(f"score distribution moved (KS D = {d:.3f} >= {cfg.min_ks}, p = {d_p:.2g} < {cfg.alpha})")
    if abs(change) >= cfg.min_flagged_change and change_p < cfg.alpha:
        moved.append(
            f"share flagged {100 * base.flagged_share:.1f}% -> {100 * now.flagged_share:.1f}% "
            f"(p = {change_p:.2g} < {cfg.alpha})"
        )
    if moved:
        status: DriftStatus = "drift"
        reason = "; ".join(moved)
    else:
        status, reason = "stable", f"KS D = {d:.3f} (p = {d_p:.2g}); share flagged {100 * change:+.1f} points"
    return ValidatorDrift(name, status, reason, base, now, d, d_p, change, change_p)


def first_traffic(db: SQL, model: str, since: float) -> float | None:
    """When ``model`` first had a validator score at or after ``since`` (None: never)."""
    row = db.read_one("SELECT MIN(at) FROM audit WHERE model = ? AND at >= ?", (model, since))
    return None if row is None or row[0] is None else float(row[0])


def models_seen(db: SQL) -> list[str]:
    return sorted(str(m) for (m,) in db.read("SELECT DISTINCT model FROM audit"))


def utc(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t))


@dataclass
class Baseline:
    window: tuple[float, float]
    scores: dict[str, Scores]
    source: str


def load_baseline(path: Path, model: str, release_run: str) -> Baseline | None:
    """The frozen baseline in ``path`` when it belongs to this model and release scan; else None."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("model") != model or doc.get("release_run") != release_run:
            return None
        scores = {name: Scores.from_dict(s) for name, s in doc["validators"].items()}
        start, end = (float(x) for x in doc["window"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # missing, unreadable or from an older format: measured again from the store
    return Baseline((start, end), scores, str(path))


def save_baseline(path: Path, model: str, release_run: str, baseline: Baseline) -> None:
    doc = {
        "kind": "alignkit-drift-baseline",
        "model": model,
        "release_run": release_run,
        "window": list(baseline.window),
        "validators": {name: s.to_dict(with_sample=True) for name, s in baseline.scores.items()},
    }
    write_text_atomic(path, json.dumps(doc, indent=1))


def measure_drift(
    db: SQL,
    *,
    model: str,
    release_run: str,
    release_time: float,
    now: float,
    cfg: DriftCheck,
    baseline_file: Path | None,
    exclusions: Sequence[Exclusion] = (),
) -> DriftResult:
    """The drift section: baseline (frozen file, or measured from the store and frozen when complete),
    the last window, and every validator compared."""
    settings = cfg.model_dump()
    base = load_baseline(baseline_file, model, release_run) if baseline_file else None
    if base is None:
        t0 = first_traffic(db, model, release_time)
        if t0 is None:
            seen = ", ".join(models_seen(db)) or "none"
            why = (
                f"no validator scores for model {model!r} in the gateway store since the release ({utc(release_time)})"
            )
            return DriftResult("unknown", f"{why}; models with scores there: {seen}", settings=settings)
        window = (t0, t0 + cfg.baseline_days * DAY)
        base = Baseline(window, read_window(db, model, *window, exclusions), "gateway store")
        complete = base.scores and all(s.n >= cfg.min_samples for s in base.scores.values())
        if baseline_file is not None and now >= window[1] and complete:
            save_baseline(baseline_file, model, release_run, base)
            base.source = f"gateway store, frozen into {baseline_file}"
    start = max(now - cfg.window_days * DAY, base.window[1])
    result = DriftResult("unknown", "", base.window, (start, now), base.source, settings=settings)
    if start >= now:
        result.reason = (
            f"the baseline (the first {cfg.baseline_days:g} days of traffic after the release) runs until "
            f"{utc(base.window[1])}: drift can be measured after that"
        )
        return result
    current = read_window(db, model, start, now, exclusions)
    names = sorted(set(base.scores) | set(current))
    result.validators = [compare(n, base.scores.get(n), current.get(n), cfg) for n in names]
    drifted = [v.validator for v in result.validators if v.status == "drift"]
    unknown = [v.validator for v in result.validators if v.status == "not enough data"]
    if drifted:
        result.status, result.reason = "drift", f"drift in {', '.join(drifted)}"
    elif not names:
        result.reason = f"no validator scores for {model!r} in either window"
    elif unknown:
        result.reason = f"not enough data for {', '.join(unknown)} (at least {cfg.min_samples} scores per window)"
    else:
        result.status, result.reason = "stable", f"{len(names)} validators measured, none drifted"
    return result
