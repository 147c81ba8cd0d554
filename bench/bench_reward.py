"""Reward-model training on Anthropic HH harmless-base: alignkit's trainer against trl's RewardTrainer,
same backbone (the embedded SmolLM2-135M), same pairs, same frozen layers and hyper-parameters, each in a
fresh process. Held-out pairwise accuracy is measured with the same code for both.

Pairs are those whose chosen and rejected conversations both fit ``--max-length`` tokens (trl drops
longer ones, alignkit would cut them from the left; keeping only short ones gives both the same data).

    python bench/bench_reward.py --train-pairs 256 --eval-pairs 200 --write bench/RESULTS.md
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
from _common import data_dir, peak_rss_mib, run_worker, stamp, write_section


def select_pairs(backbone: str, n_train: int, n_eval: int, max_length: int, seed: int) -> tuple[list[Any], list[Any]]:
    from alignkit.rlhf.data import load_preferences
    from alignkit.rlhf.reward import RewardModel

    path = data_dir() / "hh-rlhf-harmless-base" / "pairs.jsonl"
    if not path.exists():
        sys.exit(f"benchmark data missing: {path} (set ALIGNKIT_DATA to the shared data folder)")
    pairs, _ = load_preferences(path)
    random.Random(seed).shuffle(pairs)
    rm = RewardModel.from_backbone(backbone, device="cpu")
    tok = rm.tokenizer
    fits = []
    for p in pairs:
        if all(len(tok(rm.render(p.prompt, a))["input_ids"]) <= max_length for a in (p.chosen, p.rejected)):
            fits.append(p)
        if len(fits) == n_train + n_eval:
            break
    if len(fits) < n_train + n_eval:
        sys.exit(f"only {len(fits)} pairs fit {max_length} tokens; lower --train-pairs/--eval-pairs or raise it")
    return fits[:n_train], fits[n_train:]


def worker(args: argparse.Namespace) -> dict[str, Any]:
    from alignkit.core.records import PreferencePair
    from alignkit.rlhf.reward import (
        RewardConfig,
        RewardModel,
        evaluate_reward_model,
        freeze_below,
        train_reward_model,
    )

    data = json.loads(Path(args.pairs).read_text())
    train = [PreferencePair.model_validate(p) for p in data["train"]]
    held_out = [PreferencePair.model_validate(p) for p in data["eval"]]
    rm = RewardModel.from_backbone(args.backbone, device="cpu")
    t0 = time.perf_counter()
    if args.worker == "alignkit":
        config = RewardConfig(learning_rate=args.lr, batch_size=args.batch_size, epochs=1, max_length=args.max_length,
                              train_layers=args.layers, center_rewards=False)  # fmt: skip
        train_reward_model(rm, train, config)
    else:
        import trl
        from datasets import Dataset

        freeze_below(rm.model, args.layers)
        rows = [
            {"prompt": [m.to_dict() for m in p.prompt], "chosen": [{"role": "assistant", "content": p.chosen}],
             "rejected": [{"role": "assistant", "content": p.rejected}]}
            for p in train
        ]  # fmt: skip
        config = trl.RewardConfig(
            output_dir=str(Path(args.pairs).parent / "trl-rm"), learning_rate=args.lr,
            per_device_train_batch_size=args.batch_size, num_train_epochs=1, max_length=args.max_length,
            use_cpu=True, report_to=[], save_strategy="no", logging_steps=10, disable_tqdm=True,
            gradient_checkpointing=False, lr_scheduler_type="constant", warmup_steps=0, seed=0,
            bf16=False, fp16=False,  # float32 like alignkit (trl may default to bf16 autocast, slow on CPUs)
        )  # fmt: skip
        trainer = trl.RewardTrainer(
            model=rm.model, args=config, train_dataset=Dataset.from_list(rows), processing_class=rm.tokenizer
        )
        trainer.train()
        if len(trainer.train_dataset) != len(train):
            raise RuntimeError(f"trl kept {len(trainer.train_dataset)} of {len(train)} pairs")
        rm.model.eval()
    seconds = time.perf_counter() - t0
    metrics = evaluate_reward_model(rm, held_out, max_length=args.max_length)
    return {"seconds": seconds, "pairs_per_s": len(train) / seconds, "peak_rss_mib": peak_rss_mib(), **metrics}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", choices=["alignkit", "trl"])
    ap.add_argument("--pairs", help="(worker) the selected pairs as JSON")
    ap.add_argument("--backbone", help="model folder (default: the embedded model's checkpoint)")
    ap.add_argument("--train-pairs", type=int, default=256)
    ap.add_argument("--eval-pairs", type=int, default=200)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4, help="top transformer blocks trained (with the head)")
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", help="write the section into this RESULTS.md")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return
    label = f"`{args.backbone}`"
    if not args.backbone:
        from alignkit.providers.embedded import ensure_checkpoint

        args.backbone, label = str(ensure_checkpoint()), "the embedded SmolLM2-135M-Instruct"
    train, held_out = select_pairs(args.backbone, args.train_pairs, args.eval_pairs, args.max_length, args.seed)
    work = Path("/tmp/alignkit-bench-reward")
    work.mkdir(exist_ok=True)
    pairs_file = work / "pairs.json"
    pairs_file.write_text(json.dumps({"train": [p.model_dump(mode="json") for p in train],
                                      "eval": [p.model_dump(mode="json") for p in held_out]}))  # fmt: skip
    common = ["--pairs", str(pairs_file), "--backbone", args.backbone, "--max-length", str(args.max_length),
              "--layers", str(args.layers), "--lr", str(args.lr), "--batch-size", str(args.batch_size)]  # fmt: skip
    results = {}
    for tool in ("alignkit", "trl"):
        results[tool] = run_worker(Path(__file__), ["--worker", tool, *common])
        print(tool, json.dumps(results[tool]), flush=True)
    a, t = results["alignkit"], results["trl"]
    import trl

    body = [
        "## Reward model on HH harmless-base (alignkit vs trl RewardTrainer)",
        "",
        stamp("python bench/bench_reward.py " + " ".join(sys.argv[1:]).replace(f" --write {args.write}", "")),
        f"Backbone: {label} (float32, CPU), top {args.layers} blocks + a scalar head "
        f"trained, the rest frozen; {len(train)} training pairs (1 epoch, batch {args.batch_size}, lr {args.lr}, "
        f"constant schedule), {len(held_out)} held-out pairs; conversations of at most {args.max_length} tokens. "
        f"trl {trl.__version__}. Accuracy: chosen scored above rejected (same evaluation code for both).",
        "",
        "| trainer | train time | pairs/s | held-out accuracy | ECE | peak RSS |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in (("alignkit", a), (f"trl {trl.__version__} RewardTrainer", t)):
        body.append(f"| {name} | {r['seconds']:.0f} s | {r['pairs_per_s']:.2f} | {r['pairwise_accuracy']:.3f} | "
                    f"{r['ece']:.3f} | {r['peak_rss_mib']:.0f} MiB |")  # fmt: skip
    body += [
        "",
        f"alignkit / trl: speed {a['pairs_per_s'] / t['pairs_per_s']:.2f}x, accuracy "
        f"{a['pairwise_accuracy'] - t['pairwise_accuracy']:+.3f}, memory {a['peak_rss_mib'] / t['peak_rss_mib']:.2f}x.",
    ]
    print("\n".join(body))
    if args.write:
        write_section("reward-model", "\n".join(body), Path(args.write))


if __name__ == "__main__":
    main()
