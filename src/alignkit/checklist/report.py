"""The checklist's results in the formats people and CI systems read: a terminal table, Markdown, a
self-contained HTML page, JSON and JUnit XML.

Every format carries each item's status, summary, evidence and fix. In JUnit an item is a test case: a
failing item is a ``<failure>``, a warning is not (it is recorded as a ``status`` property and in
``system-out``), so CI fails exactly when ``alignkit checklist`` exits 1. The HTML page has no script
and loads nothing (a Content-Security-Policy says so), and every text in it is escaped: evidence quotes
files and servers, which may hold anything. Files are written atomically (:mod:`alignkit.core.files`).
"""

from __future__ import annotations

import datetime as dt
import html
import io
import json
import os
from collections.abc import Sequence
from typing import Literal
from xml.etree import ElementTree as ET

from rich.console import Console
from rich.markup import escape as rich_escape
from rich.table import Table

from alignkit._version import __version__
from alignkit.checklist.model import ItemResult, worst
from alignkit.core.files import write_text_atomic

Format = Literal["text", "md", "html", "json", "junit"]
FORMATS: tuple[Format, ...] = ("text", "md", "html", "json", "junit")
COLOURS = {"pass": "#1e7e34", "warn": "#b26a00", "fail": "#c0392b"}
RICH_STYLES = {"pass": "green", "warn": "yellow", "fail": "bold red"}


def counts(results: Sequence[ItemResult]) -> dict[str, int]:
    """How many items passed, warned and failed."""
    return {s: sum(1 for r in results if r.status == s) for s in ("pass", "warn", "fail")}


def headline(results: Sequence[ItemResult]) -> str:
    """``checklist FAIL: 5 pass, 1 warn, 2 fail``."""
    c = counts(results)
    overall = worst([r.status for r in results]) if results else "fail"
    return f"checklist {overall.upper()}: {c['pass']} pass, {c['warn']} warn, {c['fail']} fail"


