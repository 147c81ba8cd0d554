"""``alignkit guard check SPEC --text ...``: run a guard spec's validators on texts."""

from __future__ import annotations

import json
import sys
from typing import Any, cast

import click
from rich.console import Console
from rich.table import Table

from alignkit.guard import Guard, GuardValidationError, ValidationResult
from alignkit.guard.validator import Rail


@click.group()
def guard() -> None:
    """Runtime guardrails: validate what goes into and comes out of a model."""


@guard.command()
@click.argument("spec", type=click.Path(exists=True, dir_okay=False))
@click.option("--text", "texts", multiple=True, help="Text to check (repeatable); '-' reads stdin.")
@click.option(
    "--on",
    "rail",
    type=click.Choice(["output", "input"]),
    default="output",
    show_default=True,
    help="Which rail's validators to run.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON lines.")
def check(spec: str, texts: tuple[str, ...], rail: str, as_json: bool) -> None:
    """Check texts against SPEC (.rail or .yaml). Exits 1 when any text fails a validator.

    \b
    Example:
      alignkit guard check guard.yaml --text "Mail me at ann@example.com"
    """
    g = Guard.from_file(spec)
    items = [sys.stdin.read() if t == "-" else t for t in texts]
    if not items:
        raise click.UsageError("give at least one --text (or --text - to read stdin)")
    failed = False
    console = Console()
    for text in items:
        try:
            res = g.validate(text, cast(Rail, rail))
            final, raised = res.text, None
        except GuardValidationError as e:
            res, final, raised = cast(ValidationResult, e.outcome), None, str(e)
        failed = failed or not res.passed
        if as_json:
            click.echo(json.dumps(_as_row(text, res, final, raised)))
        else:
            _print_result(console, text, res, final, raised)
    sys.exit(1 if failed else 0)


def _as_row(text: str, res: ValidationResult, final: str | None, raised: str | None) -> dict[str, Any]:
    """One checked text as a JSON line."""
    return {
        "text": text,
        "passed": res.passed,
        "final": final,
        "exception": raised,
        "verdicts": [v.model_dump(exclude_defaults=True) for v in res.verdicts],
        "actions": [a.__dict__ for a in res.actions],
    }


def _print_result(console: Console, text: str, res: ValidationResult, final: str | None, raised: str | None) -> None:
    """One checked text as a table of verdicts, then the actions and the final text."""
    table = Table(title=f"{'PASS' if res.passed else 'FAIL'}: {text[:60]!r}")
    for col in ("validator", "score", "flagged", "label", "reason", "ms"):
        table.add_column(col)
    for v in res.verdicts:
        table.add_row(
            v.detector,
            f"{v.score:.3f}",
            "yes" if v.flagged else "",
            v.label or "",
            v.reason,
            f"{v.latency_ms or 0:.2f}",
        )
    console.print(table)
    for a in res.actions:
        console.print(f"  action: {a.validator} -> {a.action}")
    console.print(f"  final: {final!r}" if raised is None else f"  raised: {raised}")
