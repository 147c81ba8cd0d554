"""The RLHF demo's figures (`alignkit rlhf demo`): reward-model accuracy on held-out HH pairs, PPO reward
and KL, win rate against the start, the wall time of each stage, into bench/RESULTS.md.

    python bench/bench_rlhf_demo.py --out rlhf-demo --write           # runs the demo, then writes
    python bench/bench_rlhf_demo.py --from rlhf-demo --write          # writes from a finished demo folder
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import stamp, write_section


def section(folder: Path, wall: float | None, command: str) -> str:
    r = json.loads((folder / "results.json").read_text())
    rm, ppo, ev, sz = r["reward_model"], r["ppo"], r["evaluation"], r["sizes"]
    lines = [
        "## RLHF demo: HH reward model, then PPO on the embedded model",
        "",
        stamp(command),
        f"`alignkit rlhf demo` (the sizes in `alignkit.rlhf.demo.DemoConfig`): a reward model on "
        f"{sz['train_pairs']} HH harmless-base pairs (top {sz['rm_layers']} blocks of SmolLM2-135M-Instruct + a "
        f"head, conversations cut to {sz['rm_max_length']} tokens), then {sz['ppo_steps']} PPO steps of "
        f"{sz['batch_size']} HH red-team prompts against it (value head, {sz['ppo_epochs']} epochs over mini-batches "
        f"of {sz['mini_batch_size']}, lr {sz['lr']}, β {sz['kl_coef']}, temperature {sz.get('temperature', 1.0)}, "
        f"{sz['max_new_tokens']} new tokens), then {ev['n']} held-out prompts answered by both models.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| reward model: held-out pairwise accuracy ({sz['eval_pairs']} pairs) | "
        f"{rm['held_out_before']['pairwise_accuracy']:.3f} untrained → {rm['held_out_after']['pairwise_accuracy']:.3f}"
        f" (ECE {rm['held_out_after']['ece']:.3f}); {rm['seconds']:.0f} s of training |",
        f"| PPO: mean reward, first → last quarter of the steps | {ppo['reward_first_quarter']:+.3f} → "
        f"{ppo['reward_last_quarter']:+.3f} |",
        f"| PPO: KL to the start at the last step | {ppo['kl_last']:.2f} nats |",
        f"| PPO: time, samples/s | {ppo['seconds']:.0f} s, {ppo['samples_per_s']:.2f} |",
        f"| held-out prompts: reward of the start → the PPO policy | {ev['reward_reference']:+.3f} → "
        f"{ev['reward_policy']:+.3f} |",
        f"| held-out prompts: win rate against the start (reward model judges), KL | {ev['win_rate']:.2f}, "
        f"{ev['kl']:.2f} nats |",
        f"| whole demo, wall time | {(wall or r['seconds']) / 60:.1f} min |",
        "",
        "The reward model is the weak link: HH harmless-base is hard for a 135M backbone trained on a few hundred "
        "pairs on a CPU, so the policy learns what this reward model prefers, which is only loosely "
        "harmlessness; the before/after answers are in the run folder's `report.md`. On a GPU, raise the sizes.",
    ]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/out/rlhf-demo", help="run folder for a fresh demo")
    ap.add_argument("--from", dest="source", help="a finished demo folder instead of running one")
    ap.add_argument("--write", action="store_true", help="write the section into bench/RESULTS.md")
    args = ap.parse_args()
    folder, wall = Path(args.source or args.out), None
    if not args.source:
        t0 = time.perf_counter()
        alignkit = Path(sys.executable).with_name("alignkit")
        subprocess.run([str(alignkit), "rlhf", "demo", "--out", str(folder)], check=True)
        wall = time.perf_counter() - t0
    command = "alignkit rlhf demo" if args.source else "python bench/bench_rlhf_demo.py --write"
    body = section(folder, wall, command)
    print(body)
    if args.write:
        write_section("rlhf-demo", body)


if __name__ == "__main__":
    main()
