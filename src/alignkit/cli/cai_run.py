"""``alignkit cai train | evaluate | show``: training on what ``revise`` and ``feedback`` wrote, the
before/after evaluation, and printing a constitution."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from alignkit.cli.cai_common import (
    benign_probe_prompts,
    constitution_from,
    harmful_probe_prompts,
    helpful_prompts,
    model_spec,
    read_prompts,
)
from alignkit.cli.options import load_model
from alignkit.cli.privacy_options import dp_config, dp_options, refuse_dp
from alignkit.cli.rlhf_common import config_option, model_path, on_log_bar, progress_bar, read_pairs, seeded_sample
from alignkit.constitution.evaluate import EvalConfig, EvalReport, evaluate_models
from alignkit.constitution.spec import load_constitution
from alignkit.core.config import GenerateConfig
from alignkit.core.errors import ConfigError, RecordError
from alignkit.core.files import write_text_atomic
from alignkit.core.jsonl import iter_json_objects, read_jsonl, write_jsonl
from alignkit.core.messages import to_messages
from alignkit.core.model import run_sync
from alignkit.core.records import PreferencePair, SFTExample
from alignkit.privacy.dp_sft import train_sft_dp
from alignkit.redteam.judge import Judge, RubricGrader
from alignkit.rlhf.data import prompts_of
from alignkit.rlhf.ppo import PPOTrainer
from alignkit.rlhf.ppo_config import PPOConfig
from alignkit.rlhf.reward import RewardConfig, RewardModel, train_reward_model
from alignkit.rlhf.trl_config import DPOTrainConfig, LoraAdapterConfig, TrainConfig
from alignkit.rlhf.trl_methods import train_dpo, train_sft


def _in_folder(path: str, name: str) -> Path:
    """``path`` itself, or ``path/name`` when ``path`` is a run folder."""
    p = Path(path)
    return p / name if p.is_dir() else p


# -- train ----------------------------------------------------------------------------------------------
@click.command()
@config_option
@click.option("--policy", default="smollm2", show_default=True, help="Model spec or folder to start from.")
@click.option("--sft", "sft_data", type=click.Path(exists=True), help="sft.jsonl, or a `cai revise` folder.")
@click.option("--rl", type=click.Choice(["none", "dpo", "ppo"]), default="none", show_default=True)
@click.option("--pairs", type=click.Path(exists=True), help="pairs.jsonl, or a `cai feedback` folder (for --rl).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder: sft/, dpo/, reward/, ppo/.")
@click.option("--epochs", type=click.FloatRange(0, min_open=True), default=1.0, show_default=True)
@click.option("--max-steps", type=click.IntRange(1), help="Optimizer steps per trl stage (overrides --epochs).")
@click.option("--lr", type=float, help="SFT learning rate (default: trl's).")
@click.option("--rl-lr", type=float, help="DPO / PPO learning rate (default: the method's).")
@click.option("--batch-size", type=click.IntRange(1), default=4, show_default=True)
@click.option("--max-length", type=click.IntRange(8), default=512, show_default=True)
@click.option("--lora-rank", type=click.IntRange(1), help="Train LoRA adapters of this rank (SFT and DPO).")
@click.option("--beta", type=click.FloatRange(0, min_open=True), default=0.1, show_default=True, help="DPO beta.")
@click.option("--rm-epochs", type=click.IntRange(1), default=1, show_default=True)
@click.option("--ppo-steps", type=click.IntRange(1), default=4, show_default=True)
@click.option("--ppo-batch-size", type=click.IntRange(1), default=8, show_default=True)
@click.option("--max-new-tokens", type=click.IntRange(1), default=48, show_default=True, help="PPO answer length.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@dp_options
def train(
    policy: str, sft_data: str | None, rl: str, pairs: str | None, out: str, epochs: float, max_steps: int | None,
    lr: float | None, rl_lr: float | None, batch_size: int, max_length: int, lora_rank: int | None, beta: float,
    rm_epochs: int, ppo_steps: int, ppo_batch_size: int, max_new_tokens: int, seed: int, device: str,
    dp_epsilon: float | None, dp_delta: float | None, dp_max_grad_norm: float | None,
) -> None:  # fmt: skip
    """SFT on the revisions (--sft), then optionally RL from the AI feedback pairs: DPO, or a reward
    model + PPO (--rl). Each stage starts from the previous one's model; the last is printed.
    With --dp-epsilon, the SFT stage trains with DP-SGD (the RL stages do not support DP)."""
    dp = dp_config(dp_epsilon, dp_delta, dp_max_grad_norm)
    if rl != "none":
        refuse_dp(dp, f"cai train --rl {rl}", "train the SFT stage with DP alone (--rl none)")
    if sft_data is None and rl == "none":
        raise click.UsageError("nothing to train: give --sft and/or --rl dpo|ppo with --pairs")
    if rl != "none" and pairs is None:
        raise click.UsageError(f"--rl {rl} needs --pairs (pairs.jsonl or a `cai feedback` folder)")
    lora = LoraAdapterConfig(rank=lora_rank, alpha=2 * lora_rank) if lora_rank else None
    common: dict[str, Any] = dict(
        batch_size=batch_size, epochs=epochs, max_steps=max_steps, max_length=max_length, seed=seed, lora=lora
    )
    # the data first, so that a bad file fails before any model loads
    examples = list(read_jsonl(_in_folder(sft_data, "sft.jsonl"), SFTExample)) if sft_data is not None else []
    data = read_pairs(str(_in_folder(pairs, "pairs.jsonl")), "auto", None, seed) if pairs and rl != "none" else []
    current = model_path(policy)
    stages: dict[str, Any] = {"start": current}
    if sft_data is not None:
        sft_config = TrainConfig(output_dir=Path(out) / "sft", learning_rate=lr, **common)
        if dp is None:
            stats = _trl_stage("sft", lambda on_log: train_sft(current, examples, sft_config, on_log=on_log))
        else:
            stats = _trl_stage("sft", lambda on_log: train_sft_dp(current, examples, sft_config, dp, on_log=on_log))
        current = str(Path(out) / "sft")
        stages["sft"] = {"examples": len(examples), **stats}
    if rl != "none":
        if rl == "dpo":
            dpo_config = DPOTrainConfig(output_dir=Path(out) / "dpo", learning_rate=rl_lr, beta=beta, **common)
            start = current
            stats = _trl_stage("dpo", lambda on_log: train_dpo(start, data, dpo_config, on_log=on_log))
            current = str(Path(out) / "dpo")
            stages["dpo"] = stats
        else:
            current, stages["reward"], stages["ppo"] = _reward_and_ppo(
                current, data, Path(out), rm_epochs, ppo_steps, ppo_batch_size, max_new_tokens, rl_lr, seed, device
            )
    stages["model"] = current
    write_text_atomic(Path(out, "cai-train.json"), json.dumps(stages, indent=1, default=str))
    click.echo(json.dumps({k: v for k, v in stages.items() if k in ("start", "model")}, indent=1))
    click.echo(f"trained model: hf/{current}")


def _trl_stage(name: str, run: Any) -> dict[str, Any]:
    with progress_bar() as bar:
        task = bar.add_task(name, total=None, info="")
        stats = run(on_log_bar(bar, task, ("loss", "rewards/margins", "rewards/accuracies")))
    keep = ("steps", "seconds", "train_loss", "pairs", "dropped", "swapped", "label_smoothing", "examples", "privacy")
    return {k: stats[k] for k in keep if k in stats}


def _reward_and_ppo(
    start: str, pairs: list[PreferencePair], out: Path, rm_epochs: int, steps: int, batch_size: int,
    max_new_tokens: int, lr: float | None, seed: int, device: str,
) -> tuple[str, dict[str, Any], dict[str, Any]]:  # fmt: skip
    """A reward model on the feedback pairs (soft labels), then PPO on their prompts against it."""
    rm = RewardModel.from_backbone(start, device=device)
    with progress_bar() as bar:
        task = bar.add_task("reward model", total=None, info="")
        rm_stats = train_reward_model(
            rm, pairs, RewardConfig(epochs=rm_epochs, seed=seed, batch_size=max(1, min(8, len(pairs)))),
            on_step=lambda s, n, loss: bar.update(task, completed=s, total=n, info=f"loss {loss:.3f}"),
        )  # fmt: skip
    rm.save(out / "reward")
    prompts = prompts_of(pairs)
    size = min(batch_size, len(prompts))
    config = PPOConfig(
        model_name=start, batch_size=size, mini_batch_size=max(1, size // 2), max_new_tokens=max_new_tokens,
        seed=seed, output_dir=str(out / "ppo"), device=device,
    )  # fmt: skip
    if lr:
        config.learning_rate = lr
    trainer = PPOTrainer(config)
    t0 = time.perf_counter()
    with progress_bar() as bar:
        task = bar.add_task("ppo", total=steps, info="")
        history = trainer.train(
            prompts, rm, steps=steps, on_step=on_log_bar(bar, task, ("env/reward_mean", "objective/kl"))
        )
    trainer.save_pretrained(out / "ppo" / "policy")
    ppo_stats = {
        "steps": len(history),
        "seconds": round(time.perf_counter() - t0, 1),
        "reward_first": history[0]["env/reward_mean"],
        "reward_last": history[-1]["env/reward_mean"],
        "kl_last": history[-1]["objective/kl"],
    }
    rm_keep = {k: v for k, v in rm_stats.items() if k in ("steps", "loss_first", "loss_last", "seconds")}
    return str(out / "ppo" / "policy"), rm_keep, ppo_stats


# -- evaluate -------------------------------------------------------------------------------------------
@click.command()
@config_option
@click.option("--before", default="smollm2", show_default=True, help="The starting model.")
@click.option("--after", help="The trained model (spec or folder).")
@click.option("--grader", default="smollm2", show_default=True, help="The model that checks each principle.")
@click.option("--grader-arg", "grader_args", multiple=True, metavar="KEY=VALUE")
@click.option("--probes", default="builtin", show_default=True, help="Red-team prompts: 'builtin' or a probes file.")
@click.option("--categories", help="Comma-separated probe categories.")
@click.option("--redteam", type=click.Path(exists=True, dir_okay=False), help="Red-team prompt file instead of probes.")
@click.option(
    "--benign", default="builtin", show_default=True, help="Benign prompts: a file, or 'builtin' look-alikes."
)
@click.option("--limit", type=click.IntRange(1), default=8, show_default=True, help="Prompts per set.")
@click.option("--constitution", help="Constitution YAML file (default: the built-in one).")
@click.option("--principles", help="Comma-separated principle ids (default: all).")
@click.option("--rubric", is_flag=True, help="Attack success by the judge model's rubric as well as detectors.")
@click.option("--max-tokens", type=click.IntRange(1), default=128, show_default=True)
@click.option("--out", type=click.Path(file_okay=False), help="Folder for report.json, answers.jsonl, table.md.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--exclude",
    multiple=True,
    type=click.Path(exists=True),
    help="A run folder or JSONL file (sft, pairs, trace) whose prompts are left out of the evaluation (repeatable).",
)
@click.option("-M", "--model-arg", "model_args", multiple=True, metavar="KEY=VALUE")
def evaluate(
    before: str, after: str | None, grader: str, grader_args: tuple[str, ...], probes: str, categories: str | None,
    redteam: str | None, benign: str, limit: int, constitution: str | None, principles: str | None, rubric: bool,
    max_tokens: int, out: str | None, seed: int, exclude: tuple[str, ...], model_args: tuple[str, ...],
) -> None:  # fmt: skip
    """Per-principle rates, attack success and over-refusal, before and after, side by side."""
    c = constitution_from(constitution, principles)
    seen = trained_prompts(exclude)
    red = read_prompts(redteam, None, seed) if redteam else harmful_probe_prompts(probes, categories, None, seed)
    if benign == "builtin":
        ben = benign_probe_prompts("builtin", categories, None, seed)
    else:
        ben = helpful_prompts(benign, None, None, seed)
    red, ben = (held_out(ps, seen, limit, seed) for ps in (red, ben))
    models = {"before": load_model(model_spec(before), model_args)}
    if after:
        models["after"] = load_model(model_spec(after), model_args)
    grader_model = load_model(model_spec(grader), grader_args)
    red_judge = Judge(rubric=RubricGrader(grader_model) if rubric else None)

    def attack_success(prompts: list[str], answers: list[str]) -> list[bool]:
        verdicts = run_sync(red_judge.ajudge([(p, a, None, None) for p, a in zip(prompts, answers, strict=True)]))
        return [v.success for v in verdicts]

    settings = EvalConfig(config=GenerateConfig(temperature=0.0, max_tokens=max_tokens))
    with progress_bar() as bar:
        task = bar.add_task("evaluate", total=None, info="")
        report = evaluate_models(
            models, grader_model, c, red, ben, attack_success=attack_success, settings=settings,
            on_progress=lambda d, t: bar.update(task, completed=d, total=t),
        )  # fmt: skip
    _print_table(report, f"{c.spec}: grader {grader_model.info.spec}, {len(red)} red-team + {len(ben)} benign prompts")
    if out:
        folder = Path(out)
        meta = {"before": before, "after": after, "red_team_prompts": len(red), "benign_prompts": len(ben)}
        write_text_atomic(folder / "report.json", json.dumps({**meta, **report.to_dict()}, indent=1))
        write_jsonl(folder / "answers.jsonl", report.rows)
        write_text_atomic(folder / "table.md", report.to_markdown())
        click.echo(f"wrote {folder}/report.json, answers.jsonl, table.md", err=True)


def _text(prompt: Any, where: str = "<prompt>") -> str:
    """The last message of a prompt as stored in a run's JSONL (text, message dicts or messages)."""
    if isinstance(prompt, list) and prompt and isinstance(prompt[-1], dict):
        return str(prompt[-1].get("content", ""))
    try:
        return to_messages(prompt)[-1].content
    except ConfigError as e:
        raise RecordError(f"{where}: field 'prompt': {e}") from None


