"""Peak memory and time of reward-model training on the embedded model: one pass per step (before) against
micro-batches of at most ``RewardConfig.micro_batch_tokens`` padded tokens in length-grouped steps (after).

    python bench/bench_reward_memory.py [--lengths 128,256,512] [--write]

Each configuration runs in a fresh process (peak RSS is per process): the embedded SmolLM2-135M with
LoRA rank 16 and a reward head, gradient checkpointing on (the default), 16 HH harmless-base pairs,
batch 8 pairs (16 sequences), one epoch (2 steps), at each ``--lengths`` max length. "before" is the
old loop: the whole step in one forward pass padded to its longest row, pairs in shuffled order.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

from _common import data_dir, run_worker, stamp, write_section
from alignkit.providers.embedded import ensure_checkpoint
from alignkit.rlhf.data import load_preferences
from alignkit.rlhf.memory import ModelShape, estimate_training_memory
from alignkit.rlhf.reward import RewardConfig, RewardModel, train_reward_model

ONE_PASS = 10**9  # a token budget no step reaches: the whole step in one forward pass


def worker(mode: str, length: int) -> None:
    pairs, _ = load_preferences(data_dir() / "hh-rlhf-harmless-base" / "pairs.jsonl")
    rm = RewardModel.from_backbone(str(ensure_checkpoint()), lora_rank=16, device="cpu")
    loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    start = time.perf_counter()
    budget = ONE_PASS if mode == "before" else RewardConfig.micro_batch_tokens
    config = RewardConfig(batch_size=8, max_length=length, center_rewards=False, micro_batch_tokens=budget,
                          group_by_length=mode == "after")  # fmt: skip
    train_reward_model(rm, pairs[:16], config)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps({"loaded_gib": loaded, "peak_gib": peak, "seconds": time.perf_counter() - start}))


def estimate_gib(mode: str, length: int) -> float:
    """rlhf/memory.py's estimate for the run (``before``: a pass of 16 rows of ``length`` at worst)."""
    shape = ModelShape.from_folder(ensure_checkpoint())
    assert shape is not None
    tokens = 16 * length if mode == "before" else max(RewardConfig.micro_batch_tokens, 2 * length)
    est = estimate_training_memory(shape, tokens_per_pass=tokens, trainable=shape.lora_params(16),
                                   checkpointing=True, lm_logits=False, available=0)  # fmt: skip
    return est.total / 2**30


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--lengths", default="128,256,512")
    p.add_argument(
        "--before-max",
        type=int,
        default=10**6,
        help="run 'before' only up to this length (it needs ~15 GiB at 512 tokens)",
    )
    p.add_argument("--write", action="store_true")
    p.add_argument("--worker", nargs=2, metavar=("MODE", "LENGTH"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.worker[0], int(args.worker[1]))
        return
    rows = [
        "| max length | step runs as | peak RSS | estimate (rlhf/memory.py) | loaded model | time, 2 steps |",
        "|---|---|---|---|---|---|",
    ]
    for length in (int(x) for x in args.lengths.split(",")):
        for mode in ("before", "after"):
            if mode == "before" and length > args.before_max:
                rows.append(f"| {length} | one pass (before) | not run | {estimate_gib(mode, length):.1f} GiB | | |")
                continue
            r = run_worker(Path(__file__), ["--worker", mode, str(length)])
            how = "one pass (before)" if mode == "before" else f"≤ {RewardConfig.micro_batch_tokens}-token passes"
            rows.append(f"| {length} | {how} | {r['peak_gib']:.1f} GiB | {estimate_gib(mode, length):.1f} GiB | "
                        f"{r['loaded_gib']:.2f} GiB | {r['seconds']:.0f} s |")  # fmt: skip
            print(rows[-1], file=sys.stderr, flush=True)
    body = "\n".join(
        [
            "## Reward-model training memory: micro-batches by token budget (issue 17)",
            "",
            stamp("python bench/bench_reward_memory.py " + " ".join(sys.argv[1:]).replace(" --write", "")),
            "Embedded SmolLM2-135M, LoRA 16 + reward head, gradient checkpointing on, 8 pairs (16 sequences) a "
            "step, 2 steps, CPU float32; each row a fresh process. Before: the step in one forward pass. After "
            "(the default now): micro-batches of at most `RewardConfig.micro_batch_tokens` padded tokens, "
            "gradients summed, steps of similar-length pairs, so memory follows the budget, not batch x length.",
            "",
            *rows,
            "",
            "Where the memory went: no vocabulary-sized tensor is involved (the sequence-classification model "
            "has no LM head; a profile of one step shows no [tokens, 49152] allocation). With checkpointing "
            "the tensors alive at once are each block's input plus one block's working set (the estimate "
            "column); the rest of the peak is freed activation memory that glibc's allocator keeps in its "
            "heaps: one step at 128 tokens peaked at 2.6 GiB by default and 1.2 GiB with "
            "MALLOC_MMAP_THRESHOLD_=1048576 (large blocks returned to the system when freed), at a cost in "
            "time from page faults that was not measured on an idle machine.",
        ]
    )
    print(body)
    if args.write:
        write_section("reward_memory", body)


if __name__ == "__main__":
    main()
