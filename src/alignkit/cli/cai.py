"""``alignkit cai``: Constitutional AI. revise (supervised phase data), feedback (RL phase data), train
(SFT, then DPO or reward model + PPO), evaluate (per principle, harmlessness and helpfulness), show.

The glue between layers lives in the CLI: red-team prompts come from :mod:`alignkit.redteam`'s probe
library (:mod:`~alignkit.cli.cai_common`), attack success from its ``Judge`` and training from
:mod:`alignkit.rlhf` (:mod:`~alignkit.cli.cai_run`), while :mod:`alignkit.constitution` only sees models,
prompts and functions.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from alignkit.cli.cai_common import (
    check_run_folder,
    constitution_from,
    counting_bar,
    helpful_prompts,
    model_spec,
    prompt_options,
    red_team_prompts,
)
from alignkit.cli.lazy import LazyGroup, LazyTable
from alignkit.cli.options import config_from_options, generation_options, load_model
from alignkit.cli.rlhf_common import config_option
from alignkit.constitution.feedback import PAIRS_FILE, FeedbackConfig, run_feedback
from alignkit.constitution.revise import SFT_FILE, TRACE_FILE, ReviseConfig, run_revision
from alignkit.core.config import GenerateConfig
from alignkit.core.files import write_text_atomic
from alignkit.core.jsonl import read_jsonl
from alignkit.core.records import SFTExample

# The training and evaluation commands import torch; revise and feedback do not, so those load lazily.
TRAINING: LazyTable = {
    "train": (
        "alignkit.cli.cai_run:train",
        "SFT on the revisions (--sft), then optionally RL from the AI feedback pairs: DPO, or a reward model "
        "+ PPO (--rl).",
    ),
    "evaluate": (
        "alignkit.cli.cai_run:evaluate",
        "Per-principle rates, attack success and over-refusal, before and after, side by side.",
    ),
    "show": (
        "alignkit.cli.cai_run:show",
        "Print a constitution (the built-in one by default) as YAML; a bad file's error names its line.",
    ),
}


@click.group(cls=LazyGroup, lazy=TRAINING)
def cai() -> None:
    """Constitutional AI: train a model to follow written principles (Bai et al., 2022).

    revise -> train (SFT) -> feedback -> train --rl dpo|ppo -> evaluate. Every command also reads its
    options from YAML: --config run.yaml."""


# -- revise ---------------------------------------------------------------------------------------------
@cai.command()
@config_option
@click.argument("model")
@prompt_options
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
    principles drawn at random; writes OUT/sft.jsonl and OUT/trace.jsonl, a row per prompt as it is
    done. Rerun to resume: a line cut off by a kill is removed (and said so) and its prompt done again."""
    check_run_folder(out, (SFT_FILE, TRACE_FILE), (probes, prompts, helpful))
    seed = 0 if seed is None else seed
    c = constitution_from(constitution, principles)
    red = red_team_prompts(probes, categories, prompts, limit, seed)
    helpful_set = helpful_prompts(helpful, categories, None, seed)
    generate = config_from_options(temperature, top_p, max_tokens, seed if temperature else None, stop)
    config = ReviseConfig(
        rounds=rounds, seed=seed, batch_size=batch_size, few_shot=few_shot, helpful_ratio=helpful_ratio,
        helpful_target=helpful_target, critique_max_tokens=critique_max_tokens,  # type: ignore[arg-type]
        config=ReviseConfig().config.merge(generate),
    )  # fmt: skip
    m = load_model(model_spec(model), model_args)
    bar, update = counting_bar("revise")
    with bar:
        result = run_revision(m, c, red, out, helpful=helpful_set, settings=config, on_progress=update)
    for note in result.notes:
        click.echo(note, err=True)
    if hf_dataset:
        _save_hf_dataset(result.sft_path, hf_dataset)
    summary = {
        "out": str(result.out_dir), "constitution": c.spec, "processed": result.processed,
        "already_done": result.already_done, "failed": result.failed, "seconds": round(result.seconds, 1),
        "prompts_per_minute": round(result.prompts_per_minute, 2), **result.summary,
    }  # fmt: skip
    write_text_atomic(Path(out, "summary.json"), json.dumps(summary, indent=1))
    click.echo(json.dumps(summary, indent=1))


def _save_hf_dataset(sft: Path, folder: str) -> None:
    import datasets

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
@prompt_options
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
    follows a principle (both orders); writes soft-labelled OUT/pairs.jsonl, a row per prompt as it
    is done. Rerun to resume: a line cut off by a kill is removed (and said so) and its prompt done again."""
    check_run_folder(out, (PAIRS_FILE, TRACE_FILE), (probes, prompts))
    c = constitution_from(constitution, principles)
    data = red_team_prompts(probes, categories, prompts, limit, seed)
    bounds = None
    if clamp:
        try:
            low, high = (float(x) for x in clamp.split(","))
        except ValueError:
            raise click.BadParameter("--clamp takes LOW,HIGH, e.g. 0.4,0.6") from None
        bounds = (low, high)
    config = FeedbackConfig(
        seed=seed, batch_size=batch_size, principles_per_prompt=principles_per_prompt, both_orders=not single_order,
        use_logprobs=not no_logprobs, chain_of_thought=cot, clamp=bounds,
        sample_config=GenerateConfig(temperature=sample_temperature, max_tokens=sample_max_tokens),
    )  # fmt: skip
    pol = load_model(model_spec(policy), model_args)
    rater = load_model(model_spec(feedback_model), feedback_args) if feedback_model else pol
    bar, update = counting_bar("feedback")
    with bar:
        result = run_feedback(pol, rater, c, data, out, settings=config, on_progress=update)
    for note in result.notes:
        click.echo(note, err=True)
    summary = {
        "out": str(result.out_dir), "constitution": c.spec, "processed": result.processed,
        "already_done": result.already_done, "skipped": result.skipped, "failed": result.failed,
        "seconds": round(result.seconds, 1), **result.summary,
    }  # fmt: skip
    write_text_atomic(Path(out, "feedback_summary.json"), json.dumps(summary, indent=1))
    click.echo(json.dumps(summary, indent=1))
