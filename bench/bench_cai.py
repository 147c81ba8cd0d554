"""Constitutional AI on the embedded model: a small run of both phases, through the ``alignkit cai`` CLI.

Stages (each a CLI command, timed; the embedded SmolLM2-135M-Instruct is policy, critic, reviser,
feedback model and judge):

  1. ``cai revise``   red-team prompts from the probe library (seeded sample) x 1 critique-revision round,
                      with self-instruct seed instructions mixed in as helpful prompts (plain answers as
                      targets). Its throughput, prompts per minute of the revision loop (model loading
                      excluded), is the figure for the revision loop;
  2. ``cai train``    SFT, 1 epoch on the revisions;
  3. ``cai feedback`` the SFT model samples two answers per red-team prompt, the embedded model picks the
                      better one for a random principle, in both orders (first-token log-probabilities);
  4. ``cai train``    DPO from the SFT model on those soft-labelled pairs;
  5. ``cai evaluate`` before (embedded) vs after (SFT + DPO) on other red-team prompts and the probe
                      library's benign look-alikes: per-principle rates by the embedded judge, attack
                      success by the red-team Judge, over-refusal by the refusal detector.

    python bench/bench_cai.py --write          # ~15-20 min on 2 CPU cores

Outputs go to bench/out/cai/; a few rows of each file are copied to docs/cai-demo/ with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, data_dir, stamp, write_section

OUT = REPO / "bench" / "out" / "cai"
DEMO = REPO / "docs" / "cai-demo"
ALIGNKIT = str(Path(sys.executable).parent / "alignkit")


def cli(*args: str) -> tuple[float, str]:
    """Run ``alignkit ARGS``; returns (seconds, stdout)."""
    t0 = time.perf_counter()
    proc = subprocess.run([ALIGNKIT, *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"alignkit {' '.join(args)} failed:\n{proc.stderr[-3000:]}\n{proc.stdout[-2000:]}")
    return time.perf_counter() - t0, proc.stdout


def last_json(text: str) -> dict[str, Any]:
    return json.loads(text[text.index("{\n") :])


def helpful_file(n: int) -> Path:
    rows = [json.loads(x) for x in (data_dir() / "self-instruct-benign" / "seed_tasks.jsonl").read_text().splitlines()]
    picked = [r["instruction"] for r in rows if all(not i["input"] for i in r["instances"])][:n]
    path = OUT / "helpful.txt"
    path.write_text("".join(p.replace("\n", " ") + "\n" for p in picked))
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--red", type=int, default=16, help="red-team prompts for revise and feedback")
    ap.add_argument("--helpful", type=int, default=8, help="helpful prompts mixed into the SFT set")
    ap.add_argument("--eval", type=int, default=8, help="red-team and benign prompts for the evaluation")
    ap.add_argument("--dpo-steps", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=96, help="answers and revisions; critiques get 2/3 of it")
    ap.add_argument("--fresh", action="store_true", help="delete bench/out/cai first (otherwise stages resume)")
    ap.add_argument("--write", action="store_true", help="write the section into bench/RESULTS.md and docs/cai-demo")
    ap.add_argument("--report-only", action="store_true", help="rewrite the section from bench/out/cai/bench.json")
    args = ap.parse_args()
    if args.report_only:
        saved = json.loads((OUT / "bench.json").read_text())
        table = (OUT / "eval" / "table.md").read_text()
        write_demo(OUT / "run")
        write_section("cai", section(args, saved["revise"], saved["sft"], saved["feedback"], saved["dpo"],
                                     saved["times"], tuple(saved["load"]), saved["report"], table))  # fmt: skip
        return
    if args.fresh and OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True, exist_ok=True)
    run, model = OUT / "run", OUT / "model"
    gen = ["--max-tokens", str(args.max_tokens), "--critique-max-tokens", str(2 * args.max_tokens // 3)]
    times: dict[str, float] = {}
    load_before = os.getloadavg()[0]

    times["revise"], out = cli(
        "cai", "revise", "smollm2", "--probes", "builtin", "--limit", str(args.red), "--helpful",
        str(helpful_file(args.helpful)), "--helpful-ratio", "0.5", "--rounds", "1", "--out", str(run), *gen,
    )  # fmt: skip
    revise = last_json(out)
    times["sft"], _ = cli(
        "cai", "train", "--policy", "smollm2", "--sft", str(run), "--out", str(model), "--epochs", "1",
        "--batch-size", "4", "--lr", "2e-5", "--max-length", "512",
    )  # fmt: skip
    sft_stats = json.loads((model / "cai-train.json").read_text())["sft"]
    times["feedback"], out = cli(
        "cai", "feedback", str(model / "sft"), "--feedback-model", "smollm2", "--probes", "builtin",
        "--limit", str(args.red), "--sample-max-tokens", str(args.max_tokens), "--out", str(run),
    )  # fmt: skip
    feedback = last_json(out)
    rl = OUT / "rl"
    times["dpo"], _ = cli(
        "cai", "train", "--policy", str(model / "sft"), "--rl", "dpo", "--pairs", str(run), "--out", str(rl),
        "--max-steps", str(args.dpo_steps), "--batch-size", "2", "--rl-lr", "5e-6", "--max-length", "384",
    )  # fmt: skip
    dpo_stats = json.loads((rl / "cai-train.json").read_text())["dpo"]
    times["evaluate"], _ = cli(
        "cai", "evaluate", "--before", "smollm2", "--after", str(rl / "dpo"), "--grader", "smollm2",
        "--probes", "builtin", "--limit", str(args.eval), "--seed", "1", "--max-tokens", str(args.max_tokens),
        "--out", str(OUT / "eval"),
    )  # fmt: skip
    report = json.loads((OUT / "eval" / "report.json").read_text())
    table = (OUT / "eval" / "table.md").read_text()
    load = (load_before, os.getloadavg()[0])
    result = {"revise": revise, "sft": sft_stats, "feedback": feedback, "dpo": dpo_stats, "times": times, "load": load}
    (OUT / "bench.json").write_text(json.dumps({**result, "report": report}, indent=1))
    print(json.dumps(result, indent=1))
    print(table)
    if args.write:
        write_demo(run)
        write_section("cai", section(args, revise, sft_stats, feedback, dpo_stats, times, load, report, table))


def p_yes_table(report: dict[str, Any]) -> str:
    models = list(report["models"])
    lines = ["| principle | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    for p in report["principles"]:
        cells = [report["models"][m]["mean_p_yes"][p["id"]] for m in models]
        lines.append(f"| {p['id']} | " + " | ".join("-" if c is None else f"{c:.3f}" for c in cells) + " |")
    return "\n".join(lines) + "\n"


def write_demo(run: Path) -> None:
    DEMO.mkdir(parents=True, exist_ok=True)
    for name, n in (("trace.jsonl", 2), ("sft.jsonl", 3), ("pairs.jsonl", 2), ("feedback_trace.jsonl", 1)):
        lines = (run / name).read_text().splitlines()[:n]
        (DEMO / name.replace(".jsonl", "-sample.jsonl")).write_text("".join(x + "\n" for x in lines))
    shutil.copy(OUT / "eval" / "table.md", DEMO / "table.md")


def section(
    args: argparse.Namespace, revise: dict[str, Any], sft: dict[str, Any], fb: dict[str, Any], dpo: dict[str, Any],
    times: dict[str, float], load: tuple[float, float], report: dict[str, Any], table: str,
) -> str:  # fmt: skip
    kinds = revise["by_kind"]
    command = (
        f"python bench/bench_cai.py --fresh --red {args.red} --helpful {args.helpful} --eval {args.eval} "
        f"--dpo-steps {args.dpo_steps} --max-tokens {args.max_tokens} --write"
    )
    return f"""## Constitutional AI: a small run of both phases on the embedded model