def to_json(results: Sequence[ItemResult]) -> str:
    """Every item as its ``to_dict`` under ``items``, with the overall status and the counts."""
    doc = {
        "status": worst([r.status for r in results]) if results else "fail",
        "counts": counts(results),
        "items": [r.to_dict() for r in results],
        "alignkit": __version__,
        "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    return json.dumps(doc, indent=2, default=str)


def to_markdown(results: Sequence[ItemResult]) -> str:
    """A summary table, then each item's evidence and fix."""

    def cell(text: str) -> str:
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    lines = [f"# Deployment checklist: {headline(results)}", "", "| item | status | summary |", "|---|---|---|"]
    lines += [f"| {cell(r.title)} | **{r.status}** | {cell(r.summary)} |" for r in results]
    for r in results:
        lines += ["", f"## {cell(r.title)}: {r.status}", "", cell(r.summary), ""]
        lines += [
            f"- **{cell(e.what)}**: {cell(e.found)}" + (f" (`{cell(e.source)}`)" if e.source else "")
            for e in r.evidence
        ]
        if r.fix:
            lines += ["", f"**Fix:** {cell(r.fix)}"]
    return "\n".join(lines) + "\n"


def to_html(results: Sequence[ItemResult]) -> str:
    """A self-contained page: a table of items coloured by status, then each item's evidence and fix."""
    esc = html.escape
    rows = "".join(
        f'<tr><td><a href="#{esc(r.id)}">{esc(r.title)}</a></td><td class="{esc(r.status)}">{esc(r.status)}</td>'
        f"<td>{esc(r.summary)}</td></tr>"
        for r in results
    )
    sections = []
    for r in results:
        evidence = "".join(
            f"<li><b>{esc(e.what)}</b>: {esc(e.found)}"
            + (f" <code>{esc(e.source)}</code>" if e.source else "")
            + "</li>"
            for e in r.evidence
        )
        fix = f'<p class="fix"><b>Fix:</b> {esc(r.fix)}</p>' if r.fix else ""
        sections.append(
            f'<section id="{esc(r.id)}"><h2>{esc(r.title)} <span class="{esc(r.status)}">{esc(r.status)}</span></h2>'
            f"<p>{esc(r.summary)}</p><ul>{evidence}</ul>{fix}</section>"
        )
    colours = "".join(
        f".{s}{{color:#fff;background:{c};padding:1px 6px;border-radius:3px}}" for s, c in COLOURS.items()
    )
    style = (
        "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}code{background:#f3f3f3}"
        ".fix{background:#fff8e1;padding:6px}" + colours
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><meta http-equiv='Content-Security-Policy' "
        "content=\"default-src 'none'; style-src 'unsafe-inline'\"><title>alignkit deployment checklist</title>"
        f"<style>{style}</style></head><body><h1>Deployment checklist: {esc(headline(results))}</h1>"
        f"<table><tr><th>item</th><th>status</th><th>summary</th></tr>{rows}</table>{''.join(sections)}"
        f"<p><small>alignkit {esc(__version__)}</small></p></body></html>"
    )


def to_junit(results: Sequence[ItemResult]) -> str:
    """One test suite, one test case per item: fail is a failure; warn a property and system-out."""
    c = counts(results)
    suites = ET.Element("testsuites", name="alignkit checklist", tests=str(len(results)), failures=str(c["fail"]))
    suites.set("errors", "0")
    suite = ET.SubElement(
        suites, "testsuite", name="checklist", tests=str(len(results)), failures=str(c["fail"]), errors="0"
    )
    for r in results:
        case = ET.SubElement(suite, "testcase", classname="checklist", name=f"{r.id}: {r.title}")
        props = ET.SubElement(case, "properties")
        ET.SubElement(props, "property", name="status", value=r.status)
        out = [r.summary, *(f"- {e.what}: {e.found}" + (f" ({e.source})" if e.source else "") for e in r.evidence)]
        if r.fix:
            out.append(f"fix: {r.fix}")
        if r.status == "fail":
            ET.SubElement(case, "failure", message=_xml_safe(r.summary), type="fail").text = _xml_safe("\n".join(out))
        else:
            ET.SubElement(case, "system-out").text = _xml_safe(f"{r.status.upper()}: " + "\n".join(out))
    return ET.tostring(suites, encoding="unicode", xml_declaration=True)


def _xml_safe(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot hold (control characters a server may have sent)."""
    return "".join(ch for ch in text if ch in "\t\n\r" or (ord(ch) >= 0x20 and ch not in "\ufffe\uffff"))


def table(results: Sequence[ItemResult]) -> Table:
    """The terminal view: one row per item with its status, summary, evidence and fix."""
    t = Table(title=headline(results), show_lines=True)
    t.add_column("item", no_wrap=True)
    t.add_column("status", no_wrap=True)
    t.add_column("evidence", overflow="fold")
    for r in results:
        lines = [f"[bold]{rich_escape(r.summary)}[/bold]"]
        lines += [f"- {rich_escape(e.what)}: {rich_escape(e.found)}" for e in r.evidence]
        if r.fix:
            lines.append(f"[italic]fix: {rich_escape(r.fix)}[/italic]")
        t.add_row(rich_escape(r.title), f"[{RICH_STYLES[r.status]}]{r.status}[/]", "\n".join(lines))
    return t


def to_text(results: Sequence[ItemResult], width: int = 120) -> str:
    """The terminal table as plain text (for a file or a pipe)."""
    out = io.StringIO()
    Console(width=width, file=out, color_system=None).print(table(results))
    return out.getvalue()


def render(results: Sequence[ItemResult], fmt: Format) -> str:
    """``results`` in ``fmt``."""
    renderers = {"text": to_text, "md": to_markdown, "html": to_html, "json": to_json, "junit": to_junit}
    return renderers[fmt](results)


def write_report(path: str | os.PathLike[str], results: Sequence[ItemResult], fmt: Format) -> None:
    """Write ``results`` in ``fmt`` to ``path`` atomically (a lone surrogate a server sent becomes "?")."""
    write_text_atomic(path, render(results, fmt).encode("utf-8", "replace").decode("utf-8"))
