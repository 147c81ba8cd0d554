"""Scan results in the formats CI systems and people read: JSON, JUnit XML, SARIF, HTML, and run diffs.

The rates and counts come from :mod:`alignkit.redteam.summary` (re-exported here): attack success over
judged attempts only, unjudged attempts counted apart. Every format shows the unjudged attempts as
errors, and, given the gate's verdict (:mod:`alignkit.redteam.gate`), records it so that it matches the
CLI's exit code. Error texts are scrubbed of credentials (:func:`alignkit.core.scrub.scrub`).
"""

from __future__ import annotations

import hashlib
import html
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree as ET

from alignkit._version import __version__
from alignkit.core.scrub import scrub
from alignkit.redteam.base import CATEGORIES, OWASP
from alignkit.redteam.gate import GateResult
from alignkit.redteam.store import AttemptRow
from alignkit.redteam.summary import JUDGED_STATUSES, Rate
from alignkit.redteam.summary import Summary as Summary  # re-exported (with the two below): report was their home
from alignkit.redteam.summary import summarize as summarize
from alignkit.redteam.summary import wilson as wilson


# -- machine-readable formats ---------------------------------------------------------------------------
def to_json(run: dict[str, Any], summary: Summary, gate: GateResult | None = None) -> str:
    """The run, its summary and (given) the gate's verdict, as JSON."""
    figures = summary.to_dict()
    doc = {"run": run, "summary": figures, "alignkit": __version__}
    if gate is not None:
        doc["gate"] = gate.to_dict()
    doc["digest"] = figures_digest(run, figures)
    return json.dumps(doc, indent=2, default=str)


DIGEST_RUN_KEYS = ("run_id", "target", "created", "finished")
DIGEST_SUMMARY_KEYS = ("attack_success", "over_refusal", "errors", "attempts", "harmful_attempts", "by_category")


def figures_digest(run: dict[str, Any], summary: dict[str, Any]) -> str:
    """``sha256:<hex>`` over the run's identity and times and the summary's figures, as the JSON report
    writes them: an edited number or date no longer matches. It catches edits, not forgery (anyone can
    recompute it); recomputing the summary from the run store (the checklist's tamper check) catches both."""
    figures = {
        "run": {k: run.get(k) for k in DIGEST_RUN_KEYS},
        "summary": {k: summary.get(k) for k in DIGEST_SUMMARY_KEYS},
    }
    text = json.dumps(figures, sort_keys=True, default=str, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _unjudged_message(r: AttemptRow) -> str:
    """Why an attempt has no verdict, as the reports say it."""
    if r.status == "error":
        return scrub(f"target error: {r.error or 'unknown'}")
    return scrub(f"not judged ({r.status}): {r.reason}")


def _is_failure(r: AttemptRow) -> bool:
    """A judged attempt that went wrong: a successful attack, or a refused benign look-alike."""
    return r.status in JUDGED_STATUSES and (r.success if r.expected == "refuse" else r.refused)


def to_junit(run: dict[str, Any], rows: Sequence[AttemptRow], gate: GateResult | None = None) -> str:
    """One testcase per attempt: a successful attack or an over-refusal is a failure; an attempt without
    a verdict (target error, empty answer, unreadable grade) is an error. Given the gate's verdict, a
    ``gate`` suite holds one testcase that fails exactly when the CLI exits non-zero."""
    suites = ET.Element("testsuites", name=f"alignkit redteam {run['run_id']}")
    by_cat: dict[str, list[AttemptRow]] = defaultdict(list)
    for r in rows:
        by_cat[r.category].append(r)
    for cat, items in sorted(by_cat.items()):
        failures = sum(1 for r in items if _is_failure(r))
        errors = sum(1 for r in items if r.status not in JUDGED_STATUSES)
        suite = ET.SubElement(
            suites, "testsuite", name=cat, tests=str(len(items)), failures=str(failures), errors=str(errors)
        )
        for r in items:
            case = ET.SubElement(
                suite, "testcase", classname=f"{cat}.{r.converter}", name=r.probe_id, time=f"{r.latency_s or 0:.3f}"
            )
            if r.status not in JUDGED_STATUSES:
                ET.SubElement(case, "error", type=r.status, message=_unjudged_message(r))
            elif r.expected == "refuse" and r.success:
                ET.SubElement(case, "failure", message=f"attack succeeded: {r.reason}").text = (r.response or "")[:2000]
            elif r.expected == "comply" and r.refused:
                ET.SubElement(case, "failure", message="over-refusal: a benign request was refused")
    if gate is not None:
        suite = ET.SubElement(
            suites, "testsuite", name="gate", tests="1", failures=str(int(not gate.passed)), errors="0"
        )
        case = ET.SubElement(suite, "testcase", classname="gate", name="attack success gate", time="0")
        if not gate.passed:
            ET.SubElement(case, "failure", message=gate.reason)
    suites.set("tests", str(sum(int(x.get("tests", 0)) for x in suites)))
    suites.set("failures", str(sum(int(x.get("failures", 0)) for x in suites)))
    suites.set("errors", str(sum(int(x.get("errors", 0)) for x in suites)))
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)


_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
UNJUDGED_RULE = "alignkit.unjudged"
GATE_RULE = "alignkit.gate"


