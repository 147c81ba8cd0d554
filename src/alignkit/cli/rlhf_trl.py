"""``alignkit rlhf dpo | rloo | grpo | sft``: the methods alignkit runs through trl."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from alignkit.cli.privacy_options import dp_config, dp_options, refuse_dp
from alignkit.cli.rewards import reward_function
from alignkit.cli.rlhf_common import (
    check_memory,
    config_option,
    model_path,
    on_log_bar,
    progress_bar,
    read_pairs,
    read_prompt_file,
)
from alignkit.cli.rlhf_hacking import build_monitor, hacking_options, report
from alignkit.core.jsonl import read_jsonl
from alignkit.core.records import SFTExample
from alignkit.privacy.dp_sft import train_sft_dp
from alignkit.rlhf.trl_config import DPOTrainConfig, LoraAdapterConfig, RLTrainConfig, TrainConfig
from alignkit.rlhf.trl_methods import train_dpo, train_grpo, train_rloo, train_sft

F = Callable[..., Any]


def _common(fn: F) -> F:
    """Options every trl method shares."""
    for opt in reversed(
        [
            config_option,
            click.option("--policy", default="smollm2", show_default=True, help="Model spec or folder to train."),
            click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder for the model."),
            click.option("--lr", type=float, help="Learning rate (default: trl's for the method)."),
            click.option("--batch-size", type=click.IntRange(1)),
            click.option("--grad-accum", type=click.IntRange(1), default=1, show_default=True),
            click.option("--epochs", type=click.FloatRange(0, min_open=True), default=1.0, show_default=True),
            click.option("--max-steps", type=click.IntRange(1)),
            click.option("--max-length", type=click.IntRange(8), default=512, show_default=True),
            click.option("--lora-rank", type=click.IntRange(1), help="Train LoRA adapters of this rank."),
            click.option("--limit", type=click.IntRange(1), help="Use a random subset of this many rows."),
            click.option("--seed", type=int, default=0, show_default=True),
        ]
    ):
        fn = opt(fn)
    return dp_options(fn)  # only sft trains with DP; the others refuse the options (_dp)


def _config(cls: Any, kw: dict[str, Any], **extra: Any) -> Any:
    """A trl method's config (``cls``) from the shared options, plus the method's own."""
    values = dict(
        output_dir=kw["out"], learning_rate=kw["lr"], gradient_accumulation=kw["grad_accum"], epochs=kw["epochs"],
        max_steps=kw["max_steps"], max_length=kw["max_length"], seed=kw["seed"],
        lora=LoraAdapterConfig(rank=kw["lora_rank"], alpha=2 * kw["lora_rank"]) if kw["lora_rank"] else None, **extra,
    )  # fmt: skip
    if kw["batch_size"]:
        values["batch_size"] = kw["batch_size"]
    return cls(**values)


def _dp(kw: dict[str, Any], method: str) -> Any:
    """The DP target of an SFT run, or a usage error for a method that cannot train with DP."""
    dp = dp_config(kw.pop("dp_epsilon"), kw.pop("dp_delta"), kw.pop("dp_max_grad_norm"))
    if method != "sft":
        refuse_dp(dp, f"rlhf {method}", "DP training is available for `rlhf sft` and `rlhf train-reward`")
    return dp


def _check_memory(kw: dict[str, Any], config: Any, method: str, tokens: int) -> None:
    """Print the run's memory estimate; stop with how to fit when it will not (the reference model is a
    second copy of the weights unless LoRA lets the adapter-free model serve as the reference)."""
    lora = kw["lora_rank"]
    reference = method == "dpo" or (method in ("rloo", "grpo") and config.beta > 0)
    hints = [
        f"lower --max-length (now {config.max_length})",
        f"lower --batch-size (now {config.batch_size}) and raise --grad-accum to keep the effective batch",
        "train LoRA adapters (--lora-rank 16)",
        "turn on gradient checkpointing (TrainConfig.gradient_checkpointing)",
    ]
    check_memory(model_path(kw["policy"]), f"rlhf {method}", hints, tokens=tokens, trainable="lora" if lora else "all",
                 lora_rank=lora, copies=2 if reference and not lora else 1,
                 checkpointing=config.gradient_checkpointing)  # fmt: skip


def _run(name: str, train: Callable[[Any], dict[str, Any]], keys: tuple[str, ...]) -> None:
    with progress_bar() as bar:
        task = bar.add_task(name, total=None, info="")
        stats = train(on_log_bar(bar, task, keys))
    summary = {k: v for k, v in stats.items() if k != "log_history"}
    click.echo(json.dumps(summary, indent=1, default=str))


@click.command()
@_common
@click.option("--pairs", required=True, type=click.Path(exists=True, dir_okay=False), help="Preference pairs file.")
@click.option("--beta", type=click.FloatRange(0, min_open=True), default=0.1, show_default=True)
def dpo(pairs: str, beta: float, **kw: Any) -> None:
    """Direct preference optimization on a pairs file (JSONL/CSV, HH transcripts, alignkit pairs)."""
    _dp(kw, "dpo")
    data = read_pairs(pairs, "auto", kw["limit"], kw["seed"])
    config = _config(DPOTrainConfig, kw, beta=beta)
    _check_memory(kw, config, "dpo", 2 * config.batch_size * config.max_length)  # chosen and rejected together
    _run("dpo", lambda on_log: train_dpo(model_path(kw["policy"]), data, config, on_log=on_log),
         ("loss", "rewards/margins", "rewards/accuracies"))  # fmt: skip


def _online(method: str, train: Callable[..., dict[str, Any]]) -> click.Command:
    @click.command(name=method, help=f"{method.upper()} on a prompt file with a reward model or function (trl).")
    @_common
    @click.option("--prompts", required=True, type=click.Path(exists=True, dir_okay=False))
    @click.option("--reward", required=True, help="Reward-model folder, module:function or detector:NAME.")
    @click.option("--num-generations", type=click.IntRange(2), default=4, show_default=True)
    @click.option("--max-new-tokens", type=click.IntRange(1), default=64, show_default=True)
    @click.option("--temperature", type=click.FloatRange(0, min_open=True), default=1.0, show_default=True)
    @click.option("--beta", type=click.FloatRange(0), default=0.04, show_default=True)
    @hacking_options
    def command(
        prompts: str, reward: str, num_generations: int, max_new_tokens: int, temperature: float, beta: float, **kw: Any
    ) -> None:
        _dp(kw, method)
        data = read_prompt_file(prompts, kw["limit"], kw["seed"])
        config = _config(
            RLTrainConfig, kw, num_generations=num_generations, max_new_tokens=max_new_tokens,
            temperature=temperature, beta=beta,
        )  # fmt: skip
        _check_memory(kw, config, method, config.batch_size * (config.max_length + max_new_tokens))
        fn = reward_function(reward)
        hack = {k: kw.pop(k) for k in ("gold", "held_out", "hack_every", "hack_patience", "on_hack", "label_store")}
        monitor, data = build_monitor(hack, data, fn, kw["out"])
        _run(method, lambda on_log: train(model_path(kw["policy"]), data, fn, config, on_log=on_log, monitor=monitor),
             ("loss", "reward", "kl"))  # fmt: skip
        report(monitor, kw["out"])

    return command


rloo = _online("rloo", train_rloo)
grpo = _online("grpo", train_grpo)


@click.command()
@_common
@click.option("--data", required=True, type=click.Path(exists=True, dir_okay=False), help="SFT examples (JSONL).")
def sft(data: str, **kw: Any) -> None:
    """Supervised fine-tuning on SFT examples (prompt + completion records, e.g. from `alignkit cai revise`).
    With --dp-epsilon, DP-SGD instead of trl (the budget spent goes into the manifest and README.md)."""
    dp = _dp(kw, "sft")
    examples = list(read_jsonl(data, SFTExample))
    if kw["limit"]:
        examples = examples[: kw["limit"]]
    config = _config(TrainConfig, kw)
    _check_memory(kw, config, "sft", config.batch_size * config.max_length)
    if dp is not None:
        _run("sft (DP)", lambda on_log: train_sft_dp(model_path(kw["policy"]), examples, config, dp, on_log=on_log),
             ("loss",))  # fmt: skip
        return
    _run("sft", lambda on_log: train_sft(model_path(kw["policy"]), examples, config, on_log=on_log), ("loss",))
