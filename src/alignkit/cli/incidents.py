"""``alignkit incidents``: the gateway's incidents, worked from its store (no running server needed), so
the on-call engineer can acknowledge and resolve them, and write the postmortem, from a shell."""

from __future__ import annotations

import getpass
import json
import sys
import time
from collections.abc import Callable

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from alignkit.cli.gateway_data import gateway_store, with_store_options
from alignkit.core.files import write_text_atomic
from alignkit.core.jsonl import write_jsonl
from alignkit.gateway.config import GatewayConfig
from alignkit.gateway.db import SQL
from alignkit.gateway.incident_report import describe_event, postmortem, record, utc
from alignkit.gateway.incident_store import LIST_FILTERS, MAX_LIST, Incident, IncidentStore
from alignkit.gateway.incident_webhooks import Worker, webhooks_for


@click.group()
def incidents() -> None:
    """Incident response: list, show, acknowledge, resolve and export the gateway's incidents.

    \b
    Examples:
      alignkit incidents list --config gateway.yaml
      alignkit incidents show inc-0191c3... --config gateway.yaml
      alignkit incidents ack inc-0191c3... --note "looking into it" --config gateway.yaml
      alignkit incidents resolve inc-0191c3... --note "vLLM restarted" --config gateway.yaml
      alignkit incidents export inc-0191c3... --format markdown --out postmortem.md --config gateway.yaml

    Acknowledging and resolving tell the config's webhooks, as the server does (--no-webhooks: don't).
    """


def _store(db: SQL, config: GatewayConfig) -> IncidentStore:
    return IncidentStore(db, runbook=config.incidents.runbook, owner=config.incidents.owner)


def _me() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in this container
        return "cli"


@incidents.command("list")
@click.option(
    "--status",
    type=click.Choice(LIST_FILTERS),
    default="active",
    show_default=True,
    help="Which incidents: active (open or acknowledged), open, acknowledged, resolved or all.",
)
@click.option("--limit", type=click.IntRange(1, MAX_LIST), default=50, show_default=True, help="Most incidents shown.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line instead of a table.")
@with_store_options
def list_(status: str, limit: int, as_json: bool, config_path: str | None, database: str | None) -> None:
    """List incidents, newest first."""
    with gateway_store(config_path, database) as (db, config):
        found = _store(db, config).list(status, limit)
    if as_json:
        for i in found:
            click.echo(json.dumps(i.to_dict(), ensure_ascii=False))
        return
    if not found:
        click.echo(f"no incidents ({status})", err=True)
        return
    table = Table(title=f"incidents ({status})")
    table.add_column("id", no_wrap=True)  # whole, to copy into `show`/`ack`
    for column in ("severity", "status", "opened", "title", "owner"):
        table.add_column(column, overflow="fold")
    for i in found:
        cells = (i.id, i.severity, i.status, utc(i.opened), i.title, i.owner or "-")
        table.add_row(*(Text(c) for c in cells))  # Text: a title is shown as written, never as markup
    Console().print(table)


@incidents.command()
@click.argument("incident_id")
@click.option("--json", "as_json", is_flag=True, help="The incident and its timeline as one JSON object.")
@with_store_options
def show(incident_id: str, as_json: bool, config_path: str | None, database: str | None) -> None:
    """Show one incident and its timeline."""
    with gateway_store(config_path, database) as (db, config):
        store = _store(db, config)
        incident = store.get(incident_id)
        timeline = store.timeline(incident_id)
    if as_json:
        click.echo(json.dumps(record(incident, timeline), ensure_ascii=False, indent=2))
        return
    click.echo(f"{incident.id}  [{incident.severity}] {incident.status}  {incident.title}")
    click.echo(f"trigger {incident.trigger} ({incident.dedup_key}) · owner {incident.owner or '-'}")
    click.echo(f"runbook {incident.runbook or '-'}")
    click.echo(
        f"opened {utc(incident.opened)} · acknowledged {utc(incident.acknowledged)} · resolved {utc(incident.resolved)}"
    )
    click.echo("\ntimeline:")
    for e in timeline:
        click.echo(f"  {utc(e.at)}  {e.kind:<12} {e.actor or '-':<16} {describe_event(e)}")


def change_options(fn: click.decorators.FC) -> click.decorators.FC:
    """``--by`` and ``--no-webhooks`` and the store options, for the commands that change a status."""
    fn = click.option("--no-webhooks", is_flag=True, help="Do not tell the config's webhooks.")(fn)
    fn = click.option("--by", "actor", default=None, help="Who does it (default: cli:<your user name>).")(fn)
    return with_store_options(fn)


