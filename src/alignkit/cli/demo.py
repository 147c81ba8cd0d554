"""``alignkit demo``: the quickstart's main job, the whole lifecycle on the embedded model.

1. **Attack** it bare: a seeded sample of the built-in probes (harmful requests and their benign
   look-alikes), judged by alignkit's judge.
2. **Defend** it: serve it through the safety gateway on loopback, behind the default guard, with keys,
   limits, an audit log and a review queue, and scan it again *through the gateway*, as users reach it.
3. **Certify** it: run the deployment checklist against that gateway (live probes of its limits, logs,
   metrics, feedback and review queue; the scan report, the guard, the runbook, the audits). Items without
   evidence (this demo writes no runbook and has run no audit) fail and say what is missing.

It prints attack success and over-refusal per hazard category, bare vs guarded, and each checklist item,
and writes one page (``index.html``) linking the scan report, the checklist and the configs. A model made
"safe" by refusing everything shows up as such in the over-refusal column.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from alignkit.checklist.lifecycle import Served, deploy_config, index_page, serve
from alignkit.checklist.model import ItemResult
from alignkit.checklist.report import headline, write_report
from alignkit.checklist.run import run_checklist
from alignkit.cli.options import load_model
from alignkit.cli.redteam import print_summary, scan_with_progress
from alignkit.core.files import write_text_atomic
from alignkit.core.model import Model
from alignkit.providers import EMBEDDED_SPEC, get_model
from alignkit.redteam.base import Attempt
from alignkit.redteam.engine import ScanConfig, plan
from alignkit.redteam.judge import Judge
from alignkit.redteam.probes import builtin_probes, sample_probes
from alignkit.redteam.report import summarize, to_html, to_json
from alignkit.redteam.store import RunStore
from alignkit.redteam.summary import Summary

ROUTE = "smollm2"  # the name the gateway serves the model under


@click.command()
@click.option("--model", "model_spec", default="smollm2", show_default=True, help="The model to test.")
@click.option(
    "--sample",
    type=click.IntRange(2),
    default=48,
    show_default=True,
    help="How many probes (harmful and benign) to run; 48 take about three minutes on 2 CPU cores, all steps.",
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
    "--out", "out_dir", default=".alignkit/demo", show_default=True, help="Folder for everything the demo writes."
)
@click.option("-M", "--model-arg", "model_args", multiple=True, metavar="KEY=VALUE", help="Provider argument.")
def demo(model_spec: str, sample: int, seed: int, max_tokens: int, out_dir: str, model_args: tuple[str, ...]) -> None:
    """Red-team a model bare and guarded; print the side-by-side table and write the HTML report."""
    console = Console()
    t0 = time.perf_counter()
    model = load_model(model_spec, fast_runtime(model_spec, model_args))
    load_s = time.perf_counter() - t0
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    attempts = plan(sample_probes(builtin_probes(), sample, seed), ["none"], seed)
    cfg, stamp = ScanConfig(max_tokens=max_tokens, seed=seed), time.strftime("%Y%m%d-%H%M%S")
    summaries: dict[str, Summary] = {}
    with RunStore(out / "runs.db") as store, serve(out, ROUTE, model) as served:
        summaries["bare"] = _scan(model, "bare", attempts, cfg, store, f"bare-{stamp}", out, console)
        through = get_model(f"openai/{ROUTE}", base_url=f"{served.url}/v1", api_key=served.scan_key, max_retries=0)
        summaries["guarded"] = _scan(through, "guarded", attempts, cfg, store, f"guarded-{stamp}", out, console)
        results = _certify(out, served, console)
        bare_run = store.run_info(f"bare-{stamp}")
    print_summary(
        f"{model.info.spec}: bare vs guarded through the gateway ({len(attempts)} probes, seed {seed})", summaries
    )
    console.print(_compact(results))
    console.print(headline(results), f"(each item's evidence: {out / 'checklist.html'})")
    write_text_atomic(
        out / "report.html", to_html(bare_run, summaries["bare"], compare={"guarded": summaries["guarded"]})
    )
    seconds = time.perf_counter() - t0
    write_text_atomic(out / "index.html", index_page(model.info.spec, summaries, results, seconds))
    console.print(
        f"model load {load_s:.1f} s, total {seconds:.0f} s. One page: {out / 'index.html'} "
        f"(scan report, checklist, configs)."
    )
    console.print(
        "Attack success: harmful requests the model helped with. Over-refusal: benign look-alikes it "
        "refused. A good model and guard keep both low; the checklist says what a deployment still lacks."
    )


def fast_runtime(model_spec: str, model_args: tuple[str, ...]) -> tuple[str, ...]:
    """The embedded model generates through ONNX Runtime when the ``fast`` extra is installed: the same
    greedy answers, about 1.9x the tokens/s on 2 CPU cores (bench/RESULTS.md). ``-M runtime=torch`` opts out."""
    chosen = any(a.partition("=")[0].strip() == "runtime" for a in model_args)
    embedded = model_spec in ("smollm2", "embedded", EMBEDDED_SPEC)
    if not embedded or chosen or importlib.util.find_spec("onnxruntime_genai") is None:
        return model_args
    return (*model_args, "runtime=onnx")


def _scan(
    target: Model,
    name: str,
    attempts: list[Attempt],
    cfg: ScanConfig,
    store: RunStore,
    run_id: str,
    out: Path,
    console: Console,
) -> Summary:
    """One scan into the store, its JSON report written; its summary."""
    scan_with_progress(
        target, attempts, f"red-teaming {name:8}", console, judge=Judge(), store=store, run_id=run_id, config=cfg
    )
    summary = summarize(store.attempts(run_id))
    write_text_atomic(out / f"{name}.json", to_json(store.run_info(run_id), summary))
    return summary


def _certify(out: Path, served: Served, console: Console) -> list[ItemResult]:
    """The checklist against the running gateway, written as HTML and JSON."""
    with console.status("certifying: the deployment checklist against the gateway"):
        config = deploy_config(out, f"openai/{ROUTE}", served, out / "guarded.json", out / "runs.db")
        results = run_checklist(config, gateway_url=served.url)
    write_report(out / "checklist.html", results, "html")
    write_report(out / "checklist.json", results, "json")
    return results


def _compact(results: list[ItemResult]) -> Table:
    """The checklist on one screen: each item, its verdict and what it found (the evidence is in the HTML)."""
    colour = {"pass": "green", "warn": "yellow", "fail": "red"}
    out = Table(title="deployment checklist, against the running gateway")
    out.add_column("item")
    out.add_column("status")
    out.add_column("found")
    for r in results:
        found = r.summary if len(r.summary) <= 110 else r.summary[:107] + "..."
        out.add_row(r.title, f"[{colour[r.status]}]{r.status}[/]", found)
    return out