def trained_prompts(sources: tuple[str, ...]) -> set[str]:
    """The last user message of every prompt in the given run folders / JSONL files."""
    seen: set[str] = set()
    for src in sources:
        path = Path(src)
        files = [path] if path.is_file() else [path / n for n in ("sft.jsonl", "pairs.jsonl", "trace.jsonl")]
        for f in files:
            if not f.is_file():
                continue
            for n, row in iter_json_objects(f):
                if row.get("prompt"):
                    seen.add(_text(row["prompt"], f"{f}:{n}"))
    return seen


def held_out(prompts: list[Any], seen: set[str], limit: int, seed: int) -> list[Any]:
    """A seeded sample of ``limit`` prompts none of which is in ``seen``."""
    return seeded_sample([p for p in prompts if _text(p) not in seen], limit, seed)


def _print_table(report: EvalReport, title: str) -> None:
    rows = report.table()
    table = Table(title=title)
    for i, head in enumerate(rows[0]):
        table.add_column(head or "principle / figure", justify="left" if i == 0 else "right")
    for r in rows[1:]:
        table.add_row(*r)
    console = Console()
    console.print(table)
    for w in report.warnings:
        console.print(f"[yellow]warning:[/yellow] {w}")


# -- show -----------------------------------------------------------------------------------------------
@click.command()
@click.option("--constitution", help="A constitution file to check and print (default: the built-in one).")
@click.option("--summary", is_flag=True, help="One line per principle instead of the YAML.")
def show(constitution: str | None, summary: bool) -> None:
    """Print a constitution (the built-in one by default) as YAML; a bad file's error names its line."""
    c = load_constitution(constitution)
    if not summary:
        click.echo(c.to_yaml(), nl=False)
        return
    click.echo(f"{c.spec}: {len(c.principles)} principles, {len(c.examples)} examples")
    for p in c.principles:
        click.echo(f"  {p.id:<18} {p.name}  ({len(p.critique)} critique / {len(p.revision)} revision phrasings)")
