"""``alignkit rlhf``: reward models, PPO, DPO / RLOO / GRPO, evaluation and training curves."""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path
from typing import Any

import click

from alignkit.cli.options import load_model
from alignkit.cli.privacy_options import dp_config, dp_options
from alignkit.cli.rewards import reward_function
from alignkit.cli.rlhf_common import (
    check_memory,
    check_reward_memory,
    config_option,
    default_reward_lr,
    model_path,
    on_log_bar,
    progress_bar,
    read_pairs,
    read_prompt_file,
    warn_if_flat,
)
from alignkit.cli.rlhf_hacking import build_monitor, hacking_options, report
from alignkit.cli.rlhf_trl import dpo, grpo, rloo, sft
from alignkit.core.files import check_not_input, write_text_atomic
from alignkit.privacy.card import write_model_card
from alignkit.privacy.dp_reward import train_reward_model_dp
from alignkit.rlhf.demo import DemoConfig, run_demo
from alignkit.rlhf.evaluate import evaluate_policy
from alignkit.rlhf.policy import ValueHeadModel
from alignkit.rlhf.ppo import PPOTrainer
from alignkit.rlhf.ppo_config import PPOConfig
from alignkit.rlhf.reward import RewardConfig, RewardModel, evaluate_reward_model, train_reward_model
from alignkit.rlhf.trainlog import LOG_FILE, plot_log, read_log

CURVES = ("env/reward_mean", "objective/kl", "objective/entropy", "ppo/policy/clipfrac", "ppo/loss/value")


@click.group()
def rlhf() -> None:
    """RLHF: reward models, PPO, DPO / RLOO / GRPO, evaluation.

    Every command also reads its options from YAML: --config run.yaml."""


