"""Bias before and after a small DPO run on counterfactually augmented data, on the embedded model.

1. Data: HH harmless-base pairs whose text the gender swap touches (terms ``gender`` + ``gender_names``),
   shuffled with a fixed seed; the first ``--train-pairs`` are augmented with ``alignkit.bias.augment``
   (each pair plus its gender-swapped copy, labels kept) and trained on; the first human turns of the
   next ``--cf`` touched pairs are the counterfactual prompts (held out from training, same source).
2. Before: BBQ (``--bbq`` questions per category, balanced strata), WinoBias (``--wino`` aligned pairs
   per type, test split), the counterfactual comparison (female vs male versions of each prompt:
   refusal, VADER sentiment, toxicity, length), and the helpfulness side: refusal rate and answer
   length on ``--benign`` self-instruct instructions.
3. DPO (``alignkit.rlhf.trl_methods.train_dpo``) from the embedded model on the augmented pairs.
4. After: the same evaluations on the trained policy, plus the win rate of its benign answers against
   the start's, judged by the embedded model asked in both orders (``rlhf.evaluate.grade_pairs``).

    OMP_NUM_THREADS=1 nice -n 10 python bench/bench_bias.py --write

(Run with one torch thread on a machine shared with other jobs.)
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, benign_instructions, data_dir, stamp, write_section
from alignkit.bias import (
    evaluate_bbq,
    evaluate_counterfactuals,
    evaluate_winobias,
    load_bbq,
    load_terms,
    load_winobias,
    sample_pairs,
    stratified_sample,
    vader,
)
from alignkit.bias.augment import AugmentStats, augment_rows
from alignkit.bias.report import fmt, interval
from alignkit.bias.terms import Swapper
from alignkit.core.config import GenerateConfig
from alignkit.core.jsonl import iter_json_objects, write_jsonl
from alignkit.core.model import Model
from alignkit.detectors import get_detector
from alignkit.providers import get_model
from alignkit.providers.embedded import ensure_checkpoint
from alignkit.rlhf.data import load_preferences, parse_hh
from alignkit.rlhf.evaluate import grade_pairs
from alignkit.rlhf.trl_config import DPOTrainConfig
from alignkit.rlhf.trl_methods import train_dpo

OUT = REPO / "bench" / "out" / "bias"


def split_data(
    swapper: Swapper, n_train: int, n_cf: int, seed: int
) -> tuple[list[tuple[int, dict[str, Any]]], list[str]]:
    """Touched HH rows for training, and held-out first human turns for the counterfactual prompts."""
    path = data_dir() / "hh-rlhf-harmless-base" / "pairs.jsonl"
    if not path.exists():
        sys.exit(f"benchmark data missing: {path} (set ALIGNKIT_DATA to the shared data folder)")
    touched = [
        (n, row)
        for n, row in iter_json_objects(path)
        if swapper.swap(row["prompt"] + row["chosen"] + row["rejected"]).changed
    ]
    random.Random(seed).shuffle(touched)
    train = touched[:n_train]
    prompts = []
    for _, row in touched[n_train:]:
        first = parse_hh(row["prompt"])[0].content
        if swapper.swap(first).changed and len(first) < 400:
            prompts.append(first)
        if len(prompts) == n_cf:
            break
    return train, prompts


def evaluate(
    model: Model, args: argparse.Namespace, prompts: list[str], benign: list[str], swapper: Swapper
) -> dict[str, Any]:
    """Every measure on one model, with the time each took."""
    root, times, out = data_dir(), {}, {}
    t = time.perf_counter()
    items = stratified_sample(load_bbq(root / "bbq"), args.bbq, args.seed)
    out["bbq"] = evaluate_bbq(model, items, seed=args.seed, rotate=args.rotate)
    times["bbq"] = time.perf_counter() - t
    log(f"BBQ: {len(items)} questions in {times['bbq']:.0f} s")
    t = time.perf_counter()
    wino, skipped = load_winobias(root / "winobias", seed=args.seed)
    out["winobias"] = evaluate_winobias(
        model, sample_pairs(wino, args.wino, args.seed), skipped=skipped, seed=args.seed, rotate=args.rotate
    )
    times["winobias"] = time.perf_counter() - t
    log(f"WinoBias in {times['winobias']:.0f} s")
    t = time.perf_counter()
    refusal = get_detector("refusal")
    out["counterfactual"] = evaluate_counterfactuals(
        model,
        prompts,
        swapper,
        refusal=refusal,
        toxicity=get_detector("toxicity"),
        sentiment=vader(),
        config=GenerateConfig(max_tokens=args.max_tokens),
        seed=args.seed,
    )
    times["counterfactual"] = time.perf_counter() - t
    log(f"counterfactual in {times['counterfactual']:.0f} s")
    t = time.perf_counter()
    answers = [
        c.text for c in model.generate_batch(benign, GenerateConfig(temperature=0.0, max_tokens=args.max_tokens))
    ]
    out["benign_answers"] = answers
    out["benign_refusal"] = sum(v.flagged for v in refusal.detect_batch(answers)) / len(answers)
    out["benign_words"] = sum(len(a.split()) for a in answers) / len(answers)
    times["benign"] = time.perf_counter() - t
    out["times"] = times
    log(f"evaluated {model.info.spec}: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items()))
    return out


def log(message: str) -> None:
    """Progress on stderr, so a long run can be followed."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def letter_shares(result: Any) -> str:
    """How often each option letter was picked (position bias shows as one letter dominating)."""
    picks = [p.index for _, p in result.picks]
    return " / ".join(f"{'ABC'[i]} {picks.count(i) / len(picks):.2f}" for i in range(3))


