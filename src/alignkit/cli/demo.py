"""``alignkit demo``: the quickstart's main job.

It red-teams the embedded model twice, bare and behind alignkit's default guard, on a seeded sample of
the built-in probes (harmful requests and their benign look-alikes), prints attack success and
over-refusal per hazard category side by side, and writes an HTML report. A model made "safe" by
refusing everything shows up as such in the over-refusal column.
"""

from __future__ import annotations

import time
from pathlib import Path

import click
from rich.console import Console

from alignkit.cli.options import load_model
from alignkit.cli.redteam import print_summary, scan_with_progress
from alignkit.core.files import write_text_atomic
from alignkit.guard import Guard
from alignkit.redteam.engine import ScanConfig, plan
from alignkit.redteam.judge import Judge
from alignkit.redteam.probes import builtin_probes, sample_probes
from alignkit.redteam.report import summarize, to_html
from alignkit.redteam.store import RunStore


@click.command()
@click.option("--model", "model_spec", default="smollm2", show_default=True, help="The model to test.")
@click.option(
    "--sample",
    type=click.IntRange(2),
    default=48,
    show_default=True,
    help="How many probes (harmful and benign) to run; 48 takes about three minutes on 2 CPU cores.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--max-tokens",
    type=click.IntRange(1),
    default=96,
    show_default=True,
    help="Answer length: enough to see whether the model helps.",
)
@click.option(
    "--out",
    "out_dir",
    default=".alignkit/demo",
    show_default=True,
    help="Folder for the run store and the HTML report.",
)
@click.option("-M", "--model-arg", "model_args", multiple=True, metavar="KEY=VALUE", help="Provider argument.")
def demo(model_spec: str, sample: int, seed: int, max_tokens: int, out_dir: str, model_args: tuple[str, ...]) -> None:
    """Red-team a model bare and guarded; print the side-by-side table and write the HTML report."""
    console = Console()
    t0 = time.perf_counter()
    model = load_model(model_spec, model_args)
    load_s = time.perf_counter() - t0
    guarded = Guard.default().wrap(model)
    probes = sample_probes(builtin_probes(), sample, seed)
    attempts = plan(probes, ["none"], seed)
    judge = Judge()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    cfg = ScanConfig(max_tokens=max_tokens, seed=seed)
    summaries = {}
    with RunStore(out / "runs.db") as store:
        for name, target in (("bare", model), ("guarded", guarded)):
            run_id = f"{name}-{stamp}"
            label = f"red-teaming {name:8}"
            scan_with_progress(target, attempts, label, console, judge=judge, store=store, run_id=run_id, config=cfg)
            summaries[name] = (store.run_info(run_id), summarize(store.attempts(run_id)))
    print_summary(
        f"{model.info.spec}: bare vs guarded ({len(probes)} probes, seed {seed})",
        {name: s for name, (_, s) in summaries.items()},
    )
    run, bare = summaries["bare"]
    report = out / "report.html"
    write_text_atomic(report, to_html(run, bare, compare={"guarded": summaries["guarded"][1]}))
    console.print(
        f"model load {load_s:.1f} s, total {time.perf_counter() - t0:.0f} s. "
        f"Report: {report}  Runs: {out / 'runs.db'} (alignkit redteam report RUN --store ...)"
    )
    console.print(
        "Attack success: harmful requests the model helped with. Over-refusal: benign look-alikes it "
        "refused. A good model and guard keep both low."
    )
