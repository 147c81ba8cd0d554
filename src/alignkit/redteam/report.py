"""Scan results: rates with confidence intervals, and the formats CI systems and people read.

Attack success rate (ASR) = successful attacks / harmful attempts that got an answer; over-refusal =
refused benign look-alikes / benign attempts that got an answer. Target errors are counted apart and
are in neither denominator: an outage is not a safe model. 95% Wilson score intervals throughout
(they stay inside [0, 1] and behave at small counts, unlike the normal approximation).
"""

from __future__ import annotations

import html
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree as ET

from alignkit._version import __version__
from alignkit.redteam.base import CATEGORIES, OWASP
from alignkit.redteam.store import AttemptRow


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for k successes out of n."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass
class Rate:
    """``hits`` out of ``total``, with its Wilson interval."""

    hits: int = 0
    total: int = 0

    @property
    def value(self) -> float | None:
        """The rate, or None when nothing was counted."""
        return self.hits / self.total if self.total else None

    @property
    def ci(self) -> tuple[float, float]:
        """The 95% Wilson score interval."""
        return wilson(self.hits, self.total)

    def to_dict(self) -> dict[str, Any]:
        """Rate, hits, n and the interval, JSON-able."""
        lo, hi = self.ci
        return {"rate": self.value, "hits": self.hits, "n": self.total, "ci95": [round(lo, 4), round(hi, 4)]}

    def text(self) -> str:
        """``42% (5/12, CI 19-68%)``, or ``n/a``."""
        if not self.total:
            return "n/a"
        lo, hi = self.ci
        return f"{100 * self.value:.0f}% ({self.hits}/{self.total}, CI {100 * lo:.0f}-{100 * hi:.0f}%)"  # type: ignore[operator]


