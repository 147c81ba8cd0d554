"""``alignkit cai``: Constitutional AI. revise (supervised phase data), feedback (RL phase data), train
(SFT, then DPO or reward model + PPO), evaluate (per principle, harmlessness and helpfulness), show.

The glue between layers lives here: red-team prompts come from :mod:`alignkit.redteam`'s probe library,
attack success from its ``Judge``, and training from :mod:`alignkit.rlhf`, while
:mod:`alignkit.constitution` only sees models, prompts and functions.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from alignkit.cli.options import config_from_options, generation_options, load_model
from alignkit.cli.rlhf_common import config_option, progress_bar, read_prompt_file
from alignkit.core.errors import ConfigError

F = Callable[..., Any]


@click.group()
def cai() -> None:
    """Constitutional AI: train a model to follow written principles (Bai et al., 2022).

    revise -> train (SFT) -> feedback -> train --rl dpo|ppo -> evaluate. Every command also reads its
    options from YAML: --config run.yaml."""


# -- shared options and glue ----------------------------------------------------------------------------
def _prompt_options(fn: F) -> F:
    for opt in reversed(
        [
            click.option("--probes", help="Red-team prompts from the probe library: 'builtin' or a probes file."),
            click.option("--categories", help="Comma-separated probe categories (with --probes)."),
            click.option("--prompts", type=click.Path(exists=True, dir_okay=False), help="Red-team prompt file."),
            click.option("--limit", type=click.IntRange(1), help="Use a seeded sample of this many prompts."),
            click.option("--constitution", help="Constitution YAML file (default: the built-in one)."),
            click.option("--principles", help="Comma-separated principle ids to use (default: all)."),
        ]
    ):
        fn = opt(fn)
    return fn


def _constitution(path: str | None, principles: str | None) -> Any:
    from alignkit.constitution.spec import load_constitution

    c = load_constitution(path)
    return c.select([p.strip() for p in principles.split(",") if p.strip()]) if principles else c


def harmful_probe_prompts(source: str, categories: str | None, limit: int | None, seed: int) -> list[str]:
    """Harmful prompts of the probe library (or a probes file) that stand alone: no system prompt, no canary."""
    return [p.prompt for p in _probes(source, categories, limit, seed, harmful=True)]


def benign_probe_prompts(source: str, categories: str | None, limit: int | None, seed: int) -> list[str]:
    """The benign look-alikes of the probe library: requests a good model answers."""
    return [p.prompt for p in _probes(source, categories, limit, seed, harmful=False)]


def _probes(source: str, categories: str | None, limit: int | None, seed: int, *, harmful: bool) -> list[Any]:
    from alignkit.redteam.loaders import load_probes
    from alignkit.redteam.probes import builtin_probes

    wanted = [c.strip() for c in categories.split(",")] if categories else None
    probes = builtin_probes(wanted) if source == "builtin" else load_probes(source)
    if wanted and source != "builtin":
        probes = [p for p in probes if p.category in wanted]
    probes = [p for p in probes if p.harmful == harmful and not p.system and not p.canary]
    if not probes:
        raise ConfigError(f"no {'harmful' if harmful else 'benign'} probes in {source} (categories: {categories})")
    return _sample(probes, limit, seed)


def _sample(items: list[Any], limit: int | None, seed: int) -> list[Any]:
    if limit and len(items) > limit:
        return random.Random(seed).sample(items, limit)  # noqa: S311 (a reproducible subset)
    return items


def read_prompts(path: str, limit: int | None = None, seed: int = 0) -> list[Any]:
    """Prompts from a file: .txt lines, JSONL/CSV with prompt/messages, or instruction(+input) rows such as
    self-instruct's, or the prompts of a preference file."""
    p = Path(path)
    if p.suffix.lower() == ".jsonl":
        rows = [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
        if rows and "instruction" in rows[0] and "prompt" not in rows[0] and "messages" not in rows[0]:
            return _sample([_instruction(r) for r in rows], limit, seed)
    return read_prompt_file(path, limit, seed)


def _instruction(row: dict[str, Any]) -> str:
    inputs = [i.get("input", "") for i in row.get("instances") or [] if isinstance(i, dict)]
    extra = row.get("input") or (inputs[0] if inputs else "")
    return f"{row['instruction']}\n\n{extra}" if extra else str(row["instruction"])


def _red_prompts(
    probes: str | None, categories: str | None, prompts: str | None, limit: int | None, seed: int
) -> list[Any]:
    if not probes and not prompts:
        raise click.UsageError("give red-team prompts with --probes builtin (or a probes file) or --prompts FILE")
    out: list[Any] = harmful_probe_prompts(probes, categories, limit, seed) if probes else []
    if prompts:
        out += read_prompts(prompts, limit, seed)
    return out


def _helpful_prompts(source: str | None, categories: str | None, limit: int | None, seed: int) -> list[Any]:
    if not source:
        return []
    if source == "builtin":
        return benign_probe_prompts("builtin", categories, limit, seed)
    return read_prompts(source, limit, seed)


def _spec(s: str) -> str:
    """A model string; a folder (a checkpoint written by `cai train`) becomes hf/<folder>."""
    if "/" in s and s.split("/", 1)[0] in ("hf", "mock", "openai", "embedded", "vllm", "transformers"):
        return s
    return f"hf/{s}" if Path(s, "config.json").exists() else s


def _bar(description: str) -> tuple[Any, Callable[[int, int], None]]:
    bar = progress_bar()
    task = bar.add_task(description, total=None, info="")

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return bar, update


# -- revise ---------------------------------------------------------------------------------------------
@cai.command()
@config_option
@click.argument("model")
@_prompt_options
@click.option(
    "--helpful", help="Helpful prompts to mix in: a file, or 'builtin' (the probe library's benign look-alikes)."
)
@click.option(
    "--helpful-ratio",
    type=click.FloatRange(0),
    default=1.0,
    show_default=True,
    help="Helpful prompts per red-team prompt.",
)
@click.option("--helpful-target", type=click.Choice(["answer", "revision"]), default="answer", show_default=True)
@click.option("--rounds", type=click.IntRange(1), default=1, show_default=True, help="Critique-revision rounds.")
@click.option("--few-shot", type=click.IntRange(0), default=1, show_default=True, help="Examples per request.")
@click.option("--critique-max-tokens", type=click.IntRange(1), default=128, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=8, show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder (resumed if it exists).")
@click.option("--hf-dataset", type=click.Path(file_okay=False), help="Also save the SFT set as a datasets folder.")
@generation_options
def revise(
    model: str, probes: str | None, categories: str | None, prompts: str | None, limit: int | None,
    constitution: str | None, principles: str | None, helpful: str | None, helpful_ratio: float, helpful_target: str,
    rounds: int, few_shot: int, critique_max_tokens: int, batch_size: int, out: str, hf_dataset: str | None,
    temperature: float | None, top_p: float | None, max_tokens: int | None, seed: int | None, stop: tuple[str, ...],
    model_args: tuple[str, ...],
) -> None:  # fmt: skip
    """Supervised phase: MODEL answers red-team prompts, critiques and revises its answers against
    principles drawn at random; writes OUT/sft.jsonl and OUT/trace.jsonl. Rerun to resume."""
    from alignkit.constitution.revise import ReviseConfig, run_revision

    seed = 0 if seed is None else seed
    c = _constitution(constitution, principles)
    red = _red_prompts(probes, categories, prompts, limit, seed)
    helpful_prompts = _helpful_prompts(helpful, categories, None, seed)
    config = config_from_options(temperature, top_p, max_tokens, seed if temperature else None, stop)
    settings = ReviseConfig(
        rounds=rounds, seed=seed, batch_size=batch_size, few_shot=few_shot, helpful_ratio=helpful_ratio,
        helpful_target=helpful_target, critique_max_tokens=critique_max_tokens,  # type: ignore[arg-type]
        config=ReviseConfig().config.merge(config),
    )  # fmt: skip
    m = load_model(_spec(model), model_args)
    bar, update = _bar("revise")
    with bar:
        result = run_revision(m, c, red, out, helpful=helpful_prompts, settings=settings, on_progress=update)
    if hf_dataset:
        _save_hf_dataset(result.sft_path, hf_dataset)
    summary = {
        "out": str(result.out_dir), "constitution": c.spec, "processed": result.processed,
        "already_done": result.already_done, "failed": result.failed, "seconds": round(result.seconds, 1),
        "prompts_per_minute": round(result.prompts_per_minute, 2), **result.summary,
    }  # fmt: skip
    Path(out, "summary.json").write_text(json.dumps(summary, indent=1))
    click.echo(json.dumps(summary, indent=1))


def _save_hf_dataset(sft: Path, folder: str) -> None:
    import datasets

    from alignkit.core.jsonl import read_jsonl
    from alignkit.core.records import SFTExample

    rows = [
        {"id": e.id, "prompt": [m.to_dict() for m in e.prompt], "completion": e.completion, "kind": e.metadata["kind"]}
        for e in read_jsonl(sft, SFTExample)
    ]
    datasets.Dataset.from_list(rows).save_to_disk(folder)
    click.echo(f"wrote {folder} ({len(rows)} rows)", err=True)


# -- feedback -------------------------------------------------------------------------------------------
@cai.command()
@config_option
@click.argument("policy")
@click.option("--feedback-model", help="The model that judges (default: the policy itself).")
@click.option(
    "--feedback-arg",
    "feedback_args",
    multiple=True,
    metavar="KEY=VALUE",
    help="Provider argument of the feedback model.",
)
@_prompt_options
@click.option("--principles-per-prompt", type=click.IntRange(1), default=1, show_default=True)
@click.option("--single-order", is_flag=True, help="Ask in one order only (position bias is then not cancelled).")
@click.option("--cot", is_flag=True, help="Chain of thought: the feedback model reasons before it answers.")
@click.option("--clamp", help="Clamp each P(choice) to LOW,HIGH, e.g. 0.4,0.6 (Bai et al. with --cot).")
@click.option("--no-logprobs", is_flag=True, help="Read the written letter even when log-probabilities exist.")
@click.option("--sample-temperature", type=click.FloatRange(0, min_open=True), default=0.8, show_default=True)
@click.option("--sample-max-tokens", type=click.IntRange(1), default=128, show_default=True)
@click.option("--batch-size", type=click.IntRange(1), default=8, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run folder (resumed if it exists).")
@click.option(
    "-M", "--model-arg", "model_args", multiple=True, metavar="KEY=VALUE", help="Provider argument of the policy."
)
def feedback(
    policy: str, feedback_model: str | None, feedback_args: tuple[str, ...], probes: str | None,
    categories: str | None, prompts: str | None, limit: int | None, constitution: str | None, principles: str | None,
    principles_per_prompt: int, single_order: bool, cot: bool, clamp: str | None, no_logprobs: bool,
    sample_temperature: float, sample_max_tokens: int, batch_size: int, seed: int, out: str,
    model_args: tuple[str, ...],
) -> None:  # fmt: skip
    """RL phase data: POLICY samples two answers per prompt, the feedback model picks the one that better
    follows a principle (both orders); writes soft-labelled OUT/pairs.jsonl. Rerun to resume."""
    from alignkit.constitution.feedback import FeedbackConfig, run_feedback
    from alignkit.core.config import GenerateConfig

    c = _constitution(constitution, principles)
    data = _red_prompts(probes, categories, prompts, limit, seed)
    bounds = None
    if clamp:
        try:
            low, high = (float(x) for x in clamp.split(","))
        except ValueError:
            raise click.BadParameter("--clamp takes LOW,HIGH, e.g. 0.4,0.6") from None
        bounds = (low, high)
    settings = FeedbackConfig(
        seed=seed, batch_size=batch_size, principles_per_prompt=principles_per_prompt, both_orders=not single_order,
        use_logprobs=not no_logprobs, chain_of_thought=cot, clamp=bounds,
        sample_config=GenerateConfig(temperature=sample_temperature, max_tokens=sample_max_tokens),
    )  # fmt: skip
    pol = load_model(_spec(policy), model_args)
    judge = load_model(_spec(feedback_model), feedback_args) if feedback_model else pol
    bar, update = _bar("feedback")
    with bar:
        result = run_feedback(pol, judge, c, data, out, settings=settings, on_progress=update)
    summary = {
        "out": str(result.out_dir), "constitution": c.spec, "processed": result.processed,
        "already_done": result.already_done, "skipped": result.skipped, "failed": result.failed,
        "seconds": round(result.seconds, 1), **result.summary,
    }  # fmt: skip
    Path(out, "feedback_summary.json").write_text(json.dumps(summary, indent=1))
    click.echo(json.dumps(summary, indent=1))


def _add_commands() -> None:
    from alignkit.cli.cai_run import evaluate, show, train

    for command in (train, evaluate, show):
        cai.add_command(command)


_add_commands()
