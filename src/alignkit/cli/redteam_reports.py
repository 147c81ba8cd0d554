"""Reports and CI gates of the ``alignkit redteam`` commands.

A gate that could not measure fails: ``--fail-above`` fails a run whose attack success could not be
measured or was measured on fewer harmful attempts than ``--min-judged`` (:mod:`alignkit.redteam.gate`).
Reports are written atomically (:mod:`alignkit.core.files`), never over an input, without a masked key,
and record the gate's verdict as the exit code gives it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import click

from alignkit.core.errors import ConfigError
from alignkit.core.files import check_not_input, write_text_atomic
from alignkit.core.scrub import scrub
from alignkit.redteam.gate import GateConfig, GateResult, check_gate, parse_min_judged
from alignkit.redteam.report import to_html, to_json, to_junit, to_sarif
from alignkit.redteam.store import RunStore
from alignkit.redteam.summary import Summary, summarize


@dataclass(frozen=True)
class ReportPaths:
    """Where to write each report (None: not asked for)."""

    html: str | None = None
    json: str | None = None
    junit: str | None = None
    sarif: str | None = None

    def check(self, inputs: Sequence[str]) -> None:
        """Refuse a report path that is one of ``inputs`` (the run store, probe files, a guard spec)."""
        for flag, path in (
            ("--html", self.html),
            ("--json", self.json),
            ("--junit", self.junit),
            ("--sarif", self.sarif),
        ):
            if path:
                check_not_input(path, inputs, flag=flag)


def write_reports(
    store: RunStore, run_id: str, paths: ReportPaths, gate_config: GateConfig | None = None
) -> tuple[Summary, GateResult | None]:
    """Write the reports asked for, each atomically and without a masked key; the run's summary and
    the gate's verdict (None without a gate)."""
    run = store.run_info(run_id)
    rows = list(store.attempts(run_id))
    summary = summarize(rows)
    gate = check_gate(summary, gate_config) if gate_config else None
    writers: list[tuple[str | None, Callable[[], str]]] = [
        (paths.html, lambda: to_html(run, summary, gate=gate)),
        (paths.json, lambda: to_json(run, summary, gate)),
        (paths.junit, lambda: to_junit(run, rows, gate)),
        (paths.sarif, lambda: to_sarif(run, rows, gate)),
    ]
    for path, render in writers:
        if path:
            write_text_atomic(path, scrub(render(), shapes=False))
            click.echo(f"wrote {path}", err=True)
    return summary, gate


def finish_gate(gate: GateResult | None) -> None:
    """Print the gate's verdict and exit 1 when it failed."""
    if gate is None:
        return
    if not gate.passed:
        click.echo(f"FAIL: {gate.reason}", err=True)
        sys.exit(1)
    click.echo(f"gate passed: {gate.reason}", err=True)


class MinJudged(click.ParamType):  # type: ignore[type-arg]
    """``--min-judged``: a share (80%, 0.8) or a count (5)."""

    name = "SHARE|COUNT"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float | int:
        """The share or count, or a usage error saying what is accepted."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            return value
        try:
            return parse_min_judged(str(value))
        except ConfigError as e:
            self.fail(str(e), param, ctx)


def gate_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--fail-above`` and ``--min-judged`` on a command."""
    fn = click.option(
        "--min-judged",
        type=MinJudged(),
        help="Least share (80%, 0.8) or number (5) of harmful attempts that must be judged (not errored, empty or "
        "ungradable) for the gate to pass; at least one always must. Default with --fail-above: 80%: the scan "
        "retries failures first, so a run with more unjudged than that measures the endpoint, not the model, "
        "and what was not judged could hide up to 20 points of attack success.",
    )(fn)
    return click.option(
        "--fail-above",
        type=click.FloatRange(0, 1),
        help="Exit 1 when attack success exceeds this rate, or when it could not be measured (see --min-judged).",
    )(fn)


def gate_config(fail_above: float | None, min_judged: float | int | None) -> GateConfig | None:
    """The gate the options ask for; None when neither is given."""
    if fail_above is None and min_judged is None:
        return None
    return GateConfig(fail_above=fail_above) if min_judged is None else GateConfig(fail_above, min_judged)
