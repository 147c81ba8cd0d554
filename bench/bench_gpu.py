"""The hf provider on a GPU: tokens/s at batch 1, 8 and 64, bf16 (the provider's GPU default) and float32,
against plain transformers on the same batches.

The model is the embedded model's architecture and tokenizer (SmolLM2-135M, from its config) with
seeded random weights: the 94 MB GGUF file does not fit the GPU machine's transfer limit, and speed
depends on the architecture, not on the weight values. Random weights almost never emit end-of-turn
(p ~ 1/49152 a step), so every answer runs the full --max-tokens.

    python bench/bench_gpu.py --config-dir DIR --out gpu.json       # on the GPU machine
    python bench/bench_gpu.py --write-from gpu.json                 # here: update bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_section

PROMPTS = [
    "Explain what a firewall does.",
    "Write a haiku about autumn.",
    "How do I kill a Python process that hangs?",
    "List three tips for sleeping well.",
    "What is the capital of France?",
    "Summarize the plot of Hamlet in two sentences.",
    "Give me a recipe for pancakes.",
    "Why is the sky blue?",
]


def measure(
    config_dir: str, max_tokens: int, allow_cpu: bool = False, dtypes: tuple[str, ...] = ("auto", "float32")
) -> dict[str, Any]:
    import torch
    import transformers

    from alignkit import Message, get_model
    from alignkit.providers.hf import HFModel

    def sync() -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()

    folder = Path("/tmp/smollm2-random")
    cfg = transformers.AutoConfig.from_pretrained(config_dir)
    torch.manual_seed(0)
    transformers.AutoModelForCausalLM.from_config(cfg).save_pretrained(folder)
    transformers.AutoTokenizer.from_pretrained(config_dir).save_pretrained(folder)

    out: dict[str, Any] = {
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU (dry run)",
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "max_tokens": max_tokens,
        "runs": [],
    }
    for dtype in dtypes:
        for batch in (1, 8, 64):
            m = get_model(f"hf/{folder}", batch_size=batch, dtype=dtype)
            assert isinstance(m, HFModel)
            if m.device.type != "cuda" and not allow_cpu:
                sys.exit("no CUDA device: this benchmark is for the GPU machine (--allow-cpu for a dry run)")
            prompts = (PROMPTS * (max(batch, 8) // len(PROMPTS) + 1))[: max(batch, 8)]
            m.generate_batch(prompts[:batch], max_tokens=8)  # warm-up
            sync()
            t = time.perf_counter()
            done = m.generate_batch(prompts, max_tokens=max_tokens)
            sync()
            s = time.perf_counter() - t
            tokens = sum(c.usage.completion_tokens for c in done)
            # plain transformers on the same batches, for the ratio
            tok, model = m.tokenizer, m.model
            tok.padding_side = "left"
            t = time.perf_counter()
            raw_tokens = 0
            for i in range(0, len(prompts), batch):
                texts = [m.render((Message("user", p),)) for p in prompts[i : i + batch]]
                enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(m.device)
                with torch.inference_mode():
                    g = model.generate(**enc, max_new_tokens=max_tokens, do_sample=False, pad_token_id=tok.pad_token_id)
                raw_tokens += (g.shape[1] - enc["input_ids"].shape[1]) * g.shape[0]
            sync()
            raw_s = time.perf_counter() - t
            out["runs"].append(
                {
                    "dtype": str(m.model.dtype).removeprefix("torch."),
                    "batch": batch,
                    "prompts": len(prompts),
                    "tokens": tokens,
                    "seconds": s,
                    "tokens_per_s": tokens / s,
                    "raw_tokens_per_s": raw_tokens / raw_s,
                    "peak_gpu_mib": torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else 0.0,
                }
            )
            print(json.dumps(out["runs"][-1]), flush=True)
            del m, model
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats()
    return out


def render(datas: list[dict[str, Any]], command: str) -> str:
    """Medians and ranges over every repeat of each (dtype, batch) in the given runs."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for data in datas:
        for r in data["runs"]:
            groups.setdefault((r["dtype"], r["batch"]), []).append(r)
    rows = [
        "| dtype | batch | repeats | tokens/s alignkit, median (range) | tokens/s plain transformers, median (range) "
        "| ratio of medians | peak GPU memory |",
        "|---|---|---|---|---|---|---|",
    ]
    for (dtype, batch), rs in sorted(groups.items()):
        ours = [r["tokens_per_s"] for r in rs]
        raw = [r["raw_tokens_per_s"] for r in rs]
        rows.append(
            f"| {dtype} | {batch} | {len(rs)} | {statistics.median(ours):.0f} ({min(ours):.0f}–{max(ours):.0f}) "
            f"| {statistics.median(raw):.0f} ({min(raw):.0f}–{max(raw):.0f}) "
            f"| {statistics.median(ours) / statistics.median(raw):.2f}× | {max(r['peak_gpu_mib'] for r in rs):.0f} MiB |"
        )
    d = datas[0]
    return "\n".join(
        [
            "## hf provider on a GPU (SmolLM2-135M architecture)",
            "",
            f"Command: `{command}` on the lent GPU machine, {len(datas)} runs "
            "(raw JSON in bench/data/gpu-*.json), rendered here with `--write-from`  ",
            f"Machine: {d['gpu']}, torch {d['torch']}, transformers {d['transformers']}  ",
            f"Date: {', '.join(x['date'] for x in datas)}",
            "",
            f"Greedy, {d['max_tokens']} new tokens per answer, seeded random weights (see bench/bench_gpu.py for why); "
            "batch 1 and 8 answer 8 prompts, batch 64 answers 64. `bfloat16` is what the provider's `auto` dtype picks "
            "on this GPU. Plain transformers runs the same model object on the same batches right after alignkit.",
            "",
            *rows,
            "",
            "What these runs show: at 135M parameters per-step overhead (Python, kernel launches) dominates, so batch 1 "
            "gives 30–47 tokens/s whatever the dtype, and float32 beat bfloat16 at batch 8 and 64 in every repeat of "
            "these runs: pass `dtype=float32` for models this small (bfloat16 stays the default because it halves the "
            "memory of the 1B+ models a GPU is usually for). Repeats vary by up to 3× on this shared machine. For "
            "serving throughput, run vLLM and use the `openai/` provider.",
        ]
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config-dir")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--out")
    ap.add_argument("--write-from", nargs="+", help="JSON files from GPU runs to render into RESULTS.md")
    ap.add_argument("--dtypes", default="auto,float32", help="comma-separated, in the order to measure")
    ap.add_argument("--allow-cpu", action="store_true", help="dry run without a GPU")
    a = ap.parse_args()
    if a.write_from:
        datas = [json.loads(Path(f).read_text()) for f in a.write_from]
        text = render(datas, "python bench/bench_gpu.py --config-dir DIR [--dtypes ...] --out gpu.json")
        print(text)
        write_section("gpu", text)
        return
    data = measure(a.config_dir, a.max_tokens, a.allow_cpu, tuple(a.dtypes.split(",")))
    data["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    Path(a.out).write_text(json.dumps(data, indent=1))


if __name__ == "__main__":
    main()
