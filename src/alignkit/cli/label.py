"""``alignkit label``: collect human preference labels in a browser, then export them for reward training."""

from __future__ import annotations

import json
import secrets
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from alignkit.cli.options import config_from_options, generation_options, load_model, progress_updater
from alignkit.core.errors import ConfigError, MissingDependencyError
from alignkit.core.files import check_not_input
from alignkit.core.jsonl import write_jsonl
from alignkit.rlhf.labelling import (
    AddReport,
    LabelStore,
    create_app,
    generate_items,
    items_from_file,
    read_prompts,
)

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@click.group()
def label() -> None:
    """Preference labelling: a web app where people compare two answers, and its exports.

    \b
    Examples:
      alignkit label serve --pairs pairs.jsonl
      alignkit label serve --prompts prompts.txt --model-a smollm2 --model-b openai/my-model -M base_url=...
      alignkit label stats labels.sqlite
      alignkit label export labels.sqlite --out preferences.jsonl
    """


def source_options(fn: Any) -> Any:
    """``--pairs --prompts --model-a --model-b`` and the generation options, for commands that add items."""
    for opt in reversed(
        [
            click.option(
                "--pairs",
                "pair_files",
                multiple=True,
                type=click.Path(exists=True, dir_okay=False),
                help="JSONL/CSV of answer pairs to import: prompt with response_a/response_b, or preference "
                "pairs (prompt/chosen/rejected). Repeatable.",
            ),
            click.option(
                "--prompts",
                "prompt_file",
                type=click.Path(exists=True, dir_okay=False),
                help="Prompts (.txt one a line, .jsonl or .csv with a prompt field) to answer with --model-a.",
            ),
            click.option("--model-a", help="Model that answers --prompts (any model string)."),
            click.option("--model-b", help="Second model; without it --model-a is sampled twice."),
            click.option("--batch-size", type=click.IntRange(1), default=16, show_default=True),
            generation_options,
        ]
    ):
        fn = opt(fn)
    return fn