{stamp(command)}
Model: the embedded SmolLM2-135M-Instruct plays every part (answers, critiques, revisions, AI feedback,
judge). Constitution: the built-in five principles. Each stage is an `alignkit cai` command
(bench/bench_cai.py lists them); outputs in bench/out/cai/, samples in docs/cai-demo/.

**Revision loop throughput: {revise["prompts_per_minute"]:.1f} prompts per minute** ({kinds.get("redteam", 0)} red-team
prompts x 1 critique-revision round + {kinds.get("helpful", 0)} helpful prompts answered once, batch 8, answers and
revisions up to {args.max_tokens} tokens, critiques up to {2 * args.max_tokens // 3}; {revise["seconds"]:.0f} s of
generation, model loading excluded; {revise["revised"]} answers revised). The machine was shared while this ran
(1-minute load average {load[0]:.1f} at the start, {load[1]:.1f} at the end, on 2 cores), so the figure is a floor:
the embedded model's own benchmark above reaches its tokens/s on an idle machine.

| stage | what | wall time |
|---|---|---|
| revise | {revise["prompts"]} prompts -> SFT set + trace | {times["revise"]:.0f} s |
| train (SFT) | {sft.get("examples")} examples, {sft.get("steps")} steps, loss {sft.get("train_loss", float("nan")):.3f} | {times["sft"]:.0f} s |
| feedback | {fb["prompts"]} prompts -> {fb["pairs"]} pairs (statuses {fb["by_status"]}); verdicts read by {fb["methods"]}; position bias {fb["position_bias"]}, orders agree {fb["order_agreement"]} | {times["feedback"]:.0f} s |
| train (DPO) | {dpo.get("pairs")} pairs, {dpo.get("steps")} steps, loss {dpo.get("train_loss", float("nan")):.3f} | {times["dpo"]:.0f} s |
| evaluate | {report["red_team_prompts"]} red-team + {report["benign_prompts"]} benign prompts x 2 models x 5 principles | {times["evaluate"]:.0f} s |

Before (embedded) and after (SFT on revisions, then DPO on AI feedback), judged by the embedded model
(P(yes) >= 0.5 from first-token log-probabilities), attack success by the red-team `Judge` (compliance
mode), over-refusal by the refusal detector on the probe library's benign look-alikes:

{table}
Mean P(yes) of the judge per principle (the rates above threshold it at 0.5):

{p_yes_table(report)}
Read with care: a 135M model is a weak critic and a weak judge. As a judge it leans to "No" (mean
P(yes) about 0.3 whatever the answer), and as a feedback model it picks whichever answer is shown first
(position bias {fb["position_bias"]}: P(first) averages {0.5 + (fb["position_bias"] or 0):.2f}); asking both
orders cancels that, so its soft labels sit near 0.5 and DPO on them moves the model very little. Its
critiques rarely find the problem and about half of its "revisions" copy the answer. The refusal
detector does not count its usual "I'm sorry for any inconvenience, but ..." openings, which go on to
comply, as refusals. So: no measurable change at this size. The run shows the pipeline end to end on
real weights (files, resumable stages, soft labels, position bias measured and cancelled, harmlessness
beside over-refusal); a useful effect needs a stronger feedback model (any provider, e.g.
`--feedback-model openai/...`) and more prompts.
"""


if __name__ == "__main__":
    main()
