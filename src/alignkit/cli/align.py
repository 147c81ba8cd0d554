"""``alignkit align MODEL --out DIR``: the safety recipe end to end, judged before and after.

1. Scan MODEL with the built-in harm probes (the red-team judge; :mod:`alignkit.align.evaluate`).
2. Run the recipe (:func:`alignkit.align.align_model`): SFT then DPO, saved to DIR (``hf/DIR`` loads it).
3. Scan the saved model the same way, and write ``DIR/align-report.json``: attack success and
   over-refusal before and after with 95% intervals, the held-out check and the time of every step.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import click

from alignkit.align import AlignConfig, align_model, evaluate_model, harm_probes
from alignkit.cli.options import load_model
from alignkit.cli.rlhf_common import progress_bar
from alignkit.core.errors import ConfigError
from alignkit.core.files import write_text_atomic
from alignkit.providers import get_model
from alignkit.providers.hf import HFModel
from alignkit.redteam.summary import Rate


class _Stages:
    """One progress task per step; training steps move it from the trainer's log."""

    def __init__(self, bar: Any) -> None:
        self.bar, self.task = bar, None

    def stage(self, name: str) -> None:
        self.bar.console.print(f"align: {name} ...")
        self.task = self.bar.add_task(f"align: {name}", total=None, info="")

    def on_log(self, step: int, total: int, stats: dict[str, float]) -> None:
        info = "  ".join(f"{k.split('/')[-1]} {stats[k]:.3g}" for k in ("loss", "rewards/accuracies") if k in stats)
        self.bar.update(self.task, completed=step, total=total, info=info)

    def on_scan(self, done: int, total: int) -> None:
        self.bar.update(self.task, completed=done, total=total)


@click.command()
@click.argument("model_spec")
@click.option("--out", "out_dir", required=True, type=click.Path(), help="New folder for the aligned model.")
@click.option(
    "--data",
    type=click.Path(file_okay=False),
    help="Shared data folder (default: $ALIGNKIT_DATA, else ../shared/data).",
)
@click.option("--eval/--no-eval", "run_eval", default=True, show_default=True, help="Scan before and after.")
@click.option(
    "--eval-max-tokens", type=click.IntRange(8), default=96, show_default=True, help="Answer length in the scans."
)
@click.option("--harmful", type=click.IntRange(1), default=AlignConfig.harmful, show_default=True)
@click.option("--benign", type=click.IntRange(1), default=AlignConfig.benign, show_default=True)
@click.option("--lookalikes", type=click.IntRange(1), default=AlignConfig.lookalikes, show_default=True)
@click.option("--dpo-harmful", type=click.IntRange(0), default=AlignConfig.dpo_harmful, show_default=True)
@click.option("--heldout", type=click.IntRange(0), default=AlignConfig.heldout, show_default=True)
@click.option("--sft-lr", type=float, default=AlignConfig.sft_learning_rate, show_default=True)
@click.option("--sft-epochs", type=float, default=AlignConfig.sft_epochs, show_default=True)
@click.option("--dpo-lr", type=float, default=AlignConfig.dpo_learning_rate, show_default=True)
@click.option("--dpo-epochs", type=float, default=AlignConfig.dpo_epochs, show_default=True)
@click.option("--seed", type=int, default=AlignConfig.seed, show_default=True)
@click.option("-M", "--model-arg", "model_args", multiple=True, metavar="KEY=VALUE", help="Provider argument.")
def align(
    model_spec: str, out_dir: str, data: str | None, run_eval: bool, eval_max_tokens: int, **options: Any
) -> None:
    """Make MODEL refuse harmful requests and stay helpful (SFT then DPO); judge it before and after.

    \b
      alignkit align smollm2 --out runs/aligned
      alignkit chat hf/runs/aligned "How do I pick a lock?"
    """
    start = time.perf_counter()
    out = Path(out_dir)
    if out.exists():
        raise ConfigError(f"{out} already exists; choose a new --out folder or remove it first")
    model_args = options.pop("model_args")
    config = _config(options)
    root = Path(data or os.environ.get("ALIGNKIT_DATA", "../shared/data"))
    model = load_model(model_spec, model_args)
    if not isinstance(model, HFModel):
        raise ConfigError(f"{model_spec} is not a local transformers model; align trains hf/... models and smollm2")
    probes = harm_probes()
    report: dict[str, Any] = {"model": model.info.spec, "probes": len(probes)}
    with tempfile.TemporaryDirectory(prefix="alignkit-align-") as tmp, progress_bar() as bar:
        stages = _Stages(bar)
        store = Path(tmp) / "redteam.db"
        if run_eval:
            stages.stage("scan before")
            report["before"] = evaluate_model(
                model, probes, store, "before", max_tokens=eval_max_tokens, on_progress=stages.on_scan
            )
        manifest = align_model(
            model,
            root,
            out,
            config,
            probe_texts=[p.prompt for p in probes],
            on_stage=stages.stage,
            on_log=stages.on_log,
        )
        report["recipe"] = {"seconds": manifest["seconds"], "heldout_refusal": manifest["heldout_refusal"]}
        if run_eval:
            stages.stage("scan after")
            aligned = get_model(f"hf/{out}")
            report["after"] = evaluate_model(
                aligned, probes, store, "after", max_tokens=eval_max_tokens, on_progress=stages.on_scan
            )
            shutil.copyfile(store, out / "redteam.db")
    report["seconds"] = round(time.perf_counter() - start, 1)
    write_text_atomic(out / "align-report.json", json.dumps(report, indent=2) + "\n")
    _print(report, out)


def _config(options: dict[str, Any]) -> AlignConfig:
    return AlignConfig(
        harmful=options["harmful"],
        benign=options["benign"],
        lookalikes=options["lookalikes"],
        dpo_harmful=min(options["dpo_harmful"], options["harmful"]),
        heldout=options["heldout"],
        sft_learning_rate=options["sft_lr"],
        sft_epochs=options["sft_epochs"],
        dpo_learning_rate=options["dpo_lr"],
        dpo_epochs=options["dpo_epochs"],
        seed=options["seed"],
    )


def _rate(d: dict[str, Any]) -> str:
    return Rate(d["hits"], d["n"]).text()


def _print(report: dict[str, Any], out: Path) -> None:
    for when in ("before", "after"):
        if when in report:
            r = report[when]
            click.echo(
                f"{when:6}  attack success {_rate(r['attack_success'])}   over-refusal {_rate(r['over_refusal'])}"
            )
    held = report["recipe"]["heldout_refusal"]
    for when in ("before", "after"):
        if held.get(when):
            parts = "  ".join(f"{k} {_rate(v)}" for k, v in held[when].items())
            click.echo(f"held-out refusal {when}: {parts}")
    secs = report["recipe"]["seconds"]
    click.echo(
        f"recipe {secs['total']:.0f} s ({', '.join(f'{k} {v:.0f} s' for k, v in secs.items() if k != 'total')}); "
        f"all {report['seconds']:.0f} s. Model: hf/{out}  report: {out / 'align-report.json'}"
    )
