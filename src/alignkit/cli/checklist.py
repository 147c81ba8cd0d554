"""``alignkit checklist``: the deployment checklist, checked from evidence; the exit code gates a release."""

from __future__ import annotations

import sys
import urllib.parse

import click
from rich.console import Console

from alignkit.checklist.config import DeployConfig
from alignkit.checklist.report import FORMATS, Format, headline, render, table, write_report
from alignkit.checklist.run import run_checklist
from alignkit.core.errors import ConfigError
from alignkit.core.files import check_not_input

PIPE_WIDTH = 140  # a pipe or a CI log has no width: wide enough that evidence lines rarely wrap


def terminal() -> Console:
    """A console as wide as the terminal, or :data:`PIPE_WIDTH` when stdout is not one."""
    console = Console()
    return console if console.is_terminal else Console(width=PIPE_WIDTH)


class ConfigProblem(click.ClickException):
    """A deploy config or option that cannot be used: exit code 2, as for a usage error."""

    exit_code = 2


@click.command()
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="The deploy config (deploy.yaml): the model, its scan report, the gateway, runbook and audits.",
)
@click.option("--gateway", "gateway_url", help="A running gateway to probe (default: gateway.url in the config).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True, help="Output format.")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the report here (atomically) instead of stdout.")
@click.option(
    "--skip-webhook-test",
    is_flag=True,
    help="Do not send the incident webhooks a test event (the incident item then warns: nobody checked).",
)
def checklist(config_path: str, gateway_url: str | None, fmt: Format, out: str | None, skip_webhook_test: bool) -> None:
    """Check a deployment against the safety checklist, from evidence; exit 1 when an item fails.

    Each item of the guide's checklist passes, warns or fails with the evidence it looked at and how to
    fix it: red team testing (the scan report: this model, recent, untampered, within bounds), content
    filters (guards on input and output, with measured quality), rate limits, logging and monitoring,
    human escalation and user feedback (live probes of a running gateway), incident response (runbook,
    triggers, webhooks) and audits (schedule, last report). What could not be checked fails.

    Exit code: 0 when no item fails (warnings do not fail), 1 when one does, 2 for a bad config or option.

    \b
    Examples:
      alignkit checklist --config deploy.yaml --gateway http://127.0.0.1:8000
      alignkit checklist --config deploy.yaml --format junit --out checklist.xml
      alignkit checklist --config deploy.yaml --format html --out checklist.html
    """
    try:
        config = DeployConfig.from_file(config_path)
    except ConfigError as e:
        raise ConfigProblem(str(e)) from None
    url = gateway_url or config.gateway.url
    if url:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            where = "--gateway" if gateway_url else f"{config_path}: gateway.url"
            raise ConfigProblem(f"{where} {url!r} is not an http(s) URL; write it as http://HOST:PORT")
    if out:
        inputs = [
            config_path,
            *(str(p) for p in (config.path(config.red_team.report), config.path(config.gateway.config)) if p),
        ]
        try:
            check_not_input(out, inputs, flag="--out")
        except ConfigError as e:
            raise ConfigProblem(str(e)) from None
    results = run_checklist(config, gateway_url=url, probe_webhooks=not skip_webhook_test)
    if out:
        write_report(out, results, fmt)
        terminal().print(table(results))
        click.echo(f"wrote {out}", err=True)
    elif fmt == "text":
        terminal().print(table(results))
    else:
        click.echo(render(results, fmt), nl=False)
    click.echo(headline(results), err=True)
    sys.exit(1 if any(r.status == "fail" for r in results) else 0)