def summary(r: dict[str, Any]) -> dict[str, Any]:
    """The JSON-able figures of one evaluation."""
    return {
        "bbq": r["bbq"].to_dict(),
        "winobias": r["winobias"].to_dict(),
        "counterfactual": r["counterfactual"].to_dict(answers=False),
        "benign_refusal": r["benign_refusal"],
        "benign_words": r["benign_words"],
        "times": r["times"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bbq", type=int, default=24, help="BBQ questions per category")
    ap.add_argument("--wino", type=int, default=24, help="WinoBias aligned pairs per type")
    ap.add_argument("--cf", type=int, default=40, help="counterfactual prompts")
    ap.add_argument("--benign", type=int, default=24, help="benign instructions for the helpfulness side")
    ap.add_argument("--train-pairs", type=int, default=48, help="HH pairs augmented (x2) for DPO")
    ap.add_argument("--steps", type=int, default=24, help="DPO optimizer steps")
    ap.add_argument("--lr", type=float, default=None, help="DPO learning rate (default: trl's, 1e-6)")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rotate", action="store_true", help="ask every rotation of the options (position cancelled)")
    ap.add_argument("--write", action="store_true", help="write the section into bench/RESULTS.md")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    swapper = Swapper(load_terms(["gender", "gender_names"])["gender"], "female", "male")
    train_rows, prompts = split_data(swapper, args.train_pairs, args.cf, args.seed)
    stats = AugmentStats()
    augmented = OUT / "train_augmented.jsonl"
    write_jsonl(augmented, list(augment_rows(train_rows, [swapper], stats)))
    pairs, report = load_preferences(augmented)
    benign = benign_instructions(args.benign)
    start = time.perf_counter()
    base = get_model("smollm2")
    before = evaluate(base, args, prompts, benign, swapper)
    t = time.perf_counter()
    config = DPOTrainConfig(
        output_dir=OUT / "policy",
        batch_size=4,
        max_steps=args.steps,
        max_length=256,
        seed=args.seed,
        learning_rate=args.lr,
    )
    dpo = train_dpo(str(ensure_checkpoint()), pairs, config)
    train_s = time.perf_counter() - t
    log(f"DPO: {len(pairs)} pairs, {args.steps} steps in {train_s:.0f} s")
    after = evaluate(get_model(f"hf/{OUT / 'policy'}"), args, prompts, benign, swapper)
    t = time.perf_counter()
    wins = grade_pairs(base, benign, after["benign_answers"], before["benign_answers"])
    grade_s = time.perf_counter() - t
    result = {
        "args": vars(args),
        "augment": stats.to_dict(),
        "import": {"kept": report.kept, "dropped": report.dropped},
        "dpo": {k: v for k, v in dpo.items() if k != "log_history"},
        "train_s": train_s,
        "before": summary(before),
        "after": summary(after),
        "win_rate_after": sum(wins) / len(wins),
        "grade_s": grade_s,
        "total_s": time.perf_counter() - start,
    }
    (OUT / "result.json").write_text(json.dumps(result, indent=1, default=str))
    text = section(args, result, before, after)
    print(text)
    if args.write:
        write_section("bias", text)


def _cf_rows(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    rows = []
    for name in ("refusal", "sentiment", "toxicity", "words"):
        b, a = before["counterfactual"].measures[name], after["counterfactual"].measures[name]
        digits = 1 if name == "words" else 3
        rows.append(
            f"| counterfactual {name}: male - female | {interval(b.difference, digits)} (p {fmt(b.p_value, 3)}) "
            f"| {interval(a.difference, digits)} (p {fmt(a.p_value, 3)}) |"
        )
    return rows


def section(args: argparse.Namespace, r: dict[str, Any], before: dict[str, Any], after: dict[str, Any]) -> str:
    """The RESULTS.md section."""
    cmd = (
        "OMP_NUM_THREADS=1 nice -n 10 python bench/bench_bias.py "
        + " ".join(
            f"--{k.replace('_', '-')}" + ("" if v is True else f" {v}")
            for k, v in vars(args).items()
            if k != "write" and v is not False
        )
        + " --write"
    )
    rows = ["| measure | before (embedded) | after (DPO on augmented pairs) |", "|---|---|---|"]
    for cat in before["bbq"].categories:
        b, a = before["bbq"].categories[cat], after["bbq"].categories[cat]
        rows.append(
            f"| BBQ {cat}: acc amb / s_AMB | {fmt(b['ambiguous'].accuracy.value)} / "
            f"{interval(b['ambiguous'].bias_score)} | {fmt(a['ambiguous'].accuracy.value)} / "
            f"{interval(a['ambiguous'].bias_score)} |"
        )
        rows.append(
            f"| BBQ {cat}: acc dis / s_DIS | {fmt(b['disambiguated'].accuracy.value)} / "
            f"{interval(b['disambiguated'].bias_score)} | {fmt(a['disambiguated'].accuracy.value)} / "
            f"{interval(a['disambiguated'].bias_score)} |"
        )
    for t in ("type1", "type2", "all"):
        b, a = before["winobias"].types[t], after["winobias"].types[t]
        rows.append(
            f"| WinoBias {t}: pro / anti / gap | {fmt(b.pro.value)} / {fmt(b.anti.value)} / "
            f"{interval(b.gap.difference)} | {fmt(a.pro.value)} / {fmt(a.anti.value)} / "
            f"{interval(a.gap.difference)} |"
        )
    rows.append(f"| BBQ option picked: A / B / C | {letter_shares(before['bbq'])} | {letter_shares(after['bbq'])} |")
    rows += _cf_rows(before, after)
    rows.append(
        f"| benign instructions: refusal rate | {fmt(before['benign_refusal'])} | {fmt(after['benign_refusal'])} |"
    )
    rows.append(
        f"| benign instructions: mean words | {fmt(before['benign_words'], 1)} | {fmt(after['benign_words'], 1)} |"
    )
    rows.append(f"| benign: win rate of after vs before (embedded judge, both orders) | | {fmt(r['win_rate_after'])} |")
    cf = before["counterfactual"]
    times = ", ".join(f"{k} {v:.0f} s" for k, v in before["times"].items())
    return "\n".join(
        [
            "## Bias: BBQ, WinoBias and counterfactual gaps before and after DPO on augmented data (issue 15)",
            "",
            stamp(cmd),
            "",
            f"Model: the embedded SmolLM2-135M-Instruct (CPU, float32). BBQ: {args.bbq} questions per category "
            f"(6 categories present in the data, balanced across ambiguous/disambiguated x negative/non-negative), "
            f"answers read by {before['bbq'].methods} before and {after['bbq'].methods} after. WinoBias: {args.wino} "
            f"aligned pro/anti pairs per type (test split). Counterfactual: {cf.prompts} first human turns of HH "
            f"harmless-base pairs that mention gender (held out from training; {cf.measured} pairs measured, "
            f"{cf.untouched} untouched, {cf.mixed} mixed), female and male versions, greedy, {args.max_tokens} tokens; "
            f"differences are male minus female with paired-bootstrap 95% intervals. Helpfulness: {args.benign} "
            f"self-instruct instructions.",
            "",
            f"Training: {r['augment']['rows']} HH pairs that mention gender, augmented to {r['augment']['written']} "
            f"(each plus its female<->male swap, labels kept); DPO (trl, beta 0.1, learning rate "
            f"{args.lr if args.lr else 'trl default 1e-6'}) {args.steps} steps of batch 4, "
            f"max length 256: {r['train_s']:.0f} s, final stats {json.dumps({k: r['dpo'][k] for k in r['dpo'] if 'loss' in k or 'reward' in k}, default=str)}. "
            f"Evaluation times (before): {times}; whole run {r['total_s'] / 60:.1f} min.",
            "",
            *rows,
            "",
            "Read with care. "
            + (
                "Position: every rotation of the options was asked and the votes combined (--rotate), so a "
                "preference for a letter cancels; a model answering by position alone names no option (unparseable). "
                if args.rotate
                else f"Position: the BBQ answers picked the options in the shares {letter_shares(before['bbq'])} "
                "(before), so BBQ accuracy and bias scores here mostly say which option BBQ happened to put "
                "first, not what the model believes about groups; WinoBias (two options in a seeded order) is "
                "affected the same way (--rotate cancels it). "
            )
            + "Intervals are wide at these sample sizes, and one that includes 0 is no "
            "evidence of absence. Training: the DPO pairs are harmlessness pairs, not bias data; augmentation "
            "balances which gender they mention, it does not teach BBQ's task"
            + (
                ", and trl's default DPO learning rate (1e-6) over a few steps moves a model little, so an "
                "unchanged score after training is the expected outcome at this size, not a finding about "
                "augmentation. "
                if not args.lr
                else ". "
            )
            + "The counterfactual prompts come "
            "from the same source as the training pairs (held-out rows). The win rate is judged by the 135M "
            "model itself; a judge that always picks the same position scores exactly 0.5 after both orders.",
        ]
    )


if __name__ == "__main__":
    main()
