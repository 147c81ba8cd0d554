"""The README's reward-model example, as a user runs it: ``alignkit rlhf train-reward`` on HH harmless-base
pairs, then ``alignkit rlhf eval-reward`` on 500 pairs it did not train on (held-out accuracy, time).

    python bench/bench_reward_readme.py [--variant "--lora-rank 16 --lr 3e-4"]... [--write]

The shared pairs are split once by a seeded shuffle: 500 held out, the rest the training pool (both
files under /tmp, never in the repository). Every variant runs the same command on the same pool
(``--limit 600 --max-length 128``, so 540 pairs train and 60 more form train-reward's own split) in a
fresh process; peak RSS is the child's. Same-source: train and held-out pairs both come from HH
harmless-base.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data_dir, stamp, write_section

WORK = Path("/tmp/alignkit-bench-reward-readme")
BASE = "--backbone smollm2 --limit 600 --max-length 128"
VARIANTS = ["--train-layers 4", "--lora-rank 16"]  # LoRA and top blocks, each at its default learning rate


def split(held: int, seed: int) -> tuple[Path, Path]:
    """The pool and held-out files: the shared pairs' lines, shuffled with ``seed``."""
    src = data_dir() / "hh-rlhf-harmless-base" / "pairs.jsonl"
    if not src.exists():
        sys.exit(f"benchmark data missing: {src} (set ALIGNKIT_DATA to the shared data folder)")
    lines = [x for x in src.read_text().splitlines() if x.strip()]
    random.Random(seed).shuffle(lines)
    WORK.mkdir(exist_ok=True)
    pool, held_out = WORK / "pool.jsonl", WORK / "held-out.jsonl"
    pool.write_text("\n".join(lines[held:]) + "\n")
    held_out.write_text("\n".join(lines[:held]) + "\n")
    return pool, held_out


def alignkit(args: list[str]) -> tuple[str, float, float]:
    """Run ``alignkit ARGS`` in a fresh process: its stdout, seconds, and peak RSS (GiB)."""
    exe = str(Path(sys.executable).with_name("alignkit"))
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([exe, *args], stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS
        seconds = time.perf_counter() - t0
        out.seek(0), err.seek(0)
        if status:
            raise RuntimeError(f"alignkit {' '.join(args)} failed:\n{err.read()[-3000:]}")
        return out.read(), seconds, usage.ru_maxrss / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", action="append", help="train-reward options beyond the base ones (repeatable)")
    ap.add_argument("--held-out", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    pool, held_out = split(args.held_out, args.seed)
    rows = [
        "| train-reward options | train time | peak RSS | own split (60) | held-out accuracy (500) | ECE | "
        "eval-reward time |",
        "|---|---|---|---|---|---|---|",
    ]
    for variant in args.variant or VARIANTS:
        out = WORK / "rm"
        train_args = ["rlhf", "train-reward", str(pool), "--out", str(out), *shlex.split(BASE), *shlex.split(variant)]
        _, train_s, peak = alignkit(train_args)
        own = json.loads((out / "metrics.json").read_text()).get("held_out", {}).get("pairwise_accuracy", float("nan"))
        text, eval_s, _ = alignkit(["rlhf", "eval-reward", str(out), str(held_out)])
        ev = json.loads(text[text.index("{") :])
        rows.append(f"| `{variant}` | {train_s / 60:.1f} min | {peak:.1f} GiB | {own:.3f} | "
                    f"{ev['pairwise_accuracy']:.3f} | {ev['ece']:.3f} | {eval_s:.0f} s ({ev['seconds']:.0f} s scoring) |")  # fmt: skip
        print(rows[-1], file=sys.stderr, flush=True)
        report(rows, args)


def report(rows: list[str], args: argparse.Namespace) -> None:
    """Print the section so far (and write it with --write)."""
    body = "\n".join(
        [
            "## The README's reward-model example: held-out accuracy and eval-reward time (issue 18)",
            "",
            stamp("python bench/bench_reward_readme.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])),
            f"`alignkit rlhf train-reward pool.jsonl {BASE} --out rm` plus each row's options, then "
            f"`alignkit rlhf eval-reward rm held-out.jsonl` on {args.held_out} pairs it did not train on, each a "
            "fresh process on 2 CPU cores. Pool and held-out pairs come from one seeded shuffle of the shared HH "
            "harmless-base pairs: **same-source** (one data set, disjoint pairs). Train time includes loading "
            "the model and train-reward's own 60-pair evaluation; eval-reward time includes loading.",
            "",
            *rows,
        ]
    )
    print(body)
    if args.write:
        write_section("reward-readme", body)


if __name__ == "__main__":
    main()
