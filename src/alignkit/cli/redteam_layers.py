"""``alignkit redteam layers``: what each layer of a multi-layer defense buys (the guide's mitigation for
jailbreaks), measured.

The same attempts run through all eight combinations of input filter, hardened system prompt and output
filter (:func:`alignkit.checklist.layers.measure_layers`); the model answers each distinct conversation
once, so the eight cost about two scans of model time. It imports the gateway's hardening (the serve
extra), so the ``redteam`` group loads it only when it runs.

Fails closed: a combination whose attack success could not be measured (no harmful attempt judged: the
target errored or answered nothing) makes the command exit 1, after the reports are written.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from alignkit.checklist.layers import Layers, LayersResult, change, measure_layers, pp, to_html
from alignkit.cli.options import load_model
from alignkit.cli.redteam import collect_probes, probe_options, probes_digest
from alignkit.cli.redteam_reports import ReportPaths
from alignkit.core.files import write_text_atomic
from alignkit.core.scrub import scrub
from alignkit.guard import Guard
from alignkit.redteam.engine import ScanConfig, plan
from alignkit.redteam.judge import Judge
from alignkit.redteam.store import RunStore


@click.command()
@click.argument("model")
@probe_options
@click.option("--sample", type=click.IntRange(1), help="Scan a seeded sample of this many probes.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--guard",
    "guard_spec",
    default="default",
    show_default=True,
    help="The guard whose input and output rails are the two filter layers: 'default' or a .rail/.yaml spec "
    "with validators on both rails.",
)
@click.option("--store", "store_path", default="alignkit-runs.db", show_default=True, help="SQLite run store.")
@click.option("--run-id", "run_prefix", help="Prefix of the eight runs, each PREFIX-LAYERS (default: model and time).")
@click.option("--max-tokens", type=click.IntRange(1), default=192, show_default=True)
@click.option("--json", "json_out", help="Write the comparison as JSON here.")
@click.option("--html", help="Write the comparison as an HTML page here.")
@click.option("-M", "--model-arg", "model_args", multiple=True, metavar="KEY=VALUE", help="Model provider argument.")
def layers(
    model: str,
    probe_sources: tuple[str, ...],
    probe_format: str | None,
    categories: str | None,
    sample: int | None,
    seed: int,
    guard_spec: str,
    store_path: str,
    run_prefix: str | None,
    max_tokens: int,
    json_out: str | None,
    html: str | None,
    model_args: tuple[str, ...],
) -> None:
    """Scan MODEL under every combination of input filter, system prompt and output filter.

    Prints attack success and over-refusal for each of the eight (with counts, 95% Wilson intervals and
    the change vs bare), so a team sees what each layer buys. The model answers each distinct prompt once:
    the combinations without the hardened system prompt share one set of answers, those with it another.

    \b
    Examples:
      alignkit redteam layers smollm2 --sample 24
      alignkit redteam layers openai/my-model -M base_url=http://127.0.0.1:8000/v1 --guard guard.yaml --json layers.json
    """
    paths = ReportPaths(html=html, json=json_out)
    paths.check([store_path, *(p for p in probe_sources if p != "builtin"), guard_spec])
    probes = collect_probes(probe_sources, probe_format, categories, sample, seed)
    guard = Guard.default() if guard_spec == "default" else Guard.from_file(guard_spec)
    target = load_model(model, model_args)
    attempts = plan(probes, ["none"], seed)
    prefix = run_prefix or f"layers-{model.replace('/', '_')}-{time.strftime('%Y%m%d-%H%M%S')}"
    options = {
        "probes": list(probe_sources),
        "sample": sample,
        "guard": guard_spec,
        "probes_sha256": probes_digest(probes),
    }
    cfg = ScanConfig(seed=seed, max_tokens=max_tokens)
    with RunStore(store_path) as store, _Bars() as bars:
        result = asyncio.run(
            measure_layers(
                target, guard, attempts, judge=Judge(), store=store, run_prefix=prefix, config=cfg,
                on_progress=bars.update, extra_config=options,
            )
        )  # fmt: skip
    reports = {json_out: json.dumps(result.to_dict(), indent=2, default=str), html: to_html(result)}
    for path, text in reports.items():
        if path:
            write_text_atomic(path, scrub(text, shapes=False))
            click.echo(f"wrote {path}", err=True)
    print_layers(result, store_path)
    unmeasured = result.unmeasured()
    if unmeasured:
        click.echo("FAIL: " + "; ".join(unmeasured), err=True)
        sys.exit(1)


class _Bars:
    """A transient progress bar per combination."""

    def __init__(self) -> None:
        columns = (TextColumn("{task.description:32}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        self.progress = Progress(*columns, console=Console(stderr=True), transient=True)
        self.tasks: dict[Layers, TaskID] = {}

    def update(self, layers: Layers, done: int, total: int) -> None:
        if layers not in self.tasks:
            self.tasks[layers] = self.progress.add_task(layers.name, total=total)
        self.progress.update(self.tasks[layers], completed=done, total=total)

    def __enter__(self) -> _Bars:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)


def print_layers(result: LayersResult, store_path: str) -> None:
    """The comparison as a table, then what was shared and where the runs are."""
    base = result.bare.summary
    table = Table(title=f"{result.target}: multi-layer defense ({result.attempts} attempts per combination)")
    for col in ("layers", "attack success", "vs bare", "over-refusal", "vs bare", "judged"):
        table.add_column(col, justify="left" if col == "layers" else "right", no_wrap=col == "layers")
    for r in result.runs:
        s = r.summary
        table.add_row(
            r.layers.name,
            s.asr.text(),
            pp(change(s.asr, base.asr)),
            s.over_refusal.text(),
            pp(change(s.over_refusal, base.over_refusal)),
            f"{s.attempts.judged}/{s.attempts.total}",
        )
    console = Console()
    if not console.is_terminal:  # a log or a pipe: room for the table on one line per combination
        console = Console(width=max(console.width, 120))
    console.print(table)
    click.echo(
        f"{result.generated} answers generated, {result.reused} shared between combinations; "
        f"{result.seconds:.0f} s; store {store_path}, runs {result.bare.run_id.removesuffix('-bare')}-* "
        "(alignkit redteam report RUN --store ...)"
    )
