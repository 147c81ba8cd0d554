"""``alignkit reviews`` and ``alignkit feedback``: the gateway's human review queue and user feedback,
read from its store and exported as training data (see :mod:`alignkit.gateway.exports` for the formats)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from alignkit.core.errors import ConfigError
from alignkit.gateway.config import GatewayConfig
from alignkit.gateway.db import SQL, open_database
from alignkit.gateway.events import Events
from alignkit.gateway.exports import DEFAULT_REFUSAL, Export, export_feedback, export_reviews, write_export
from alignkit.gateway.reviews import LISTINGS, ReviewQueue
from alignkit.gateway.schema import MIGRATIONS

store_options = [
    click.option(
        "--config",
        "config_path",
        type=click.Path(exists=True, dir_okay=False),
        help="The gateway's YAML config (the one `alignkit serve --config` runs); its `database` is read.",
    ),
    click.option("--database", help="The store itself: a SQLite path or a postgresql:// URL (instead of --config)."),
]


def with_store_options(fn: click.decorators.FC) -> click.decorators.FC:
    for opt in reversed(store_options):
        fn = opt(fn)
    return fn


@contextmanager
def gateway_store(config_path: str | None, database: str | None) -> Iterator[tuple[SQL, GatewayConfig]]:
    """The store named by ``--database``, else by the config's ``database`` (default: the one a bare
    ``alignkit serve`` writes); a SQLite file that does not exist is an error, not a new empty store."""
    if config_path and database:
        raise ConfigError("give --config or --database, not both")
    config = GatewayConfig.from_file(config_path) if config_path else GatewayConfig.default()
    url = database or config.database
    if "://" not in url or url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///")).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"no gateway store at {path}: give --config gateway.yaml (the file `alignkit serve` runs with) "
                "or --database PATH"
            )
    db = open_database(url, MIGRATIONS)
    try:
        yield db, config
    finally:
        db.close()


def _echo_export(kind: str, report: Export, out: str) -> None:
    skipped = f"; {report.skipped} skipped (stored conversation unreadable)" if report.skipped else ""
    click.echo(f"wrote {report.written} {kind} to {out}{skipped}", err=True)


@click.group()
def reviews() -> None:
    """Human review queue of the gateway: list, show and export reviewer decisions.

    \b
    Examples:
      alignkit reviews list --config gateway.yaml --status overdue
      alignkit reviews show rev-0191c3... --config gateway.yaml
      alignkit reviews export --config gateway.yaml --format labels --out review_labels.jsonl
      alignkit reviews export --config gateway.yaml --format pairs --out review_pairs.jsonl
    """


@reviews.command("list")
@with_store_options
@click.option("--status", type=click.Choice(LISTINGS), default="pending", show_default=True)
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
def list_reviews(config_path: str | None, database: str | None, status: str, limit: int, as_json: bool) -> None:
    """Reviews oldest first, with the time left before each is overdue."""
    with gateway_store(config_path, database) as (db, config):
        queue = ReviewQueue(db, config.review, Events())
        found, pending, overdue = queue.list(status, limit=limit), queue.pending_count(), queue.overdue_count()
    now = time.time()
    if as_json:
        for r in found:
            click.echo(json.dumps(r.to_dict(now)))
        return
    table = Table(title=f"{pending} pending, {overdue} overdue")
    for col in ("id", "model", "validator", "rail", "status", "SLA"):
        table.add_column(col)
    for r in found:
        sla = r.status if r.status != "pending" else _left(r.due - now)
        table.add_row(r.id, r.model, r.validator, r.rail, r.status, sla)
    Console().print(table)


def _left(seconds: float) -> str:
    minutes = int(abs(seconds) // 60)
    span = f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"
    return f"{span} left" if seconds >= 0 else f"overdue {span}"


@reviews.command()
@click.argument("review_id")
@with_store_options
def show(review_id: str, config_path: str | None, database: str | None) -> None:
    """Print one review (conversation, held answer, decision) as JSON."""
    with gateway_store(config_path, database) as (db, config):
        review = ReviewQueue(db, config.review, Events()).get(review_id)
    if review is None:
        raise ConfigError(f"no review {review_id!r}; `alignkit reviews list --status all` shows the ids")
    click.echo(json.dumps(review.to_dict(time.time()), indent=2, ensure_ascii=False))


@reviews.command("export")
@with_store_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["labels", "pairs"]),
    default="labels",
    show_default=True,
    help="labels: text + harmful/safe per decided review; pairs: PreferencePair per edited or rejected answer.",
)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The JSONL file to write (replaced whole).")
@click.option("--refusal", default=DEFAULT_REFUSAL, help="The chosen answer of a rejected review's pair.")
def export_reviews_cmd(config_path: str | None, database: str | None, fmt: str, out: str, refusal: str) -> None:
    """Write reviewer decisions as labelled texts or as preference pairs for `alignkit rlhf`."""
    with gateway_store(config_path, database) as (db, _):
        records, report = export_reviews(db, fmt, refusal=refusal)
        write_export(out, records, report)
    _echo_export("labelled texts" if fmt == "labels" else "preference pairs", report, out)


@click.group()
def feedback() -> None:
    """User feedback sent to the gateway, exported as preference pairs or labelling-app items.

    \b
    Examples:
      alignkit feedback export --config gateway.yaml --format pairs --out feedback_pairs.jsonl
      alignkit feedback export --config gateway.yaml --format items --out items.jsonl
      alignkit label serve --pairs items.jsonl      # people check the users' corrections
    """


@feedback.command("export")
@with_store_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["pairs", "items"]),
    default="pairs",
    show_default=True,
    help="pairs: PreferencePair JSONL (corrections over answers, thumbs up over thumbs down); items: rows "
    "that `alignkit label serve --pairs` imports.",
)
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="The JSONL file to write (replaced whole).")
def export_feedback_cmd(config_path: str | None, database: str | None, fmt: str, out: str) -> None:
    """Write user feedback as preference pairs for `alignkit rlhf`, or as items for the labelling app."""
    with gateway_store(config_path, database) as (db, _):
        records, report = export_feedback(db, fmt)
        write_export(out, records, report)
    _echo_export("preference pairs" if fmt == "pairs" else "labelling items", report, out)
