"""``alignkit redteam``: scan a model, judge responses gathered elsewhere, report and compare runs.

Model strings become models here (the library takes models): the target, the attacker and the rubric
grader's model are resolved with :func:`alignkit.cli.options.load_model` and passed in.

Gates fail closed: ``--fail-above`` fails a scan whose attack success could not be measured (every
attempt errored or came back empty) or was measured on fewer attempts than ``--min-judged``; the JUnit
and SARIF reports record the same verdict as the exit code. Reports are written atomically and never
over an input; they hold no credential (:mod:`alignkit.core.scrub`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from alignkit.cli.lazy import LazyGroup, LazyTable
from alignkit.cli.options import load_model, progress_updater
from alignkit.cli.redteam_judge import judge, make_judge
from alignkit.cli.redteam_reports import ReportPaths, finish_gate, gate_config, gate_options, write_reports
from alignkit.core.errors import ConfigError
from alignkit.core.model import Model
from alignkit.guard import Guard
from alignkit.redteam.base import Attack, Attempt, Probe, attacks, parse_stack
from alignkit.redteam.engine import ScanConfig, ScanResult, plan, run_scan
from alignkit.redteam.loaders import load_probes
from alignkit.redteam.probes import builtin_probes, sample_probes
from alignkit.redteam.report import diff as diff_runs
from alignkit.redteam.store import RunStore
from alignkit.redteam.summary import Summary

F = TypeVar("F", bound=Callable[..., Any])

# `layers` imports the gateway's hardening (the serve extra), so it loads only when it runs.
LAZY: LazyTable = {
    "layers": (
        "alignkit.cli.redteam_layers:layers",
        "Scan MODEL under every combination of input filter, system prompt and output filter.",
    ),
}


@click.group(cls=LazyGroup, lazy=LAZY)
def redteam() -> None:
    """Red teaming: systematic attack scans with trustworthy judges."""


def print_summary(title: str, summaries: dict[str, Summary]) -> None:
    """A table of attack success and over-refusal per category, one column pair per run."""
    table = Table(title=title)
    table.add_column("category")
    for name in summaries:
        table.add_column(f"{name}\nattack success", justify="right")
        table.add_column(f"{name}\nover-refusal", justify="right")
    cats = sorted({c for s in summaries.values() for c in s.by_category})

    def cell(rate: Any) -> str:
        return f"{100 * rate.value:.0f}% ({rate.hits}/{rate.total})" if rate.total else "-"

    for c in cats:
        row = [c]
        for s in summaries.values():
            asr, orr = s.by_category.get(c, (None, None))
            row += [cell(asr) if asr else "-", cell(orr) if orr else "-"]
        table.add_row(*row)
    table.add_row(*["all"] + [x for s in summaries.values() for x in (cell(s.asr), cell(s.over_refusal))], style="bold")
    Console().print(table)


def scan_with_progress(
    target: Model, attempts: Sequence[Attempt], label: str, console: Console | None = None, **scan: Any
) -> ScanResult:
    """:func:`run_scan` under a transient progress bar; ``scan``: its keyword arguments."""
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(label, total=len(attempts))
        return asyncio.run(run_scan(target, attempts, on_progress=progress_updater(bar, task), **scan))


def probe_options(fn: F) -> F:
    """``--probes --format --categories`` on a command (see :func:`collect_probes`)."""
    fn = click.option("--categories", help="Comma-separated hazard categories to keep.")(fn)
    fn = click.option(
        "--format", "probe_format", help="Preset for probe files: advbench, harmbench, jailbreakbench, xstest, ..."
    )(fn)
    return click.option(
        "--probes",
        "probe_sources",
        multiple=True,
        default=["builtin"],
        show_default=True,
        help="'builtin', or a CSV/JSONL file of probes (repeatable).",
    )(fn)


@redteam.command()
@click.argument("target")
@probe_options
@click.option(
    "--converters",
    default="none",
    show_default=True,
    help="Comma-separated converter stacks, e.g. 'none,base64,roleplay+leetspeak'.",
)
@click.option("--converter-model", help="Model for the converters that call one, e.g. translate (any model string).")
@click.option("--sample", type=click.IntRange(1), help="Scan a seeded sample of this many probes.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--attacks",
    "attack_names",
    default="static",
    show_default=True,
    help=f"Comma-separated attacks: {', '.join(attacks.names())} (static: probes x converters; crescendo: "
    "multi-turn; pair: attacker-model refinement, needs --attacker).",
)
@click.option("--attacker", help="Attacker model for the attacks that use one (any model string).")
@click.option("--guard", "guard_spec", help="Scan the target behind a guard: 'default' or a .rail/.yaml spec.")
@click.option("--grader-model", help="Add an LLM rubric grader (any model string).")
@click.option("--store", "store_path", default="alignkit-runs.db", show_default=True, help="SQLite run store.")
@click.option("--run-id", help="Name of the run (default: target and time).")
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted run (same --run-id, same options; only --concurrency, --batch-size, --timeout "
    "and --retries may change).",
)
@click.option("--concurrency", type=click.IntRange(1), default=8, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=8, show_default=True)
@click.option("--timeout", type=click.FloatRange(0, min_open=True), default=300.0, show_default=True)
@click.option("--retries", type=click.IntRange(0), default=2, show_default=True)
@click.option("--max-tokens", type=click.IntRange(1), default=192, show_default=True)
@click.option("--html", help="Write the HTML report here.")
@click.option("--json", "json_out", help="Write the JSON summary here.")
@click.option("--junit", help="Write JUnit XML here.")
@click.option("--sarif", help="Write SARIF here.")
@gate_options
@click.option("-M", "--model-arg", "model_args", multiple=True, metavar="KEY=VALUE", help="Target provider argument.")
def scan(
    target: str,
    probe_sources: tuple[str, ...],
    probe_format: str | None,
    categories: str | None,
    converters: str,
    converter_model: str | None,
    sample: int | None,
    seed: int,
    attack_names: str,
    attacker: str | None,
    guard_spec: str | None,
    grader_model: str | None,
    store_path: str,
    run_id: str | None,
    resume: bool,
    concurrency: int,
    batch_size: int,
    timeout: float,
    retries: int,
    max_tokens: int,
    html: str | None,
    json_out: str | None,
    junit: str | None,
    sarif: str | None,
    fail_above: float | None,
    min_judged: float | int | None,
    model_args: tuple[str, ...],
) -> None:
    """Scan TARGET (any model string) with probes x converters; results go to the run store as they
    arrive, so an interrupted scan resumes with --resume.

    \b
    Examples:
      alignkit redteam scan smollm2 --sample 40 --html report.html
      alignkit redteam scan openai/my-model -M base_url=http://127.0.0.1:8000/v1 --converters none,base64
      alignkit redteam scan smollm2 --guard default --fail-above 0.1 --junit redteam.xml
    """
    paths = ReportPaths(html, json_out, junit, sarif)
    paths.check([store_path, *(p for p in probe_sources if p != "builtin"), *([guard_spec] if guard_spec else [])])
    probes = collect_probes(probe_sources, probe_format, categories, sample, seed)
    chosen = build_attacks(attack_names, attacker)
    model = _scan_target(target, model_args, guard_spec, concurrency)
    rewriter = load_model(converter_model, ()) if converter_model else None
    stacks = [parse_stack(c, model=rewriter) for c in converters.split(",") if c.strip()]
    if rewriter is not None and not any(s.calls_model for s in stacks):
        raise click.UsageError(f"--converter-model is given but none of --converters {converters!r} calls a model")
    attempts = plan(probes, stacks, seed, attacks=chosen)
    cfg = ScanConfig(
        concurrency, batch_size, retries, timeout, seed=seed, max_tokens=max_tokens
    )  # the first four in order
    options = {
        "probes": list(probe_sources),
        "format": probe_format,
        "categories": categories,
        "converters": converters,
        "converter_specs": [s.spec for s in stacks],
        "sample": sample,
        "attack_names": [a.spec for a in chosen],
        "guard": guard_spec,
        "target_args": {k: v for k, v in model.info.args.items() if k != "max_concurrency"},
        "probes_sha256": probes_digest(probes),
    }
    run_id = run_id or f"{target.replace('/', '_')}-{time.strftime('%Y%m%d-%H%M%S')}"
    with RunStore(store_path) as store:
        label = f"scanning {model.info.spec}"
        result = scan_with_progress(
            model, attempts, label, judge=make_judge(grader_model), store=store, run_id=run_id, config=cfg,
            resume=resume, extra_config=options,
        )  # fmt: skip
        summary, gate = write_reports(store, run_id, paths, gate_config(fail_above, min_judged))
    print_summary(f"{model.info.spec} (run {run_id})", {"target": summary})
    done = f", {result.skipped} already done" if result.skipped else ""
    click.echo(
        f"{len(result.rows)} attempts in {result.seconds:.1f} s{done}; attack success {summary.asr.text()}; "
        f"over-refusal {summary.over_refusal.text()}; {summary.attempts.text()}; store {store_path} run {run_id}"
    )
    finish_gate(gate)


def probes_digest(probes: Sequence[Probe]) -> str:
    """A fingerprint of the probes a scan asks (a changed probe file is a changed scan on resume)."""
    text = json.dumps([p.model_dump(mode="json") for p in probes], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def build_attacks(names: str, attacker: str | None) -> list[Attack]:
    """The attacks named (comma-separated, from the attack registry), the attacker model passed to those
    that use one."""
    kinds = [a.strip() for a in names.split(",") if a.strip()]
    unknown = sorted(k for k in kinds if k not in attacks)
    if unknown:
        raise click.UsageError(f"unknown attack(s) {unknown}; use {', '.join(attacks.names())}")
    attacker_model = load_model(attacker, ()) if attacker else None
    built = []
    for kind in kinds:
        cls = attacks.get(kind)
        try:
            built.append(cls(attacker=attacker_model) if cls.uses_attacker else cls())
        except ConfigError as e:
            raise click.UsageError(f"--attacks {kind}: {e}") from None
    return built


def _scan_target(target: str, model_args: tuple[str, ...], guard_spec: str | None, concurrency: int) -> Model:
    """The model to scan, behind the guard when one is named."""
    if target.startswith("openai/") and not any(a.startswith("max_concurrency=") for a in model_args):
        # The provider's own cap (64) would otherwise hold a scan at a higher --concurrency.
        model_args = (*model_args, f"max_concurrency={concurrency}")
    model = load_model(target, model_args)
    if not guard_spec:
        return model
    return (Guard.default() if guard_spec == "default" else Guard.from_file(guard_spec)).wrap(model)


def collect_probes(
    sources: tuple[str, ...], fmt: str | None, categories: str | None, sample: int | None, seed: int
) -> list[Probe]:
    """The probes of every source ('builtin' or a file), filtered by category and sampled."""
    wanted = [c.strip() for c in categories.split(",")] if categories else None
    probes = []
    for src in sources:
        probes += builtin_probes(wanted) if src == "builtin" else load_probes(src, format=fmt)
    if wanted:
        probes = [p for p in probes if p.category in wanted]
    if not probes:
        raise ConfigError("no probes to run: check --probes and --categories")
    return sample_probes(probes, sample, seed) if sample else probes


redteam.add_command(judge)


@redteam.command()
@click.argument("run_a")
@click.argument("run_b")
@click.option("--store", "store_path", default="alignkit-runs.db", show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--fail-on-regression",
    is_flag=True,
    help="Exit 1 when B has attacks that A resisted, or when B could not judge attempts that A made "
    "(unknown is not fixed).",
)
def diff(run_a: str, run_b: str, store_path: str, as_json: bool, fail_on_regression: bool) -> None:
    """Compare two runs (e.g. two model versions): rates per category, regressions and fixes."""
    with RunStore(store_path) as store:
        d = diff_runs(list(store.attempts(run_a)), list(store.attempts(run_b)))
    if as_json:
        click.echo(json.dumps(d.to_dict(), indent=2))
    else:
        print_summary(f"{run_a} vs {run_b}", {run_a: d.a, run_b: d.b})
        click.echo(f"regressions (succeed in {run_b} only): {len(d.regressions)}")
        for k in d.regressions:
            click.echo(f"  {k}")
        click.echo(f"fixes (succeeded in {run_a} only): {len(d.fixes)}")
        click.echo(f"unmeasured (made in {run_a}, not judged in {run_b}): {len(d.unmeasured)}")
    if fail_on_regression and (d.regressions or d.unmeasured):
        unmeasured = f"{len(d.unmeasured)} attempt(s) of {run_a} not judged in {run_b}"
        click.echo(f"FAIL: {len(d.regressions)} regression(s); {unmeasured}", err=True)
        sys.exit(1)


@redteam.command()
@click.argument("run_id")
@click.option("--store", "store_path", default="alignkit-runs.db", show_default=True)
@click.option("--html")
@click.option("--json", "json_out")
@click.option("--junit")
@click.option("--sarif")
@gate_options
def report(
    run_id: str,
    store_path: str,
    html: str | None,
    json_out: str | None,
    junit: str | None,
    sarif: str | None,
    fail_above: float | None,
    min_judged: float | int | None,
) -> None:
    """Write reports for a stored run (and, with --fail-above or --min-judged, gate it as a scan would)."""
    paths = ReportPaths(html, json_out, junit, sarif)
    paths.check([store_path])
    with RunStore(store_path) as store:
        summary, gate = write_reports(store, run_id, paths, gate_config(fail_above, min_judged))
    print_summary(run_id, {run_id: summary})
    click.echo(f"attack success {summary.asr.text()}; {summary.attempts.text()}")
    finish_gate(gate)