def add_items(
    store: LabelStore,
    pair_files: tuple[str, ...],
    prompt_file: str | None,
    model_a: str | None,
    model_b: str | None,
    batch_size: int,
    gen: dict[str, Any],
) -> None:
    """Import pair files and generate answers for a prompt file into ``store``, reporting what was added.
    Each file is read whole before anything is added, so a bad line adds nothing from its file."""
    if (model_a or model_b) and not prompt_file:
        raise ConfigError("--model-a/--model-b answer prompts: give them a --prompts FILE")
    if prompt_file and not model_a:
        raise ConfigError("--prompts needs --model-a MODEL (and optionally --model-b MODEL) to answer them")
    if model_b and not model_a:
        raise ConfigError("--model-b needs --model-a as well")
    for path in pair_files:
        report = store.add_items(items_from_file(path))
        _echo_added(path, report)
    if prompt_file and model_a:
        prompts = read_prompts(prompt_file)
        model_args = gen.pop("model_args")
        config = config_from_options(**gen)
        first = load_model(model_a, model_args)
        second = load_model(model_b, model_args) if model_b else None
        with Progress(
            TextColumn("generating answers"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
        ) as bar:
            task = bar.add_task("generate", total=len(prompts))
            items, failed = generate_items(
                prompts,
                first,
                second,
                config=config,
                batch_size=batch_size,
                on_progress=progress_updater(bar, task),
            )
        report = store.add_items(items)
        _echo_added(prompt_file, report)
        if failed:
            click.echo(f"  {failed} prompts dropped because a model failed on them", err=True)


def _echo_added(where: str, report: AddReport) -> None:
    msg = f"{where}: {report.added} items added"
    if report.duplicates:
        msg += f", {report.duplicates} already there"
    if report.identical:
        msg += f", {report.identical} with two identical answers skipped"
    click.echo(msg, err=True)


def run_server(app: Any, host: str, port: int) -> None:
    """Serve ``app`` until interrupted (tests replace this)."""
    try:
        import uvicorn
    except ImportError as e:
        raise MissingDependencyError("alignkit label serve", "uvicorn", "serve") from e
    uvicorn.run(app, host=host, port=port, log_level="warning")


@label.command()
@click.argument("db", default="labels.sqlite", required=False, type=click.Path(dir_okay=False))
@source_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; others need --token.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option(
    "--token",
    envvar="ALIGNKIT_LABEL_TOKEN",
    help="Access token every request must carry ('auto' makes one); also read from $ALIGNKIT_LABEL_TOKEN.",
)
def serve(
    db: str,
    pair_files: tuple[str, ...],
    prompt_file: str | None,
    model_a: str | None,
    model_b: str | None,
    batch_size: int,
    host: str,
    port: int,
    token: str | None,
    **gen: Any,
) -> None:
    """Serve the labelling page for the items in DB (default labels.sqlite), after adding any given
    with --pairs or --prompts. Every label is saved to DB the moment it is given.

    Annotators enter a name, then press 1 or Left for A, 2 or Right for B, t for a tie, s to skip.
    """
    if host not in LOOPBACK_HOSTS and not token:
        raise ConfigError(
            f"--host {host} makes the labels reachable from the network: set --token TOKEN (or --token auto), "
            "or keep the default --host 127.0.0.1"
        )
    if token == "auto":  # noqa: S105 (the keyword that asks for a generated token, not a secret)
        token = secrets.token_urlsafe(16)
    with LabelStore(db) as store:
        add_items(store, pair_files, prompt_file, model_a, model_b, batch_size, gen)
        total = store.count_items()
        if not total:
            raise ConfigError(f"{db} holds no items to label: add some with --pairs FILE or --prompts FILE --model-a M")
        allowed = [*LOOPBACK_HOSTS, "[::1]"] if host in LOOPBACK_HOSTS else None
        app = create_app(store, token=token, allowed_hosts=allowed)
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{port}/" + (f"#token={token}" if token else "")
        click.echo(f"labelling {total} items from {db} at {url}  (Ctrl+C to stop)", err=True)
        run_server(app, host, port)


@label.command()
@click.argument("db", default="labels.sqlite", required=False, type=click.Path(dir_okay=False))
@source_options
def add(
    db: str,
    pair_files: tuple[str, ...],
    prompt_file: str | None,
    model_a: str | None,
    model_b: str | None,
    batch_size: int,
    **gen: Any,
) -> None:
    """Add items to DB (default labels.sqlite) without serving, e.g. to generate answers on another machine."""
    if not pair_files and not prompt_file:
        raise ConfigError("nothing to add: give --pairs FILE or --prompts FILE --model-a MODEL")
    with LabelStore(db) as store:
        add_items(store, pair_files, prompt_file, model_a, model_b, batch_size, gen)
        click.echo(f"{db} now holds {store.count_items()} items", err=True)


@label.command()
@click.argument("db", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="JSONL file of preference pairs.")
@click.option(
    "--mode",
    type=click.Choice(["majority", "each"]),
    default="majority",
    show_default=True,
    help="majority: one pair per item (disagreement becomes chosen_prob); each: one pair per label.",
)
@click.option("--no-ties", is_flag=True, help="Leave out items judged a tie.")
def export(db: str, out: str, mode: str, no_ties: bool) -> None:
    """Write the labels in DB as PreferencePair JSONL, ready for reward-model training. OUT is replaced
    only once it is written whole; it may not be DB itself."""
    check_not_input(out, [db], flag="--out")
    with LabelStore(db) as store:
        pairs = store.export(mode)  # type: ignore[arg-type]
    if no_ties:
        pairs = [p for p in pairs if not p.tie]
    n = write_jsonl(out, pairs)
    ties = sum(p.tie for p in pairs)
    click.echo(f"wrote {n} preference pairs ({ties} ties) to {out}", err=True)


@label.command()
@click.argument("db", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def stats(db: str, as_json: bool) -> None:
    """Progress per annotator, inter-annotator agreement and position bias for DB."""
    with LabelStore(db) as store:
        s = store.stats()
    if as_json:
        click.echo(json.dumps(s, indent=2))
        return

    def num(x: float | None, pct: bool = False) -> str:
        return "-" if x is None else (f"{100 * x:.0f}%" if pct else f"{x:.2f}")

    console = Console()
    table = Table(title=f"{db}: {s['items']} items, {s['labels']} labels")
    for col in ("annotator", "labelled", "skipped", "left chosen"):
        table.add_column(col, justify="left" if col == "annotator" else "right")
    for p in s["progress"]:
        bias = s["position_bias_by_annotator"][p["annotator"]]
        done = f"{p['labelled']} / {p['total']}"
        table.add_row(p["annotator"], done, str(p["skipped"]), num(bias["left_rate"], True))
    console.print(table)
    agreement = s["agreement"]
    if agreement["pairs"]:
        pairs = Table(title="agreement (skips excluded)")
        for col in ("annotators", "shared items", "agreement", "Cohen's kappa"):
            pairs.add_column(col, justify="left" if col == "annotators" else "right")
        for p in agreement["pairs"]:
            pairs.add_row(f"{p['first']} / {p['second']}", str(p["items"]), num(p["percent"], True), num(p["kappa"]))
        console.print(pairs)
    bias = s["position_bias"]
    click.echo(
        f"Fleiss' kappa {num(agreement['fleiss_kappa'])} over {agreement['fleiss_items']} items with 2+ labels; "
        f"left answer chosen {num(bias['left_rate'], True)} of {bias['decided']} decisions"
        + (f" (p = {bias['p_value']:.3g} against 50%)" if bias["p_value"] is not None else "")
    )