def _sarif_result(run: dict[str, Any], r: AttemptRow) -> dict[str, Any]:
    """A SARIF result for a successful attack (its category's rule) or an unjudged attempt."""
    unjudged = r.status not in JUDGED_STATUSES
    location = {"name": r.probe_id, "kind": "function", "fullyQualifiedName": f"{run['target']}::{r.key}"}
    return {
        "ruleId": UNJUDGED_RULE if unjudged else r.category,
        "level": "error" if unjudged else _LEVEL.get(r.severity, "warning"),
        "message": {
            "text": f"{r.probe_id} ({r.converter}): {_unjudged_message(r) if unjudged else r.reason}",
        },
        "locations": [{"logicalLocations": [location]}],
        "properties": {"prompt": r.prompt, "response": r.response, "score": r.score, "status": r.status},
    }


def to_sarif(run: dict[str, Any], rows: Sequence[AttemptRow], gate: GateResult | None = None) -> str:
    """SARIF 2.1.0: a rule per hazard category with a result per successful attack; an error result
    (rule ``alignkit.unjudged``) per attempt without a verdict; given the gate's verdict, an error result
    (rule ``alignkit.gate``) when it failed, and the invocation's ``exitCode`` and
    ``executionSuccessful`` as the CLI's."""
    used = sorted({r.category for r in rows})
    rules = [
        {"id": c, "name": c, "shortDescription": {"text": CATEGORIES.get(c, c)}, "properties": {"owasp": OWASP.get(c)}}
        for c in used
    ]
    rules.append({"id": UNJUDGED_RULE, "name": "unjudged", "shortDescription": {"text": "attempt without a verdict"}})
    findings = [r for r in rows if r.status not in JUDGED_STATUSES or (r.expected == "refuse" and r.success)]
    results = [_sarif_result(run, r) for r in findings]
    invocation: dict[str, Any] = {"executionSuccessful": all(r.status in JUDGED_STATUSES for r in rows)}
    if gate is not None:
        rules.append({"id": GATE_RULE, "name": "gate", "shortDescription": {"text": "the scan's CI gate"}})
        if not gate.passed:
            results.append({"ruleId": GATE_RULE, "level": "error", "message": {"text": gate.reason}})
        invocation.update(
            executionSuccessful=invocation["executionSuccessful"] and gate.passed,
            exitCode=gate.exit_code,
            exitCodeDescription=gate.reason,
        )
    doc = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "alignkit-redteam", "version": __version__, "rules": rules}},
                "invocations": [invocation],
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


def _headline(name: str, s: Summary) -> str:
    """One row of the HTML report's headline table."""
    c = s.attempts
    return (
        f"<tr><td>{html.escape(name)}</td><td>{s.asr.text()}</td><td>{s.over_refusal.text()}</td>"
        f"<td>{c.judged} of {c.total}</td><td>{c.errored}</td><td>{c.empty}</td><td>{c.unparseable}</td></tr>"
    )


def to_html(
    run: dict[str, Any], summary: Summary, *, compare: dict[str, Summary] | None = None, gate: GateResult | None = None
) -> str:
    """A self-contained report: headline rates and what became of the attempts, the gate's verdict when
    given, charts per category and converter, every vulnerability.
    Every model output is HTML-escaped: a report must not run what a model wrote."""
    esc = html.escape
    cats = sorted(summary.by_category)
    body = [
        f"<h1>Red-team report: {esc(run['target'])}</h1>",
        f"<p>Run <code>{esc(run['run_id'])}</code>; judge: {esc(str(run['config'].get('judge', '')))}; "
        f"alignkit {__version__}.</p>",
    ]
    if gate is not None:
        body.append(f"<p><b>Gate {'passed' if gate.passed else 'FAILED'}</b>: {esc(gate.reason)}</p>")
    body.append(
        "<table><tr><th></th><th>attack success</th><th>over-refusal</th><th>judged</th><th>target errors</th>"
        "<th>empty answers</th><th>unparseable</th></tr>"
    )
    body += [_headline("all", summary)] + [_headline(name, other) for name, other in (compare or {}).items()]
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
    fixes: list[str]  # attempt keys that succeeded in A and were judged unsuccessful in B
    unmeasured: list[str] = field(default_factory=list)  # keys A made that B could not judge (unknown, not fixed)

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
            "unmeasured": self.unmeasured,
        }


def diff(rows_a: Sequence[AttemptRow], rows_b: Sequence[AttemptRow]) -> Diff:
    """Run A against run B: regressions succeed in B only (among attempts A made), fixes succeeded in A
    and were judged unsuccessful in B; attempts of A that B could not judge are ``unmeasured``, never fixes."""
    won_a = {r.key for r in rows_a if r.success}
    won_b = {r.key for r in rows_b if r.success}
    seen_a = {r.key for r in rows_a}
    judged_b = {r.key for r in rows_b if r.status in JUDGED_STATUSES}
    unjudged_b = {r.key for r in rows_b} - judged_b
    return Diff(
        summarize(rows_a),
        summarize(rows_b),
        sorted((won_b - won_a) & seen_a),
        sorted((won_a - won_b) & judged_b),
        sorted(unjudged_b & seen_a),
    )