def _change(
    config_path: str | None,
    database: str | None,
    event: str,
    change: Callable[[IncidentStore], Incident],
    note: str | None,
    webhooks: bool,
) -> None:
    """Run a status change, tell the webhooks (waiting, bounded, for them) and say what happened."""
    with gateway_store(config_path, database) as (db, config):
        store = _store(db, config)
        started = time.time()
        incident = change(store)
        click.echo(f"{incident.id} is {incident.status} (owner {incident.owner or '-'})")
        if not (webhooks and config.incidents.webhooks):
            return
        worker = Worker("alignkit-incidents-cli")
        webhooks_for(config.incidents, worker, store).notify(event, incident, note)
        given_up = worker.close(config.incidents.webhook_drain_s)
        results = [e.detail for e in store.timeline(incident.id) if e.kind == "webhook" and e.at >= started]
    ok = sum(1 for r in results if r.get("ok"))
    click.echo(f"webhooks: {ok} of {len(config.incidents.webhooks)} delivered", err=True)
    for r in results:
        if not r.get("ok"):
            click.echo(f"  {r.get('target')}: {r.get('error')} after {r.get('attempts')} attempts", err=True)
    if given_up:
        click.echo(f"  {given_up} still in flight after {config.incidents.webhook_drain_s:g} s: given up", err=True)


@incidents.command()
@click.argument("incident_id")
@click.option("--note", help="What you are doing about it (goes into the timeline and the webhooks).")
@click.option("--owner", help="Who owns the incident from now on (default: it keeps its owner, else you).")
@change_options
def ack(
    incident_id: str,
    note: str | None,
    owner: str | None,
    actor: str | None,
    no_webhooks: bool,
    config_path: str | None,
    database: str | None,
) -> None:
    """Acknowledge an open incident (someone is on it)."""
    who = actor or _me()
    _change(
        config_path,
        database,
        "acknowledged",
        lambda s: s.acknowledge(incident_id, actor=who, note=note, owner=owner),
        note,
        not no_webhooks,
    )


@incidents.command()
@click.argument("incident_id")
@click.option("--note", help="How it was resolved (goes into the timeline, the webhooks and the postmortem).")
@change_options
def resolve(
    incident_id: str,
    note: str | None,
    actor: str | None,
    no_webhooks: bool,
    config_path: str | None,
    database: str | None,
) -> None:
    """Resolve an incident (open or acknowledged)."""
    who = actor or _me()
    _change(
        config_path, database, "resolved", lambda s: s.resolve(incident_id, actor=who, note=note), note, not no_webhooks
    )


@incidents.command()
@click.argument("incident_ids", nargs=-1)
@click.option(
    "--status",
    type=click.Choice(LIST_FILTERS),
    default="all",
    show_default=True,
    help="Without INCIDENT_IDS: which incidents to export.",
)
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_LIST),
    default=MAX_LIST,
    show_default=True,
    help="Without INCIDENT_IDS: the most incidents exported (newest first).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "markdown"]),
    default="jsonl",
    show_default=True,
    help="jsonl: one incident with its timeline per line; markdown: a postmortem skeleton each.",
)
@click.option(
    "--out", default="-", show_default=True, help="The file to write (written whole or not at all); -: stdout."
)
@with_store_options
def export(
    incident_ids: tuple[str, ...],
    status: str,
    limit: int,
    fmt: str,
    out: str,
    config_path: str | None,
    database: str | None,
) -> None:
    """Export incidents (the given ones, or those with --status) as JSONL or Markdown postmortems."""
    with gateway_store(config_path, database) as (db, config):
        store = _store(db, config)
        chosen = [store.get(i) for i in incident_ids] if incident_ids else store.list(status, limit)
        records = [(i, store.timeline(i.id)) for i in chosen]
    if fmt == "markdown":
        text = "\n---\n\n".join(postmortem(i, t) for i, t in records)
        if out == "-":
            sys.stdout.write(text)
        else:
            write_text_atomic(out, text)
    elif out == "-":
        for i, t in records:
            click.echo(json.dumps(record(i, t), ensure_ascii=False))
    else:
        write_jsonl(out, (record(i, t) for i, t in records))
    if out != "-":
        click.echo(f"wrote {len(records)} incidents to {out}", err=True)
