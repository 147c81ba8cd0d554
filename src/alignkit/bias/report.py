"""The bias evaluation report: one JSON document and one self-contained HTML page (no scripts, no
external files; every text from data or a model is escaped)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from alignkit.bias.bbq import BBQResult
from alignkit.bias.counterfactual import CounterfactualResult
from alignkit.bias.stats import Interval, PairedTest
from alignkit.bias.winobias import WinoResult

EXAMPLE_PAIRS = 20  # counterfactual pairs shown in the HTML (all of them are in the JSON)
MAX_SHOWN_CHARS = 600

_STYLE = """body{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:70em}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}
.gap{background:#fde2e2}.note{color:#555}pre{white-space:pre-wrap;margin:0;text-align:left;font-size:12px}"""


@dataclass
class BiasReport:
    """Everything one ``alignkit bias eval`` measured, and with what."""

    model: dict[str, Any]
    settings: dict[str, Any]
    bbq: BBQResult | None = None
    winobias: WinoResult | None = None
    counterfactual: list[CounterfactualResult] = field(default_factory=list)
    seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON document: scores, counts and every answer (for audit and replay)."""
        return {
            "model": self.model,
            "settings": self.settings,
            "seconds": self.seconds,
            "bbq": None if self.bbq is None else self.bbq.to_dict(answers=True),
            "winobias": None if self.winobias is None else self.winobias.to_dict(),
            "counterfactual": [c.to_dict() for c in self.counterfactual],
        }


def fmt(x: float | None, digits: int = 3) -> str:
    """A number for a table; "n/a" for None (not measured, never 0)."""
    return "n/a" if x is None else f"{x:.{digits}f}"


def interval(iv: Interval, digits: int = 3) -> str:
    """``value [low, high]``, or the value alone when there is no interval."""
    if iv.value is None:
        return "n/a"
    if iv.low is None or iv.high is None:
        return fmt(iv.value, digits)
    return f"{fmt(iv.value, digits)} [{fmt(iv.low, digits)}, {fmt(iv.high, digits)}]"


def _row(cells: Sequence[str], *, left: int = 1, css: str = "") -> str:
    tds = "".join(f'<td class="l">{c}</td>' if i < left else f"<td>{c}</td>" for i, c in enumerate(cells))
    return f'<tr class="{css}">{tds}</tr>' if css else f"<tr>{tds}</tr>"


def _head(cells: Sequence[str]) -> str:
    return "<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in cells) + "</tr>"


def bbq_html(r: BBQResult) -> str:
    """The BBQ table: accuracy and bias score per category and context."""
    rows = [_head(["category", "n amb", "acc amb", "s_AMB", "n dis", "acc dis", "s_DIS", "unknown / unreadable"])]
    for cat, ctx in r.categories.items():
        a, d = ctx["ambiguous"], ctx["disambiguated"]
        css = "gap" if a.bias_score.excludes(0.0) or d.bias_score.excludes(0.0) else ""
        rows.append(
            _row(
                [
                    html.escape(cat),
                    str(a.n),
                    interval(a.accuracy),
                    interval(a.bias_score),
                    str(d.n),
                    interval(d.accuracy),
                    interval(d.bias_score),
                    f"{a.unknown_answers + d.unknown_answers} / {a.unreadable + d.unreadable}",
                ],
                css=css,
            )
        )
    methods = ", ".join(f"{k} {v}" for k, v in r.methods.items())
    return (
        f"<h2>BBQ</h2><p class=note>Bias scores run from -1 (against the stereotype) to +1 (with it); 95% intervals "
        f"in brackets; shaded rows have an interval that excludes 0. Answers read by: {methods}. Questions whose "
        f"target group could not be found (left out of the bias score): {r.no_target}.</p>"
        f"<table>{''.join(rows)}</table>"
    )


def wino_html(r: WinoResult) -> str:
    """The WinoBias table: pro and anti accuracy and the gap per type."""
    rows = [_head(["type", "pro accuracy", "anti accuracy", "gap (pro - anti)", "p (sign test)", "unreadable"])]
    for name, s in r.types.items():
        css = "gap" if s.gap.difference.excludes(0.0) else ""
        rows.append(
            _row(
                [
                    name,
                    interval(s.pro),
                    interval(s.anti),
                    interval(s.gap.difference),
                    fmt(s.gap.p_value, 4),
                    str(s.unreadable),
                ],
                css=css,
            )
        )
    methods = ", ".join(f"{k} {v}" for k, v in r.methods.items())
    return (
        f"<h2>WinoBias</h2><p class=note>Answers read by: {methods}. Lines skipped (occupations not found): "
        f"{r.skipped_lines}.</p><table>{''.join(rows)}</table>"
    )


def _test_row(name: str, t: PairedTest, digits: int) -> str:
    css = "gap" if t.difference.excludes(0.0) else ""
    return _row(
        [
            name,
            fmt(t.mean_a, digits),
            fmt(t.mean_b, digits),
            interval(t.difference, digits),
            fmt(t.p_value, 4),
            html.escape(t.test),
            f"{t.b_higher} / {t.a_higher}",
        ],
        css=css,
    )


def counterfactual_html(c: CounterfactualResult) -> str:
    """One counterfactual comparison: the paired tests and example pairs."""
    a, b = html.escape(c.group_a), html.escape(c.group_b)
    rows = [
        _head(
            [
                "measure",
                f"mean ({c.group_a})",
                f"mean ({c.group_b})",
                "difference (b - a)",
                "p",
                "test",
                "b higher / a higher",
            ]
        )
    ]
    for name, t in c.measures.items():
        rows.append(_test_row(name, t, 1 if name == "words" else 3))
    examples = [
        _row(
            [
                f"<pre>{html.escape(r.pair.text_a[:MAX_SHOWN_CHARS])}</pre>",
                f"<pre>{html.escape(r.answer_a[:MAX_SHOWN_CHARS])}</pre>",
                f"<pre>{html.escape(r.pair.text_b[:MAX_SHOWN_CHARS])}</pre>",
                f"<pre>{html.escape(r.answer_b[:MAX_SHOWN_CHARS])}</pre>",
            ],
            left=4,
        )
        for r in c.pairs[:EXAMPLE_PAIRS]
    ]
    return (
        f"<h2>Counterfactual: {html.escape(c.axis)}, {a} vs {b}</h2>"
        f"<p class=note>{c.prompts} prompts: {c.measured} pairs measured, {c.untouched} untouched by any term "
        f"(not counted), {c.mixed} mentioning both groups equally (not counted), {c.errored} with a failed answer; "
        f"{c.refusal_unknown} measured pairs had an empty answer and are left out of the refusal test.</p>"
        f"<table>{''.join(rows)}</table>"
        f"<details><summary>First {min(EXAMPLE_PAIRS, len(c.pairs))} pairs</summary><table>"
        f"{_head([f'prompt ({c.group_a})', 'answer', f'prompt ({c.group_b})', 'answer'])}{''.join(examples)}"
        f"</table></details>"
    )


def render_html(report: BiasReport) -> str:
    """The whole report as one HTML page."""
    spec = html.escape(str(report.model.get("spec", "?")))
    settings = html.escape(", ".join(f"{k}={v}" for k, v in report.settings.items()))
    parts = [
        f"<!doctype html><html><head><meta charset=utf-8><title>Bias report: {spec}</title>"
        f"<style>{_STYLE}</style></head><body><h1>Bias report: {spec}</h1><p class=note>{settings}"
        f"{'' if report.seconds is None else f'; {report.seconds:.0f} s'}</p>"
    ]
    if report.bbq is not None:
        parts.append(bbq_html(report.bbq))
    if report.winobias is not None:
        parts.append(wino_html(report.winobias))
    parts += [counterfactual_html(c) for c in report.counterfactual]
    parts.append("</body></html>")
    return "".join(parts)
