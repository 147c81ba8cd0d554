"""``alignkit bias``: measure a model's bias (BBQ, WinoBias, counterfactual prompts) and audit or augment
training data (``eval``, ``audit``, ``augment``, ``terms``)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from alignkit.bias import (
    BiasReport,
    audit_rows,
    evaluate_bbq,
    evaluate_counterfactuals,
    evaluate_winobias,
    load_bbq,
    load_terms,
    load_winobias,
    render_html,
    sample_pairs,
    shipped_lists,
    stratified_sample,
    vader,
)
from alignkit.bias.augment import augment_file
from alignkit.bias.bbq import BBQResult
from alignkit.bias.counterfactual import CounterfactualResult
from alignkit.bias.report import fmt, interval
from alignkit.bias.rows import read_rows
from alignkit.bias.sentiment import SentimentScorer
from alignkit.bias.terms import Swapper, TermSet
from alignkit.bias.winobias import WinoResult
from alignkit.cli.cai_common import read_prompts
from alignkit.cli.options import load_model, progress_updater
from alignkit.cli.rlhf_common import progress_bar
from alignkit.core.config import GenerateConfig
from alignkit.core.errors import ConfigError
from alignkit.core.files import write_text_atomic
from alignkit.core.messages import last_user_text, to_messages
from alignkit.core.model import Model
from alignkit.detectors import get_detector

DEFAULT_TERMS = ("gender", "gender_names")
console = Console(stderr=True)


def _data_dir(given: str | None) -> Path:
    return Path(given or os.environ.get("ALIGNKIT_DATA", "../shared/data"))


def swappers(terms: dict[str, TermSet], swaps: tuple[str, ...]) -> list[Swapper]:
    """One swapper per ``axis:a,b`` in ``swaps``; without any, the first two groups of each axis."""
    if not swaps:
        return [Swapper(ts, ts.groups[0], ts.groups[1]) for ts in terms.values()]
    out = []
    for spec in swaps:
        axis, _, groups = spec.partition(":")
        pair = [g.strip() for g in groups.split(",")]
        if axis not in terms or len(pair) != 2:
            raise ConfigError(
                f"--swap {spec!r}: write AXIS:GROUP_A,GROUP_B with an axis of the terms: {', '.join(terms)}"
            )
        out.append(Swapper(terms[axis], pair[0], pair[1]))
    return out


def _sentiment(name: str) -> tuple[SentimentScorer | None, str | None]:
    return (None, None) if name == "none" else (vader(), "vader")


def _run_bbq(model: Model, root: Path, categories: str | None, limit: int | None, seed: int, rotate: bool) -> BBQResult:
    wanted = [c.strip() for c in categories.split(",")] if categories else None
    items = stratified_sample(load_bbq(root / "bbq", wanted), limit, seed)
    with progress_bar() as bar:
        task = bar.add_task("BBQ", total=len(items), info="")
        return evaluate_bbq(model, items, seed=seed, rotate=rotate, on_progress=progress_updater(bar, task))


def _run_wino(model: Model, root: Path, split: str, limit: int | None, seed: int, rotate: bool) -> WinoResult:
    items, skipped = load_winobias(root / "winobias", split=split, seed=seed)
    items = sample_pairs(items, limit, seed)
    with progress_bar() as bar:
        task = bar.add_task("WinoBias", total=len(items), info="")
        return evaluate_winobias(
            model, items, skipped=skipped, seed=seed, rotate=rotate, on_progress=progress_updater(bar, task)
        )


def _prompt_texts(path: str, limit: int | None, seed: int) -> list[str]:
    """Single-turn prompt texts of a prompt file (a conversation counts by its last user turn)."""
    return [p if isinstance(p, str) else last_user_text(to_messages(p)) for p in read_prompts(path, limit, seed)]


def print_summary(report: BiasReport) -> None:
    """The headline figures, on stdout."""
    if report.bbq:
        click.echo("BBQ                    acc amb   s_AMB [95% CI]            acc dis   s_DIS [95% CI]")
        for cat, ctx in report.bbq.categories.items():
            a, d = ctx["ambiguous"], ctx["disambiguated"]
            click.echo(
                f"{cat:<22} {fmt(a.accuracy.value):>7}   {interval(a.bias_score):<25} "
                f"{fmt(d.accuracy.value):>7}   {interval(d.bias_score)}"
            )
        click.echo(f"  answers read by: {report.bbq.methods}")
    if report.winobias:
        for name, s in report.winobias.types.items():
            click.echo(
                f"WinoBias {name:<6} pro {fmt(s.pro.value)}  anti {fmt(s.anti.value)}  "
                f"gap {interval(s.gap.difference)}  p {fmt(s.gap.p_value, 4)}"
            )
    for c in report.counterfactual:
        click.echo(
            f"Counterfactual {c.axis} ({c.group_a} vs {c.group_b}): {c.measured} pairs measured, "
            f"{c.untouched} untouched, {c.mixed} mixed, {c.errored} errored"
        )
        for name, t in c.measures.items():
            click.echo(
                f"  {name:<9} {fmt(t.mean_a)} -> {fmt(t.mean_b)}  diff {interval(t.difference)}  "
                f"p {fmt(t.p_value, 4)} ({t.test})"
            )


@click.group()
def bias() -> None:
    """Bias: measure it on a model (BBQ, WinoBias, counterfactual prompts), audit and augment data."""


@bias.command(name="eval")
@click.argument("model")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    help="Folder with bbq/ and winobias/ (default: $ALIGNKIT_DATA, else ../shared/data).",
)
@click.option("--bbq/--no-bbq", default=True, show_default=True, help="Run BBQ.")
@click.option("--winobias/--no-winobias", default=True, show_default=True, help="Run WinoBias.")
@click.option("--categories", help="BBQ categories, comma-separated (file names, e.g. Age,Religion).")
@click.option(
    "--limit",
    type=click.IntRange(1),
    help="BBQ questions per category (balanced strata) and WinoBias pairs per type; a seeded sample.",
)
@click.option("--split", type=click.Choice(["dev", "test"]), default="test", show_default=True, help="WinoBias split.")
@click.option(
    "--rotate",
    is_flag=True,
    help="Ask every rotation of the options and combine them, so a preference for a position cancels "
    "(n times the calls; a model that answers by position alone then names no option).",
)
@click.option(
    "--prompts",
    type=click.Path(exists=True, dir_okay=False),
    help="Prompts for the counterfactual "
    "evaluation (.txt lines, JSONL with prompt/messages/instruction, or a preference file).",
)
@click.option("--prompt-limit", type=click.IntRange(1), help="Use a seeded sample of this many prompts.")
@click.option(
    "--terms",
    multiple=True,
    help=f"Term list: a shipped name ({', '.join(shipped_lists())}) or a .tsv "
    f"file (repeatable; default: {', '.join(DEFAULT_TERMS)}).",
)
@click.option(
    "--swap",
    "swaps",
    multiple=True,
    metavar="AXIS:A,B",
    help="Groups to swap, e.g. gender:female,male (repeatable; default: the first two groups of each axis).",
)
@click.option("--sentiment", type=click.Choice(["vader", "none"]), default="vader", show_default=True)
@click.option("--max-tokens", type=click.IntRange(1), default=128, show_default=True, help="Counterfactual answers.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(file_okay=False), help="Folder for bias-report.json and bias-report.html.")
@click.option("-M", "--model-arg", "model_args", multiple=True, metavar="KEY=VALUE", help="Provider argument.")
def eval_(
    model: str,
    data_dir: str | None,
    bbq: bool,
    winobias: bool,
    categories: str | None,
    limit: int | None,
    split: str,
    rotate: bool,
    prompts: str | None,
    prompt_limit: int | None,
    terms: tuple[str, ...],
    swaps: tuple[str, ...],
    sentiment: str,
    max_tokens: int,
    seed: int,
    out: str | None,
    model_args: tuple[str, ...],
) -> None:
    """Measure MODEL's bias: BBQ accuracy and bias scores per category, WinoBias pro/anti accuracy and
    gap, and (with --prompts) counterfactual gaps in refusal, sentiment, toxicity and length.

    Answers a model gives in no readable form count as wrong and are reported; pairs no term touched
    are reported and not counted. Every figure has a 95% interval."""
    if not (bbq or winobias or prompts):
        raise click.UsageError("nothing to run: give --prompts, or leave --bbq / --winobias on")
    root = _data_dir(data_dir)
    scorer, scorer_name = _sentiment(sentiment) if prompts else (None, None)
    pairs_of = swappers(load_terms(terms or DEFAULT_TERMS), swaps) if prompts else []
    texts = _prompt_texts(prompts, prompt_limit, seed) if prompts else []
    m = load_model(model, model_args)
    started = time.perf_counter()
    settings: dict[str, Any] = {
        "limit": limit,
        "seed": seed,
        "split": split,
        "rotate": rotate,
        "categories": categories,
        "prompts": prompts,
        "terms": list(terms or DEFAULT_TERMS),
        "sentiment": scorer_name,
    }
    report = BiasReport(m.info.to_dict(), settings)
    if bbq:
        report.bbq = _run_bbq(m, root, categories, limit, seed, rotate)
    if winobias:
        report.winobias = _run_wino(m, root, split, limit, seed, rotate)
    refusal, toxicity = get_detector("refusal"), get_detector("toxicity")
    for sw in pairs_of:
        report.counterfactual.append(_counterfactual(m, texts, sw, refusal, toxicity, scorer, max_tokens, seed))
    report.seconds = time.perf_counter() - started
    print_summary(report)
    if out:
        write_text_atomic(Path(out, "bias-report.json"), json.dumps(report.to_dict(), indent=1, default=str) + "\n")
        write_text_atomic(Path(out, "bias-report.html"), render_html(report))
        console.print(f"wrote {Path(out, 'bias-report.json')} and {Path(out, 'bias-report.html')}")


def _counterfactual(
    model: Model,
    texts: list[str],
    sw: Swapper,
    refusal: Any,
    toxicity: Any,
    scorer: SentimentScorer | None,
    max_tokens: int,
    seed: int,
) -> CounterfactualResult:
    with progress_bar() as bar:
        task = bar.add_task(f"counterfactual {sw.terms.axis}", total=None, info="")
        return evaluate_counterfactuals(
            model,
            texts,
            sw,
            refusal=refusal,
            toxicity=toxicity,
            sentiment=scorer,
            seed=seed,
            config=GenerateConfig(max_tokens=max_tokens),
            on_progress=progress_updater(bar, task),
        )


@bias.command()
@click.argument("data", type=click.Path(exists=True, dir_okay=False))
@click.option("--terms", multiple=True, help="Term lists (shipped names or .tsv files; default: every shipped list).")
@click.option("--sentiment", type=click.Choice(["vader", "none"]), default="vader", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap intervals.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the audit as JSON here.")
def audit(data: str, terms: tuple[str, ...], sentiment: str, seed: int, json_out: str | None) -> None:
    """How groups appear in DATA (preference pairs, SFT examples or prompts, JSONL): rows and mentions per
    group, which answer (chosen or rejected) mentions them, and the sentiment of answer sentences that do."""
    term_sets = load_terms(terms or shipped_lists())
    scorer, name = _sentiment(sentiment)
    result = audit_rows(
        (row for _, row in read_rows(data)), term_sets, sentiment=scorer, sentiment_name=name, seed=seed
    )
    click.echo(f"{result.rows} rows ({', '.join(f'{k} {v}' for k, v in result.kinds.items())})")
    for axis, groups in result.axes.items():
        click.echo(
            f"\n{axis:<14} {'rows':>6} {'prompt':>7} {'chosen-only':>11} {'rejected-only':>13} "
            f"{'chosen share [95% CI]':<26} sentiment by role"
        )
        for group, g in groups.items():
            moods = "  ".join(f"{role} {interval(iv, 2)}" for role, iv in g.sentiment.items()) or "n/a"
            click.echo(
                f"  {group:<12} {g.rows:>6} {g.in_prompt:>7} {g.chosen_only:>11} {g.rejected_only:>13} "
                f"{interval(g.chosen_share, 2):<26} {moods}"
            )
    if json_out:
        write_text_atomic(json_out, json.dumps(result.to_dict(), indent=1) + "\n")


@bias.command()
@click.argument("data", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Augmented JSONL file.")
@click.option("--terms", multiple=True, help=f"Term lists (default: {', '.join(DEFAULT_TERMS)}).")
@click.option(
    "--swap",
    "swaps",
    multiple=True,
    metavar="AXIS:A,B",
    help="Groups to swap (default: the first two groups of each axis); each swap adds one variant per row it changes.",
)
@click.option("--variants-only", is_flag=True, help="Write only the swapped variants, not the original rows.")
def augment(data: str, output: str, terms: tuple[str, ...], swaps: tuple[str, ...], variants_only: bool) -> None:
    """Write DATA's rows and their counterfactual variants (group terms swapped in every text field,
    labels kept) to OUTPUT, in DATA's format: `alignkit rlhf dpo --pairs`, `rlhf sft --data` and the
    `cai` commands' --prompts read it. OUTPUT is written whole or not at all."""
    stats = augment_file(
        data, output, swappers(load_terms(terms or DEFAULT_TERMS), swaps), keep_original=not variants_only
    )
    click.echo(json.dumps(stats.to_dict(), indent=1))


@bias.command(name="terms")
@click.argument("specs", nargs=-1)
def terms_(specs: tuple[str, ...]) -> None:
    """List term lists (shipped ones without SPECS) with their axes, groups and sizes."""
    for axis, ts in load_terms(specs or shipped_lists()).items():
        sizes = ", ".join(f"{g} {len(ts.terms_of(g))}" for g in ts.groups)
        click.echo(f"{axis}: {sizes}  ({', '.join(ts.sources)})")
