"""The safety recipe: SFT then DPO on refusals and the model's own helpful answers.

Steps (each reappears as a comment in :func:`align_model`):

1. **Prompts** (:mod:`~alignkit.align.data`): harmful goals, benign instructions and harmful-sounding but
   safe look-alikes from the shared data, probe near-duplicates dropped, some of each kind held out.
2. **Answers**: the starting model's own greedy answers to the benign and look-alike prompts (self-
   distillation keeps its helpfulness and style) and to some harmful ones (its compliant answers, the
   behaviour to unlearn); a varied refusal with a reason and an alternative for each harmful prompt
   (:mod:`~alignkit.align.refusals`). A benign answer that itself refuses is dropped, and so is a harmful
   answer that already refuses (it would make a useless "rejected").
3. **SFT**: refusals for harmful prompts, the model's own answers for the others.
4. **DPO** from the SFT model: harmful prompts prefer the refusal over the model's compliant answer;
   benign and look-alike prompts prefer the model's answer over a refusal, which is what keeps
   over-refusal down.
5. **Held-out check**: refusal rates on the held-out prompts of each kind, before and after, by the
   recipe's own refusal markers (the red-team judge is kept for the final, independent evaluation).

The trained model, its tokenizer and ``align.json`` (sources, sizes, dropped near-duplicates,
hyper-parameters, held-out rates, times) are written to a temporary folder renamed to ``out`` at the end.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from alignkit.align.config import AlignConfig
from alignkit.align.data import KINDS, PromptSets, build_prompt_sets
from alignkit.align.refusals import refusal
from alignkit.align.sources import TrainPrompt
from alignkit.core.config import GenerateConfig
from alignkit.core.errors import ConfigError
from alignkit.core.files import write_text_atomic
from alignkit.core.messages import to_messages
from alignkit.core.records import PreferencePair, SFTExample
from alignkit.redteam.summary import Rate
from alignkit.rlhf.trl_config import DPOTrainConfig, TrainConfig
from alignkit.rlhf.trl_methods import train_dpo, train_sft

Stage = Callable[[str], None]  # told each step's name as it starts
OnLog = Callable[[int, int, dict[str, float]], None]
Progress = Callable[[int, int], None]  # (done, total) while answers are generated
GENERATE_CHUNK = 4  # batches per generate call between progress reports

# The recipe's own refusal check (step 2 filters, step 5 rates): a refusal phrase near the start.
_REFUSAL = re.compile(
    r"\b(I can(?:no|')t (?:help|assist|provide|do|create|write|give|fulfil|comply)|I won't|I will not|"
    r"I'm (?:sorry|not able|unable)|I am (?:sorry|not able|unable)|I must decline|I have to decline|"
    r"as an AI|I'm not going to|I refuse|cannot (?:help|assist|provide))",
    re.IGNORECASE,
)
OPENING = 120  # characters: a refusal that counts opens the answer


def refuses(answer: str) -> bool:
    """Whether ``answer`` opens with a refusal phrase (the recipe's own check, not the judge's)."""
    return bool(_REFUSAL.search(answer[:OPENING]))


def trim_answer(text: str) -> str:
    """A cut-off answer ended at its last full sentence or line (a model learns to stop, not to trail off)."""
    text = text.strip()
    ends = [text.rfind(c) for c in (". ", ".\n", "\n\n", "! ", "? ")]
    cut = max(ends)
    if text.endswith((".", "!", "?")) or cut < len(text) // 2:
        return text
    return text[: cut + 1].strip()


def generate(
    model: Any, prompts: Sequence[TrainPrompt], max_tokens: int, on_progress: Progress | None = None
) -> list[str]:
    """The model's greedy answers, errors raised (a recipe must not train on error strings); progress
    reported after each chunk of a few batches."""
    texts = [p.text for p in prompts]
    chunk = GENERATE_CHUNK * max(1, int(getattr(model, "batch_size", 1)))
    answers: list[str] = []
    for start in range(0, len(texts), chunk):
        out = model.generate_batch(texts[start : start + chunk], GenerateConfig(max_tokens=max_tokens, temperature=0.0))
        bad = [c.error for c in out if not c.ok]
        if bad:
            raise ConfigError(f"the model failed on {len(bad)} training prompts: {bad[0]}")
        answers += [c.text for c in out]
        if on_progress:
            on_progress(len(answers), len(texts))
    return answers


@dataclass
class Examples:
    """What step 2 made: SFT examples, DPO pairs and how many answers were dropped."""

    sft: list[SFTExample]
    pairs: list[PreferencePair]
    dropped: dict[str, int]


def make_examples(sets: PromptSets, answers: dict[str, list[str]], dpo_harmful: int, seed: int) -> Examples:
    """Step 2's records from the prompt sets and the model's answers (``answers[kind][i]`` answers
    ``sets.train[kind][i]``; harmful answers cover the first ``dpo_harmful`` harmful prompts)."""
    rng = random.Random(seed)  # noqa: S311 (reproducible refusal wording)
    sft, pairs, dropped = [], [], {"benign_refused": 0, "harmful_already_refused": 0}
    for i, p in enumerate(sets.train["harmful"]):
        chosen = refusal(p.text, rng)
        sft.append(SFTExample(prompt=to_messages(p.text), completion=chosen, source=p.source))
        if i < dpo_harmful:
            own = trim_answer(answers["harmful"][i])
            if refuses(own) or not own:
                dropped["harmful_already_refused"] += 1
                continue
            pairs.append(PreferencePair(prompt=to_messages(p.text), chosen=chosen, rejected=own, source=p.source))
    for kind in ("benign", "lookalike"):
        for p, raw in zip(sets.train[kind], answers[kind], strict=True):
            own = trim_answer(raw)
            if refuses(own) or not own:
                dropped["benign_refused"] += 1
                continue
            sft.append(SFTExample(prompt=to_messages(p.text), completion=own, source=p.source))
            pairs.append(
                PreferencePair(prompt=to_messages(p.text), chosen=own, rejected=refusal(p.text, rng), source=p.source)
            )
    random.Random(seed).shuffle(sft)  # noqa: S311
    random.Random(seed + 1).shuffle(pairs)  # noqa: S311
    return Examples(sft, pairs, dropped)


def heldout_rates(
    model: Any, sets: PromptSets, max_tokens: int, on_progress: Progress | None = None
) -> dict[str, dict[str, Any]]:
    """Step 5: the share of held-out prompts of each kind the model refuses, with 95% intervals."""
    prompts = [p for kind in KINDS for p in sets.heldout[kind]]
    answers = iter(generate(model, prompts, max_tokens, on_progress))
    rates: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        hits = sum(refuses(next(answers)) for _ in sets.heldout[kind])
        rates[kind] = Rate(hits, len(sets.heldout[kind])).to_dict()
    return rates


def align_model(
    model: Any,
    data: Path,
    out: Path,
    config: AlignConfig,
    *,
    probe_texts: Sequence[str],
    on_stage: Stage | None = None,
    on_log: OnLog | None = None,
    on_progress: Progress | None = None,
) -> dict[str, Any]:
    """Run the recipe on ``model`` (an ``HFModel``, trained in place) and save the result to ``out``
    (which must not exist yet). ``probe_texts``: the evaluation's prompts, kept out of training.
    ``on_stage``, ``on_log`` (training steps) and ``on_progress`` (answers generated) report progress.
    Returns the manifest written to ``out/align.json``."""
    out = Path(out)
    if out.exists():
        raise ConfigError(f"{out} already exists; choose a new --out folder or remove it first")
    stage = on_stage or (lambda _: None)
    times: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        times[name] = round(time.perf_counter() - clock, 1)
        clock = time.perf_counter()

    # 1. Prompts: sampled per kind, probe near-duplicates dropped, some held out.
    stage("prompts")
    sets = build_prompt_sets(data, config.sizes(), config.heldout, probe_texts, config.seed)
    lap("prompts")
    stage("held-out check, before")
    before = heldout_rates(model, sets, config.heldout_tokens, on_progress) if config.heldout else {}
    lap("heldout_before")
    # 2. Answers: the model's own, and refusals.
    stage("answers")
    todo = {
        "harmful": sets.train["harmful"][: config.dpo_harmful],
        "benign": sets.train["benign"],
        "lookalike": sets.train["lookalike"],
    }
    got = iter(generate(model, [p for ps in todo.values() for p in ps], config.answer_tokens, on_progress))
    answers = {kind: [next(got) for _ in ps] for kind, ps in todo.items()}
    examples = make_examples(sets, answers, config.dpo_harmful, config.seed)
    lap("answers")
    work = out.parent / f".{out.name}.tmp-{time.time_ns()}"
    try:
        stats = _train(model, examples, config, work, stage, on_log, times)
        clock = time.perf_counter()  # _train timed its own steps
        # 5. Held-out check after training.
        model.model.eval()
        stage("held-out check, after")
        after = heldout_rates(model, sets, config.heldout_tokens, on_progress) if config.heldout else {}
        lap("heldout_after")
        manifest = _manifest(config, sets, examples, stats, before, after, times)
        final = work / "model"
        write_text_atomic(final / "align.json", json.dumps(manifest, indent=2) + "\n")
        final.rename(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return manifest


def _train(
    model: Any,
    examples: Examples,
    config: AlignConfig,
    work: Path,
    stage: Stage,
    on_log: OnLog | None,
    times: dict[str, float],
) -> dict[str, Any]:
    """Steps 3 and 4; the last trained model is saved to ``work/model``."""
    stats: dict[str, Any] = {}
    if config.sft_epochs > 0:
        # 3. SFT: refusals for harmful prompts, the model's own answers for the rest.
        stage("sft")
        start = time.perf_counter()
        target = work / ("sft" if config.dpo_epochs > 0 else "model")
        sft_cfg = TrainConfig(
            target,
            config.sft_learning_rate,
            batch_size=config.batch_size,
            epochs=config.sft_epochs,
            max_length=config.max_length,
            seed=config.seed,
        )
        stats["sft"] = _brief(train_sft(model, examples.sft, sft_cfg, on_log=on_log))
        shutil.rmtree(work / "sft", ignore_errors=True)
        times["sft"] = round(time.perf_counter() - start, 1)
    if config.dpo_epochs > 0:
        # 4. DPO from the SFT model (the reference is a frozen copy of it).
        stage("dpo")
        start = time.perf_counter()
        if not examples.pairs:
            raise ConfigError("no DPO pairs were made (every generated answer was dropped); see align.json")
        dpo_cfg = DPOTrainConfig(
            work / "model",
            config.dpo_learning_rate,
            batch_size=config.batch_size,
            epochs=config.dpo_epochs,
            max_length=config.max_length,
            seed=config.seed,
            beta=config.dpo_beta,
        )
        stats["dpo"] = _brief(train_dpo(model, examples.pairs, dpo_cfg, on_log=on_log))
        times["dpo"] = round(time.perf_counter() - start, 1)
    return stats


def _brief(stats: dict[str, Any]) -> dict[str, Any]:
    """Training statistics without the per-step history (kept in alignkit-train.json)."""
    curves = stats.get("curves", {})
    first_last = {
        k: [v[0], v[-1]] for k, v in curves.items() if v and k in ("loss", "rewards/accuracies", "rewards/margins")
    }
    keep = ("method", "steps", "seconds", "train_loss", "examples", "pairs", "dropped")
    return {k: stats[k] for k in keep if k in stats} | {"first_last": first_last}


def _manifest(
    config: AlignConfig,
    sets: PromptSets,
    examples: Examples,
    stats: dict[str, Any],
    before: dict[str, Any],
    after: dict[str, Any],
    times: dict[str, float],
) -> dict[str, Any]:
    return {
        "recipe": "alignkit.align (SFT then DPO)",
        "config": asdict(config),
        "training_sources": sets.sources(),
        "available_after_dedupe": sets.available,
        "probe_near_duplicates_dropped": [asdict(m) for m in sets.dropped],
        "examples": {"sft": len(examples.sft), "dpo_pairs": len(examples.pairs), "dropped": examples.dropped},
        "training": stats,
        "heldout_refusal": {"before": before, "after": after, "check": "alignkit.align.recipe.refuses"},
        "seconds": times | {"total": round(sum(times.values()), 1)},
    }