@rlhf.command("train-reward")
@config_option
@click.argument("data", type=click.Path(exists=True, dir_okay=False))
@click.option("--backbone", default="smollm2", show_default=True, help="Model spec or folder to put the head on.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the trained reward model.")
@click.option("--format", "fmt", type=click.Choice(["auto", "alignkit", "hh"]), default="auto", show_default=True)
@click.option("--limit", type=click.IntRange(2), help="Use a random subset of this many pairs.")
@click.option("--eval-fraction", type=click.FloatRange(0, 0.9), default=0.1, show_default=True)
@click.option("--epochs", type=click.IntRange(1), default=1, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=8, show_default=True)
@click.option("--lr", type=float, help="Learning rate (default: by mode, see RewardConfig).")
@click.option("--max-length", type=click.IntRange(16), default=512, show_default=True)
@click.option("--lora-rank", type=click.IntRange(1), help="Train LoRA adapters of this rank instead of all weights.")
@click.option("--train-layers", type=click.IntRange(0), help="Train only the top N blocks and the head (no LoRA).")
@click.option(
    "--micro-batch-tokens",
    type=click.IntRange(16),
    default=1024,
    show_default=True,
    help="Padded tokens per forward pass; a step runs as several when its pairs need more (less memory).",
)
@click.option("--pii", type=click.Choice(["keep", "redact", "drop"]), default="keep", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@dp_options
def train_reward(
    data: str, backbone: str, out: str, fmt: str, limit: int | None, eval_fraction: float, epochs: int,
    batch_size: int, lr: float | None, max_length: int, lora_rank: int | None, train_layers: int | None,
    micro_batch_tokens: int, pii: str, seed: int, device: str,
    dp_epsilon: float | None, dp_delta: float | None, dp_max_grad_norm: float | None,
) -> None:  # fmt: skip
    """Train a Bradley-Terry reward model on the preference pairs in DATA; report held-out accuracy.
    With --dp-epsilon, train with DP-SGD (the budget spent goes into the manifest and README.md)."""
    dp = dp_config(dp_epsilon, dp_delta, dp_max_grad_norm)
    pairs = read_pairs(data, fmt, limit, seed, pii)
    random.Random(seed).shuffle(pairs)  # noqa: S311 (a reproducible split)
    n_eval = int(len(pairs) * eval_fraction)
    held_out, train = pairs[:n_eval], pairs[n_eval:]
    if lora_rank and train_layers is not None:
        raise click.UsageError("--lora-rank and --train-layers are two ways to train less; choose one")
    config = RewardConfig(
        learning_rate=lr or default_reward_lr(lora_rank, train_layers), batch_size=batch_size, epochs=epochs,
        max_length=max_length, seed=seed, train_layers=train_layers, micro_batch_tokens=micro_batch_tokens,
    )  # fmt: skip
    check_reward_memory(model_path(backbone), config, lora_rank)
    rm = RewardModel.from_backbone(model_path(backbone), device=device, lora_rank=lora_rank)
    with progress_bar() as bar:
        task = bar.add_task("reward model", total=None, info="")
        on_step = lambda s, n, loss: bar.update(task, completed=s, total=n, info=f"loss {loss:.3f}")  # noqa: E731
        if dp is not None:
            stats = train_reward_model_dp(rm, train, config, dp, on_step=on_step)
        else:
            stats = train_reward_model(rm, train, config, on_step=on_step)
    metrics = {"train_pairs": len(train), "held_out_pairs": len(held_out), "backbone": backbone, **stats}
    if held_out:
        metrics["held_out"] = evaluate_reward_model(rm, held_out)
        warn_if_flat(metrics["held_out"], len(held_out))
    rm.save(out, **{k: v for k, v in metrics.items() if k != "config"})
    write_text_atomic(Path(out, "metrics.json"), json.dumps(metrics, indent=1, default=str))
    if dp is not None:
        summary = {
            str(k): metrics[k] for k in ("backbone", "train_pairs", "steps", "seconds", "held_out") if k in metrics
        }
        write_model_card(out, "Reward model with differential privacy", summary, stats["privacy"])
    acc = metrics.get("held_out", {}).get("pairwise_accuracy")
    click.echo(
        f"saved {out}: {len(train)} pairs, {stats['seconds']:.0f} s"
        + (f", held-out accuracy {acc:.3f}" if acc is not None else "")
    )


@rlhf.command("eval-reward")
@config_option
@click.argument("model", type=click.Path(exists=True, file_okay=False))
@click.argument("pairs", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["auto", "alignkit", "hh"]), default="auto", show_default=True)
@click.option("--limit", type=click.IntRange(1), help="Evaluate a random subset of this many pairs.")
@click.option("--max-length", type=click.IntRange(16), help="Tokens scored per text (default: as trained).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
def eval_reward(model: str, pairs: str, fmt: str, limit: int | None, max_length: int | None, seed: int,
                device: str) -> None:  # fmt: skip
    """Pairwise accuracy and calibration of the reward model MODEL on a pairs file (texts scored in
    length-sorted batches, cut to the length it was trained on unless --max-length says otherwise)."""
    data = read_pairs(pairs, fmt, limit, seed)
    t0 = time.perf_counter()
    metrics = evaluate_reward_model(RewardModel.load(model, device=device), data, max_length=max_length)
    click.echo(json.dumps({"pairs": len(data), **metrics, "seconds": round(time.perf_counter() - t0, 2)}, indent=1))


@rlhf.command()
@config_option
@click.option("--policy", default="smollm2", show_default=True, help="Model spec or folder to fine-tune.")
@click.option("--prompts", required=True, type=click.Path(exists=True, dir_okay=False), help="Prompt file.")
@click.option("--reward", required=True, help="Reward-model folder, module:function or detector:NAME.")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder: log, checkpoints, policy.")
@click.option("--steps", type=click.IntRange(1), help="PPO steps (default: one pass over the prompts).")
@click.option("--limit", type=click.IntRange(1), help="Use a random subset of this many prompts.")
@click.option("--batch-size", type=click.IntRange(1), default=16, show_default=True)
@click.option("--mini-batch-size", type=click.IntRange(1))
@click.option("--micro-batch-size", type=click.IntRange(1))
@click.option("--ppo-epochs", type=click.IntRange(1), default=4, show_default=True)
@click.option("--lr", type=float, default=1e-5, show_default=True)
@click.option("--kl-coef", type=float, default=0.05, show_default=True)
@click.option("--adaptive-kl/--fixed-kl", default=False, show_default=True)
@click.option("--kl-target", type=float, default=6.0, show_default=True)
@click.option("--max-new-tokens", type=click.IntRange(1), default=32, show_default=True)
@click.option("--temperature", type=click.FloatRange(0, min_open=True), default=1.0, show_default=True)
@click.option("--missing-eos-penalty", type=float, help="Subtracted from the score of answers cut off at the limit.")
@click.option("--critic", type=click.Path(exists=True, file_okay=False), help="Separate value net from this RM.")
@click.option("--save-every", type=click.IntRange(0), default=0, show_default=True)
@click.option("--resume", is_flag=True, help="Continue from the latest checkpoint in --out.")
@click.option("--tensorboard", is_flag=True, help="Also write TensorBoard scalars.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@hacking_options
def ppo(
    policy: str, prompts: str, reward: str, out: str, steps: int | None, limit: int | None, batch_size: int,
    mini_batch_size: int | None, micro_batch_size: int | None, ppo_epochs: int, lr: float, kl_coef: float,
    adaptive_kl: bool, kl_target: float, max_new_tokens: int, temperature: float, missing_eos_penalty: float | None,
    critic: str | None, save_every: int, resume: bool, tensorboard: bool, seed: int, device: str, **hack: Any,
) -> None:  # fmt: skip
    """PPO fine-tuning of POLICY on PROMPTS to maximise REWARD, with a KL leash to the start."""
    data = read_prompt_file(prompts, limit, seed)  # a bad file fails before any model loads
    config = PPOConfig(
        model_name=model_path(policy), learning_rate=lr, batch_size=batch_size, mini_batch_size=mini_batch_size,
        micro_batch_size=micro_batch_size, ppo_epochs=ppo_epochs, init_kl_coef=kl_coef, adaptive_kl=adaptive_kl,
        kl_target=kl_target, max_new_tokens=max_new_tokens, temperature=temperature,
        missing_eos_penalty=missing_eos_penalty, seed=seed, output_dir=out, save_every=save_every,
        tensorboard=tensorboard, device=device,
    )  # fmt: skip
    check_memory(
        config.model_name or policy, "rlhf ppo", [f"lower --micro-batch-size (now {config.microbatch()})",
        f"lower --max-new-tokens (now {max_new_tokens})", "use a smaller policy"],
        tokens=config.microbatch() * (config.max_prompt_length + max_new_tokens), trainable="all",
        copies=3 if critic else 2,  # the policy, its frozen reference, and a separate critic when given
    )  # fmt: skip
    trainer = PPOTrainer(config, critic=critic)
    reward_fn = reward_function(reward, device)
    monitor, data = build_monitor(hack, data, reward_fn, out, device)
    with progress_bar() as bar:
        task = bar.add_task("ppo", total=steps, info="")
        history = trainer.train(
            data, reward_fn, steps=steps, resume_from="latest" if resume else None,
            on_step=on_log_bar(bar, task, ("env/reward_mean", "objective/kl", "time/step")), monitor=monitor,
        )  # fmt: skip
    report(monitor, out)
    trainer.save_pretrained(Path(out) / "policy")
    plot_log(read_log(out), CURVES, Path(out) / "curves.svg", title=f"PPO on {policy}")
    first, last = history[0], history[-1]
    click.echo(
        f"{len(history)} steps: reward {first['env/reward_mean']:.3f} -> {last['env/reward_mean']:.3f}, "
        f"KL {last['objective/kl']:.2f}; policy in {Path(out) / 'policy'}, curves in {Path(out) / 'curves.svg'}"
    )


@rlhf.command()
@config_option
@click.option("--policy", required=True, help="The trained policy (folder or model spec).")
@click.option("--reference", default="smollm2", show_default=True, help="What it started from.")
@click.option("--prompts", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--reward", required=True, help="Reward-model folder, module:function or detector:NAME.")
@click.option("--grader", help="An LLM grader (model spec) for the win rate instead of the reward.")
@click.option("--limit", type=click.IntRange(1), default=64, show_default=True)
@click.option("--max-new-tokens", type=click.IntRange(1), default=64, show_default=True)
@click.option("--temperature", type=click.FloatRange(0, min_open=True), default=1.0, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), help="Write the report (with every answer) as JSON.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
def evaluate(
    policy: str, reference: str, prompts: str, reward: str, grader: str | None, limit: int, max_new_tokens: int,
    temperature: float, out: str | None, seed: int, device: str,
) -> None:  # fmt: skip
    """Reward and KL of POLICY's answers against REFERENCE's, and its win rate."""
    if out:
        check_not_input(out, [prompts], flag="--out")
    data = read_prompt_file(prompts, limit, seed)  # a bad file fails before any model loads
    pol = ValueHeadModel.from_pretrained(model_path(policy), device=device)
    ref = ValueHeadModel.from_pretrained(model_path(reference), device=device)
    pol.max_new_tokens, pol.temperature = max_new_tokens, temperature
    result = evaluate_policy(
        pol, ref, data, reward_function(reward, device),
        grader=load_model(grader, ()) if grader else None, seed=seed,
    )  # fmt: skip
    if out:
        write_text_atomic(out, json.dumps(result, indent=1))
    click.echo(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=1))


@rlhf.command()
@click.argument("run", type=click.Path(exists=True))
@click.option("--column", "columns", multiple=True, help="Log column to plot (repeatable).")
@click.option("--out", type=click.Path(dir_okay=False), help="SVG file (default: RUN/curves.svg).")
def plot(run: str, columns: tuple[str, ...], out: str | None) -> None:
    """Plot the training log of RUN (a run folder or its log.csv) as SVG."""
    rows = read_log(run)
    chosen = columns or tuple(c for c in CURVES if any(c in r for r in rows))
    target = Path(out) if out else (Path(run) if Path(run).is_dir() else Path(run).parent) / "curves.svg"
    check_not_input(target, [Path(run) / LOG_FILE if Path(run).is_dir() else run], flag="--out")
    click.echo(f"wrote {plot_log(rows, chosen, target, title=str(run))}")


@rlhf.command()
@click.option("--policy", default="smollm2", show_default=True, help="The model to align.")
@click.option(
    "--data", type=click.Path(dir_okay=False), help="HH pairs (default: $ALIGNKIT_DATA/hh-rlhf-harmless-base)."
)
@click.option("--out", default="rlhf-demo", show_default=True, type=click.Path(file_okay=False))
@click.option("--ppo-steps", type=click.IntRange(1), help="Override the number of PPO steps.")
@click.option("--device", default="auto", show_default=True)
def demo(policy: str, data: str | None, out: str, ppo_steps: int | None, device: str) -> None:
    """Reward model on HH harmless-base, then PPO for harmlessness, on the embedded model (~15 min on 2 cores)."""
    default = Path(os.environ.get("ALIGNKIT_DATA", "../shared/data")) / "hh-rlhf-harmless-base" / "pairs.jsonl"
    sizes = DemoConfig() if ppo_steps is None else DemoConfig(ppo_steps=ppo_steps)
    with progress_bar() as bar:
        task = bar.add_task("ppo", total=sizes.ppo_steps, info="")
        run_demo(
            model_path(policy), data or default, out, sizes, device=device, say=bar.console.print,
            on_step=on_log_bar(bar, task, ("env/reward_mean", "objective/kl", "time/step")),
        )  # fmt: skip


for _command in (dpo, rloo, grpo, sft):
    rlhf.add_command(_command)
