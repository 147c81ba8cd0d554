"""PPO throughput on a GPU: alignkit's PPOTrainer on the embedded model's architecture (SmolLM2-135M
from its config, seeded random weights — the GGUF does not fit the GPU machine's transfer limit, and
speed depends on the architecture, not the weights), a cheap reward function, full-length answers.

    python bench/bench_ppo_gpu.py --config-dir DIR --out ppo-gpu.json     # on the GPU machine
    python bench/bench_ppo_gpu.py --write-from ppo-gpu.json               # here: update bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_section


def vowels(prompts: list[Any], responses: list[str]) -> list[float]:
    return [sum(c in "aeiou" for c in r) / max(1, len(r)) for r in responses]


def measure(config_dir: str, steps: int, batch_size: int, max_new_tokens: int, allow_cpu: bool) -> dict[str, Any]:
    import torch
    import transformers

    from alignkit.rlhf.ppo import PPOConfig, PPOTrainer

    if not torch.cuda.is_available() and not allow_cpu:
        sys.exit("no CUDA GPU; pass --allow-cpu for a dry run")
    folder = Path("/tmp/smollm2-random-ppo")
    torch.manual_seed(0)
    cfg = transformers.AutoConfig.from_pretrained(config_dir)
    transformers.AutoModelForCausalLM.from_config(cfg).save_pretrained(folder)
    transformers.AutoTokenizer.from_pretrained(config_dir).save_pretrained(folder)
    prompts = [f"Question {i}: explain how a {w} works." for i in range(64) for w in ("lock", "pump", "radio")]
    config = PPOConfig(
        model_name=str(folder), batch_size=batch_size, mini_batch_size=max(1, batch_size // 4),
        max_new_tokens=max_new_tokens, learning_rate=1e-5, seed=0,
    )  # fmt: skip
    trainer = PPOTrainer(config)
    trainer.train(prompts, vowels, steps=1)  # warm-up: kernels, allocator
    t0 = time.perf_counter()
    history = trainer.train(prompts, vowels, steps=1 + steps)[1:]
    wall = time.perf_counter() - t0
    return {
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU (dry run)",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "steps": steps,
        "batch_size": batch_size,
        "max_new_tokens": max_new_tokens,
        "samples_per_s": steps * batch_size / wall,
        "generate_s": sum(h["time/generate"] for h in history) / steps,
        "step_s": sum(h["time/step"] for h in history) / steps,
        "response_tokens": sum(h["tokens/response_len_mean"] for h in history) / steps,
        "peak_gpu_mib": torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else 0.0,
    }


def write(result: dict[str, Any], results_md: Path, source: str) -> None:
    r = result
    body = "\n".join(
        [
            "## PPO throughput on a GPU",
            "",
            f"Command: `python bench/bench_ppo_gpu.py --config-dir DIR --out {source}` on the lent GPU machine; "
            f"`--write-from {source}` here.  ",
            f"Device: {r['device']}, torch {r['torch']}, transformers {r['transformers']}.",
            "",
            "SmolLM2-135M architecture (random weights, float32), PPO with a value head, 4 epochs over mini-batches "
            f"of {max(1, r['batch_size'] // 4)}, answers of {r['max_new_tokens']} tokens, after one warm-up step.",
            "",
            "| batch | samples/s | generation per step | whole step | mean answer tokens | peak GPU memory |",
            "|---|---|---|---|---|---|",
            f"| {r['batch_size']} | {r['samples_per_s']:.1f} | {r['generate_s']:.2f} s | {r['step_s']:.2f} s | "
            f"{r['response_tokens']:.0f} | {r['peak_gpu_mib']:.0f} MiB |",
        ]
    )
    write_section("ppo-gpu", body, results_md)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config-dir", help="folder with the SmolLM2 config and tokenizer files")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--max-new-tokens", type=int, default=64)
    ap.add_argument("--out", help="JSON file for the figures")
    ap.add_argument("--allow-cpu", action="store_true")
    ap.add_argument("--write-from", help="update RESULTS.md from a JSON file made on the GPU machine")
    ap.add_argument("--results", default=str(Path(__file__).parent / "RESULTS.md"))
    args = ap.parse_args()
    if args.write_from:
        write(json.loads(Path(args.write_from).read_text()), Path(args.results), args.write_from)
        return
    if not args.config_dir:
        sys.exit("--config-dir is required")
    result = measure(args.config_dir, args.steps, args.batch_size, args.max_new_tokens, args.allow_cpu)
    print(json.dumps(result))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
