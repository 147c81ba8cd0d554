"""The reward-hacking options of ``alignkit rlhf ppo | rloo | grpo``: a gold signal beside the proxy,
held-out prompts, the rule's window and the action (see :mod:`alignkit.rlhf.hacking`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from alignkit.cli.options import load_model
from alignkit.cli.rewards import reward_function
from alignkit.cli.rlhf_common import read_prompt_file
from alignkit.core.errors import ConfigError
from alignkit.core.files import write_text_atomic
from alignkit.detectors import get_detector
from alignkit.rlhf.gold import LabelQueue, rubric_gold
from alignkit.rlhf.hacking import HackingMonitor
from alignkit.rlhf.hacking_plot import plot_overoptimization, read_events
from alignkit.rlhf.hacking_rule import HackingConfig
from alignkit.rlhf.labelling.store import LabelStore
from alignkit.rlhf.reward_functions import RewardFn

F = Callable[..., Any]
HELD_OUT_DEFAULT = 16  # prompts set aside from the training file when --held-out is not given


def hacking_options(fn: F) -> F:
    """The monitor's options, for a training command."""
    for opt in reversed(
        [
            click.option(
                "--gold",
                help="Held-out judge: reward-model folder, module:function, detector:NAME "
                "or rubric:MODEL (an LLM grader). Turns the reward-hacking monitor on.",
            ),
            click.option(
                "--held-out",
                type=click.Path(exists=True, dir_okay=False),
                help=f"Prompts the monitor evaluates on (default: {HELD_OUT_DEFAULT} set aside from "
                "the training prompts).",
            ),
            click.option(
                "--hack-every",
                type=click.IntRange(1),
                default=10,
                show_default=True,
                help="Training steps between evaluations.",
            ),
            click.option(
                "--hack-patience",
                type=click.IntRange(1),
                default=3,
                show_default=True,
                help="Evaluations back the proxy-up / gold-down window reaches.",
            ),
            click.option(
                "--on-hack",
                type=click.Choice(["warn", "stop", "rollback"]),
                default="warn",
                show_default=True,
                help="What to do when the rule fires (every firing is logged).",
            ),
            click.option(
                "--label-store",
                type=click.Path(dir_okay=False),
                help="Also send the monitor's samples to this labelling store (human gold, later).",
            ),
        ]
    ):
        fn = opt(fn)
    return fn


def gold_signal(spec: str, device: str = "auto") -> RewardFn:
    """A gold signal from a spec: ``rubric:MODEL`` or any reward spec (see ``--reward``)."""
    if spec.startswith("rubric:"):
        return rubric_gold(load_model(spec.split(":", 1)[1], ()))
    return reward_function(spec, device)


def build_monitor(
    hack: dict[str, Any], prompts: list[Any], proxy: RewardFn, out: str, device: str = "auto"
) -> tuple[HackingMonitor | None, list[Any]]:
    """The monitor the options ask for (None without ``--gold``), and the prompts left to train on."""
    if not hack["gold"]:
        if hack["held_out"] or hack["label_store"]:
            raise click.UsageError("--held-out and --label-store need --gold (the monitor's judge)")
        return None, prompts
    if hack["held_out"]:
        held_out = read_prompt_file(hack["held_out"])
    else:
        if len(prompts) < 2 * HELD_OUT_DEFAULT:
            raise ConfigError(
                f"{len(prompts)} prompts: too few to set {HELD_OUT_DEFAULT} aside for the monitor; pass --held-out"
            )
        held_out, prompts = prompts[-HELD_OUT_DEFAULT:], prompts[:-HELD_OUT_DEFAULT]
    config = HackingConfig(eval_every=hack["hack_every"], patience=hack["hack_patience"], action=hack["on_hack"])
    queue = LabelQueue(LabelStore(hack["label_store"]), Path(out).name or "run") if hack["label_store"] else None
    monitor = HackingMonitor(
        held_out, proxy, gold_signal(hack["gold"], device), config, refusal=get_detector("refusal"), log_dir=out,
        on_samples=queue,
    )  # fmt: skip
    return monitor, prompts


def report(monitor: HackingMonitor | None, out: str) -> None:
    """Say what the monitor saw, write ``hacking.json`` and the over-optimization curve."""
    if monitor is None:
        return
    summary = monitor.summary()
    Path(out).mkdir(parents=True, exist_ok=True)
    write_text_atomic(Path(out) / "hacking.json", json.dumps(summary, indent=1))
    curve = plot_overoptimization(
        read_events(out), Path(out) / "overoptimization.svg", title=f"{out}: proxy and gold vs KL"
    )
    for a in summary["alarms"]:
        click.echo(f"ALARM {a['message']}", err=True)
    for f in summary["shortcut_flags"]:
        click.echo(f"shortcut at step {f['step']}: {f['name']} ({f['measure']} {f['value']:.3g}, "
                   f"baseline {f['baseline']:.3g})", err=True)  # fmt: skip
    back = f"; rolled back to step {summary['rolled_back_to']}" if summary["rolled_back_to"] is not None else ""
    click.echo(
        f"monitor: {len(summary['evaluations'])} evaluations, {len(summary['alarms'])} alarms, "
        f"{len(summary['shortcut_flags'])} shortcut flags, best gold at step {summary['best_step']}{back}; "
        f"curve in {curve}"
    )
