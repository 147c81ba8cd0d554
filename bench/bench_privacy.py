"""Privacy leaks with and without differential privacy, on the embedded model (LoRA SFT).

1. Data: single-turn HH harmless-base pairs with short answers, as SFT examples (prompt -> chosen),
   shuffled with a fixed seed: the first ``--members`` are trained on, the next ``--members`` are the
   non-members (same source, never trained on). Canaries (``alignkit.privacy.canaries``: 6-digit
   secrets, ``--per-count`` at each of the repetition counts 0, 1, 4, 16) are inserted into the
   training set; repetition 0 is the unseen control.
2. Runs from the embedded model, same data, LoRA rank 16, same learning rate and planned steps:
   the starting model (no training), plain SFT (trl, ``train_sft``), and DP-SGD SFT
   (``train_sft_dp``) at two epsilons (delta 1e-3 < 1/N, clipping 1.0).
3. Each model: exposure of every canary among ``--candidates`` random candidate secrets (plus the
   true one) and greedy extraction from its prefix; loss-based membership inference AUROC of the
   members against the non-members; the task metric is the non-members' answer loss (held-out SFT
   loss, nats per token); training time.

    nice -n 10 python bench/bench_privacy.py --write
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, data_dir, stamp, write_section
from alignkit.core.records import SFTExample
from alignkit.privacy.canaries import Canary, CanarySpec, insert_canaries, make_canaries
from alignkit.privacy.dp import DPConfig
from alignkit.privacy.dp_sft import train_sft_dp
from alignkit.privacy.memorization import exposure, extract, membership
from alignkit.providers.embedded import ensure_checkpoint
from alignkit.rlhf.data import load_preferences
from alignkit.rlhf.trl_config import LoraAdapterConfig, TrainConfig
from alignkit.rlhf.trl_methods import train_sft

OUT = REPO / "bench" / "out" / "privacy"


def sft_examples(n: int, seed: int, max_chars: int) -> list[SFTExample]:
    path = data_dir() / "hh-rlhf-harmless-base" / "pairs.jsonl"
    if not path.exists():
        sys.exit(f"benchmark data missing: {path} (set ALIGNKIT_DATA to the shared data folder)")
    pairs, _ = load_preferences(path)
    short = [
        SFTExample(prompt=p.prompt, completion=p.chosen)
        for p in pairs
        if len(p.prompt) == 1 and len(p.prompt[0].content) <= max_chars and 20 <= len(p.chosen) <= max_chars
    ]
    random.Random(seed).shuffle(short)
    if len(short) < n:
        sys.exit(f"only {len(short)} short single-turn examples; lower --members")
    return short[:n]


def evaluate(folder: Path, canaries: list[Canary], members: list[SFTExample], others: list[SFTExample],
             candidates: int) -> dict[str, Any]:  # fmt: skip
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, tok = AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    t0 = time.perf_counter()
    rows = []
    for c in canaries:
        row = exposure(model, tok, c, candidates=candidates, seed=1)
        row["extracted"] = extract(model, tok, c)["extracted"]
        rows.append(row)
    by: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        by.setdefault(r["repeats"], []).append(r)
    result = {
        "exposure": {k: sum(r["exposure"] for r in g) / len(g) for k, g in sorted(by.items())},
        "extracted": {k: sum(r["extracted"] for r in g) for k, g in sorted(by.items())},
        "membership": membership(model, tok, members, others, max_length=256),
        "eval_seconds": time.perf_counter() - t0,
    }
    del model
    gc.collect()
    return result


def train(
    kind: str, epsilon: float | None, data: list[SFTExample], out: Path, args: argparse.Namespace
) -> dict[str, Any]:
    lora = LoraAdapterConfig(rank=16, alpha=32, dropout=0.0)
    config = TrainConfig(output_dir=out, learning_rate=args.lr, batch_size=args.batch_size, epochs=args.epochs,
                         max_length=256, lora=lora, seed=0)  # fmt: skip
    t0 = time.perf_counter()
    if epsilon is None:
        stats = train_sft(str(ensure_checkpoint()), data, config)
    else:
        stats = train_sft_dp(str(ensure_checkpoint()), data, config, DPConfig(epsilon=epsilon, delta=1e-3))
    seconds = time.perf_counter() - t0
    gc.collect()
    return {"kind": kind, "train_seconds": seconds, "steps": stats["steps"], "privacy": stats.get("privacy")}


def table(results: list[dict[str, Any]], repeats: tuple[int, ...], max_exposure: float) -> str:
    head = ["run", "ε spent", "train s", "steps"]
    head += [f"exposure r={r}" for r in repeats] + ["extracted (r=16)", "membership AUROC", "held-out loss"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for res in results:
        eps = res["privacy"]["epsilon_spent"] if res.get("privacy") else None
        cells = [res["kind"], "∞ (no DP)" if res["kind"] == "SFT" else "-" if eps is None else f"{eps:.2f}",
                 f"{res['train_seconds']:.0f}" if res.get("train_seconds") else "-", str(res.get("steps", "-"))]  # fmt: skip
        cells += [f"{res['exposure'][r]:.2f}" for r in repeats]
        cells += [f"{res['extracted'][max(repeats)]}/{res['per_count']}", f"{res['membership']['auroc']:.3f}",
                  f"{res['membership']['non_member_loss_mean']:.3f}"]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return (
        "\n".join(lines) + f"\n\n(exposure ceiling log2 |R| = {max_exposure:.2f} bits; an unseen secret averages ~1)\n"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=24)
    ap.add_argument("--max-chars", type=int, default=150, help="Longest prompt and answer kept (characters).")
    ap.add_argument("--per-count", type=int, default=1)
    ap.add_argument("--candidates", type=int, default=50)
    ap.add_argument("--epochs", type=float, default=2.0)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--epsilons", default="8,1")
    ap.add_argument("--write", action="store_true", help="Write the section into bench/RESULTS.md.")
    args = ap.parse_args()
    examples = sft_examples(2 * args.members, seed=0, max_chars=args.max_chars)
    members, others = examples[: args.members], examples[args.members :]
    spec = CanarySpec(repeats=(0, 1, 4, 16), per_count=args.per_count, digits=6)
    canaries = make_canaries(spec, seed=0)
    data = insert_canaries(members, canaries, seed=0)
    runs: list[tuple[str, float | None]] = [("SFT", None)] + [
        (f"DP-SFT ε={e}", float(e)) for e in args.epsilons.split(",")
    ]
    results = [{"kind": "start (untrained)", "train_seconds": None, **evaluate(ensure_checkpoint(), canaries, members, others, args.candidates)}]  # fmt: skip
    print(json.dumps(results[-1], default=str), flush=True)
    for i, (kind, eps) in enumerate(runs):
        folder = OUT / f"run{i}"
        res = train(kind, eps, data, folder, args)
        res.update(evaluate(folder, canaries, members, others, args.candidates))
        results.append(res)
        print(json.dumps(res, default=str), flush=True)
    for r in results:
        r["per_count"] = args.per_count
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=1, default=str))
    body = "\n".join([
        "## Privacy: memorization with and without DP-SGD (embedded model, LoRA SFT)\n",
        stamp("nice -n 10 python bench/bench_privacy.py --write"),
        f"{args.members} HH harmless-base single-turn examples (prompt and answer <= {args.max_chars} characters) trained on ({len(data)} rows with the canaries: "
        f"{args.per_count} six-digit canary(ies) at each of 0/1/4/16 repeats), {args.members} non-members from the same "
        f"source; LoRA r=16, lr {args.lr}, {args.epochs} epochs planned at batch {args.batch_size}; DP: δ = 1e-3, "
        f"clipping 1.0, Poisson sampling. Exposure ranks each secret among {args.candidates} random candidates "
        "(so its ceiling is log2 of that, not of 10^6); membership AUROC is members' vs non-members' answer loss "
        "(0.5 = no signal); held-out loss is nats per answer token on the non-members (the task metric).\n",
        table(results, spec.repeats, math.log2(args.candidates + 1)),
    ])  # fmt: skip
    print(body)
    if args.write:
        write_section("privacy", body)


if __name__ == "__main__":
    main()