@dataclass
class Summary:
    """A run's rates overall, by category and by converter, and the attempts that need a look."""

    asr: Rate = field(default_factory=Rate)
    over_refusal: Rate = field(default_factory=Rate)
    errors: int = 0
    by_category: dict[str, tuple[Rate, Rate]] = field(default_factory=dict)
    by_converter: dict[str, tuple[Rate, Rate]] = field(default_factory=dict)
    vulnerabilities: list[AttemptRow] = field(default_factory=list)
    over_refusals: list[AttemptRow] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The summary as the JSON report writes it."""

        def table(d: dict[str, tuple[Rate, Rate]]) -> dict[str, Any]:
            return {k: {"attack_success": a.to_dict(), "over_refusal": o.to_dict()} for k, (a, o) in sorted(d.items())}

        return {
            "attack_success": self.asr.to_dict(),
            "over_refusal": self.over_refusal.to_dict(),
            "errors": self.errors,
            "by_category": table(self.by_category),
            "by_converter": table(self.by_converter),
            "vulnerabilities": [v.to_dict() for v in self.vulnerabilities],
        }


def summarize(rows: Iterable[AttemptRow]) -> Summary:
    """Attack success over harmful attempts and over-refusal over benign ones; target errors apart."""
    s = Summary()
    cats: dict[str, tuple[Rate, Rate]] = defaultdict(lambda: (Rate(), Rate()))
    convs: dict[str, tuple[Rate, Rate]] = defaultdict(lambda: (Rate(), Rate()))
    for r in rows:
        if r.status == "error":
            s.errors += 1
            continue
        harmful = r.expected == "refuse"
        hit = r.success if harmful else r.refused
        for rate in (
            (s.asr if harmful else s.over_refusal),
            cats[r.category][0 if harmful else 1],
            convs[r.converter][0 if harmful else 1],
        ):
            rate.total += 1
            rate.hits += hit
        if harmful and r.success:
            s.vulnerabilities.append(r)
        if not harmful and r.refused:
            s.over_refusals.append(r)
    s.by_category, s.by_converter = dict(cats), dict(convs)
    return s


# -- machine-readable formats ---------------------------------------------------------------------------
def to_json(run: dict[str, Any], summary: Summary) -> str:
    """The run and its summary as JSON."""
    return json.dumps({"run": run, "summary": summary.to_dict(), "alignkit": __version__}, indent=2, default=str)


def to_junit(run: dict[str, Any], rows: Sequence[AttemptRow]) -> str:
    """One testcase per attempt: a successful attack or an over-refusal is a failure, a target error an error."""
    suites = ET.Element("testsuites", name=f"alignkit redteam {run['run_id']}")
    by_cat: dict[str, list[AttemptRow]] = defaultdict(list)
    for r in rows:
        by_cat[r.category].append(r)
    for cat, items in sorted(by_cat.items()):
        failures = sum(1 for r in items if (r.success if r.expected == "refuse" else r.refused))
        errors = sum(1 for r in items if r.status == "error")
        suite = ET.SubElement(
            suites, "testsuite", name=cat, tests=str(len(items)), failures=str(failures), errors=str(errors)
        )
        for r in items:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{cat}.{r.converter}",
                name=r.probe_id,
                time=f"{r.latency_s or 0:.3f}",
            )
            if r.status == "error":
                ET.SubElement(case, "error", message=r.error or "target error")
            elif r.expected == "refuse" and r.success:
                ET.SubElement(case, "failure", message=f"attack succeeded: {r.reason}").text = (r.response or "")[:2000]
            elif r.expected == "comply" and r.refused:
                ET.SubElement(case, "failure", message="over-refusal: a benign request was refused")
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)


_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}


def to_sarif(run: dict[str, Any], rows: Sequence[AttemptRow]) -> str:
    """SARIF 2.1.0: a rule per hazard category, a result per successful attack."""
    used = sorted({r.category for r in rows})
    rules = [
        {
            "id": c,
            "name": c,
            "shortDescription": {"text": CATEGORIES.get(c, c)},
            "properties": {"owasp": OWASP.get(c)},
        }
        for c in used
    ]
    results = [
        {
            "ruleId": r.category,
            "level": _LEVEL.get(r.severity, "warning"),
            "message": {"text": f"{r.probe_id} ({r.converter}): {r.reason}"},
            "locations": [
                {
                    "logicalLocations": [
                        {
                            "name": r.probe_id,
                            "kind": "function",
                            "fullyQualifiedName": f"{run['target']}::{r.key}",
                        }
                    ]
                }
            ],
            "properties": {"prompt": r.prompt, "response": r.response, "score": r.score},
        }
        for r in rows
        if r.expected == "refuse" and r.success
    ]
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "alignkit-redteam", "version": __version__, "rules": rules}},
                "results": results,
                "properties": {"target": run["target"], "run_id": run["run_id"]},
            }
        ],
    }
    return json.dumps(doc, indent=2)


# -- the HTML report ------------------------------------------------------------------------------------
def _bars(title: str, rows: list[tuple[str, Rate]], colour: str) -> str:
    """A horizontal bar chart with CI whiskers, as inline SVG (no scripts, no network)."""
    width, left, bar_h = 640, 190, 18
    height = 30 + bar_h * 1.5 * len(rows)
    parts = [
        f'<svg role="img" aria-label="{html.escape(title)}" width="{width}" height="{height:.0f}" '
        f'xmlns="http://www.w3.org/2000/svg"><text x="0" y="14" font-weight="bold">{html.escape(title)}</text>'
    ]
    span = width - left - 90
    for i, (name, rate) in enumerate(rows):
        y = 26 + i * bar_h * 1.5
        v = rate.value or 0.0
        lo, hi = rate.ci
        parts.append(f'<text x="0" y="{y + 13:.0f}" font-size="12">{html.escape(name)}</text>')
        parts.append(f'<rect x="{left}" y="{y:.0f}" width="{span * v:.1f}" height="{bar_h}" fill="{colour}"/>')
        if rate.total:
            parts.append(
                f'<line x1="{left + span * lo:.1f}" x2="{left + span * hi:.1f}" y1="{y + 9:.0f}" '
                f'y2="{y + 9:.0f}" stroke="#333" stroke-width="2"/>'
            )
        label = f"{100 * v:.0f}% of {rate.total}" if rate.total else "n/a"
        parts.append(f'<text x="{left + span + 8}" y="{y + 13:.0f}" font-size="12">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)


def to_html(run: dict[str, Any], summary: Summary, *, compare: dict[str, Summary] | None = None) -> str:
    """A self-contained report: headline rates, charts per category and converter, every vulnerability.
    Every model output is HTML-escaped: a report must not run what a model wrote."""
    esc = html.escape
    cats = sorted(summary.by_category)
    body = [
        f"<h1>Red-team report: {esc(run['target'])}</h1>",
        f"<p>Run <code>{esc(run['run_id'])}</code>; judge: {esc(str(run['config'].get('judge', '')))}; "
        f"alignkit {__version__}.</p>",
        "<table><tr><th></th><th>attack success</th><th>over-refusal</th><th>target errors</th></tr>",
        f"<tr><td>all</td><td>{summary.asr.text()}</td><td>{summary.over_refusal.text()}</td>"
        f"<td>{summary.errors}</td></tr>",
    ]
    for name, other in (compare or {}).items():
        body.append(
            f"<tr><td>{esc(name)}</td><td>{other.asr.text()}</td><td>{other.over_refusal.text()}</td>"
            f"<td>{other.errors}</td></tr>"
        )
    body.append("</table>")
    body.append(_bars("Attack success by category", [(c, summary.by_category[c][0]) for c in cats], "#c0392b"))
    body.append(_bars("Over-refusal by category", [(c, summary.by_category[c][1]) for c in cats], "#2980b9"))
    convs = sorted(summary.by_converter)
    body.append(_bars("Attack success by converter", [(c, summary.by_converter[c][0]) for c in convs], "#8e44ad"))
    body.append(f"<h2>Vulnerabilities ({len(summary.vulnerabilities)})</h2>")
    for v in summary.vulnerabilities:
        body.append(
            f"<details><summary>[{esc(v.severity)}] {esc(v.probe_id)} via {esc(v.converter)}: {esc(v.reason)}"
            f"</summary><p><b>Prompt</b></p><pre>{esc(v.prompt)}</pre><p><b>Response</b></p>"
            f"<pre>{esc(v.response or '')}</pre><p><b>Evidence</b></p><pre>{esc(json.dumps(v.evidence, indent=1))}"
            "</pre></details>"
        )
    body.append(f"<h2>Over-refusals ({len(summary.over_refusals)})</h2><ul>")
    body += [f"<li>{esc(v.probe_id)}: {esc(v.prompt[:160])}</li>" for v in summary.over_refusals]
    body.append("</ul>")
    style = (
        "body{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}"
        "pre{white-space:pre-wrap;background:#f6f6f6;padding:8px}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><meta http-equiv='Content-Security-Policy' "
        f"content=\"default-src 'none'; style-src 'unsafe-inline'\"><title>alignkit red-team report</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>"
    )


# -- comparing runs -------------------------------------------------------------------------------------
@dataclass
class Diff:
    """Two runs compared: their summaries, and the attempt keys that changed outcome."""

    a: Summary
    b: Summary
    regressions: list[str]  # attempt keys that succeed in B but not in A
    fixes: list[str]  # attempt keys that succeeded in A but not in B

    def to_dict(self) -> dict[str, Any]:
        """The comparison, JSON-able."""
        cats = sorted(set(self.a.by_category) | set(self.b.by_category))
        return {
            "attack_success": {"a": self.a.asr.to_dict(), "b": self.b.asr.to_dict()},
            "over_refusal": {"a": self.a.over_refusal.to_dict(), "b": self.b.over_refusal.to_dict()},
            "by_category": {
                c: {
                    "a": self.a.by_category.get(c, (Rate(), Rate()))[0].value,
                    "b": self.b.by_category.get(c, (Rate(), Rate()))[0].value,
                }
                for c in cats
            },
            "regressions": self.regressions,
            "fixes": self.fixes,
        }


def diff(rows_a: Sequence[AttemptRow], rows_b: Sequence[AttemptRow]) -> Diff:
    """Run A against run B: regressions succeed in B only (among attempts A made), fixes in A only."""
    won_a = {r.key for r in rows_a if r.success}
    won_b = {r.key for r in rows_b if r.success}
    seen_a = {r.key for r in rows_a}
    return Diff(summarize(rows_a), summarize(rows_b), sorted((won_b - won_a) & seen_a), sorted(won_a - won_b))
