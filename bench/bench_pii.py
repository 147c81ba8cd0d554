"""PII detection: alignkit's ``pii`` detector beside Presidio's offline pattern engine.

Both run on Presidio's own synthetic dataset (presidio-research ``synth_dataset_v2.json``, 1,253
sentences with labelled spans) and on one ordinary 300-character English text, each in a fresh process
pinned to one CPU core:
  * alignkit   ``get_detector("pii")`` at its default threshold (0.5)
  * Presidio   ``AnalyzerEngine`` with the ``no_op`` NLP engine (no spaCy model, nothing downloaded),
               so only its pattern recognizers run (e-mail, phone via the phonenumbers library, card,
               IBAN, SSN, IP, URL, dates, ...); PERSON and addresses need its NER model and are absent

Presidio lives in its own virtual environment so the main one stays light:

    python3 -m venv .venv-bench
    .venv-bench/bin/pip install presidio-analyzer && .venv-bench/bin/pip install -e .
    .venv/bin/python bench/bench_pii.py --presidio-python .venv-bench/bin/python --write

Entity-level scoring per type (Presidio's names mapped to alignkit's: EMAIL_ADDRESS -> EMAIL,
PHONE_NUMBER -> PHONE, IBAN_CODE -> IBAN): a predicted span is correct when it overlaps a gold span of
the same type; a gold span is found when a predicted span of its type overlaps it ("overlap" P/R/F1).
"Exact F1" counts only identical boundaries. Predictions of types the dataset does not label (URL,
UK_NINO, ...) are ignored for both tools.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import benign_instructions, data_dir, peak_rss_mib, run_worker, stamp, write_section

SCRIPT = Path(__file__).resolve()
TYPES = ("EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "IP_ADDRESS", "PERSON", "STREET_ADDRESS")
PRESIDIO_TO_ALIGNKIT = {"EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "IBAN_CODE": "IBAN"}
PRESIDIO_OFFLINE = {"EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "IP_ADDRESS"}  # what its patterns cover


def dataset() -> list[dict[str, Any]]:
    path = data_dir() / "presidio-synth-pii" / "synth_dataset_v2.json"
    if not path.exists():
        sys.exit(f"benchmark data missing: {path} (set ALIGNKIT_DATA to the shared data folder)")
    rows: list[dict[str, Any]] = json.loads(path.read_text())
    return rows


def ordinary_text() -> str:
    """About 300 characters of ordinary English: self-instruct seed instructions, joined."""
    text = ""
    for instruction in benign_instructions(40):
        text = f"{text} {instruction}".strip()
        if len(text) >= 300:
            break
    return text[:300]


# -- workers (each in its own process, pinned to one core) ------------------------------------------
def measure(analyze: Callable[[str], list[tuple[int, int, str, float]]], passes: int) -> dict[str, Any]:
    texts = [r["full_text"] for r in dataset()]
    short = ordinary_text()
    predictions = [analyze(t) for t in texts]  # first pass: warm-up, and the predictions we score
    latencies: list[float] = []
    for _ in range(passes):
        for t in texts:
            start = time.perf_counter()
            analyze(t)
            latencies.append(time.perf_counter() - start)
    short_latencies = []
    for _ in range(2000):
        start = time.perf_counter()
        analyze(short)
        short_latencies.append(time.perf_counter() - start)
    return {
        "predictions": predictions,
        "latencies": latencies,
        "short_latencies": short_latencies,
        "short_chars": len(short),
        "short_found": analyze(short),
        "rss_mib": peak_rss_mib(),
    }


def w_alignkit(passes: int) -> dict[str, Any]:
    t = time.perf_counter()
    from alignkit.detectors import get_detector

    detector = get_detector("pii")
    load_s = time.perf_counter() - t

    def analyze(text: str) -> list[tuple[int, int, str, float]]:
        return [(s.start, s.end, s.label, s.score) for s in detector.find(text).spans]

    return {"load_s": load_s, **measure(analyze, passes)}


def w_presidio(passes: int) -> dict[str, Any]:
    # Offline: tldextract (used by Presidio's e-mail recognizer) would fetch the public suffix list.
    os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] = ""
    t = time.perf_counter()
    import presidio_analyzer
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    nlp = NlpEngineProvider(
        nlp_configuration={"nlp_engine_name": "no_op", "models": [{"lang_code": "en", "model_name": "no_op"}]}
    ).create_engine()
    engine = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
    load_s = time.perf_counter() - t

    def analyze(text: str) -> list[tuple[int, int, str, float]]:
        return [
            (r.start, r.end, PRESIDIO_TO_ALIGNKIT.get(r.entity_type, r.entity_type), r.score)
            for r in engine.analyze(text=text, language="en")
        ]

    from importlib.metadata import version

    return {"load_s": load_s, "version": version("presidio-analyzer"), "module": presidio_analyzer.__name__,
            **measure(analyze, passes)}  # fmt: skip


# -- scoring ----------------------------------------------------------------------------------------
def score(rows: list[dict[str, Any]], predictions: list[Any], min_score: float = 0.0) -> dict[str, dict[str, float]]:
    """Per entity type: overlap precision/recall/F1, exact-boundary F1, and the counts behind them."""
    gold_name = {"EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "IBAN_CODE": "IBAN"}
    out: dict[str, dict[str, float]] = {}
    for kind in TYPES:
        n_pred = n_gold = pred_ok = gold_found = exact = 0
        for row, preds in zip(rows, predictions, strict=True):
            gold = [
                (g["start_position"], g["end_position"])
                for g in row["spans"]
                if gold_name.get(g["entity_type"], g["entity_type"]) == kind
            ]
            mine = [(s, e) for s, e, label, sc in preds if label == kind and sc >= min_score]
            n_gold, n_pred = n_gold + len(gold), n_pred + len(mine)
            pred_ok += sum(any(s < ge and gs < e for gs, ge in gold) for s, e in mine)
            gold_found += sum(any(s < ge and gs < e for s, e in mine) for gs, ge in gold)
            exact += len(set(gold) & set(mine))
        p = pred_ok / n_pred if n_pred else 0.0
        r = gold_found / n_gold if n_gold else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        ep, er = (exact / n_pred if n_pred else 0.0), (exact / n_gold if n_gold else 0.0)
        out[kind] = {"gold": n_gold, "pred": n_pred, "p": p, "r": r, "f1": f1,
                     "exact_f1": 2 * ep * er / (ep + er) if ep + er else 0.0}  # fmt: skip
    return out


def p50(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The repeat with the median per-text p50 (the machine is shared: repeats alternate between tools)."""
    return sorted(runs, key=lambda r: p50(r["latencies"]))[len(runs) // 2]


def latency_row(name: str, runs: list[dict[str, Any]]) -> str:
    r = median_run(runs)
    lat = sorted(r["latencies"])
    p99 = lat[int(len(lat) * 0.99)] * 1e3
    per_s = len(lat) / sum(lat)
    spread = [p50(x["latencies"]) * 1e3 for x in runs]
    short = [p50(x["short_latencies"]) * 1e3 for x in runs]
    return (
        f"| {name} | {p50(lat) * 1e3:.3f} ms ({min(spread):.3f}–{max(spread):.3f}) | {p99:.3f} ms | {per_s:,.0f} "
        f"| {p50(r['short_latencies']) * 1e3:.3f} ms ({min(short):.3f}–{max(short):.3f}) "
        f"| {r['load_s']:.2f} s | {r['rss_mib']:.0f} MiB |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presidio-python", help="a Python with presidio-analyzer installed (e.g. .venv-bench/bin/python)")
    ap.add_argument("--passes", type=int, default=3, help="timed passes over the dataset after the warm-up one")
    ap.add_argument("--cpu", type=int, default=0, help="the CPU core every worker is pinned to")
    ap.add_argument("--repeats", type=int, default=3, help="alternating runs per tool; the median is reported")
    ap.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.worker:
        os.sched_setaffinity(0, {a.cpu})
        result = {"alignkit": w_alignkit, "presidio": w_presidio}[a.worker](a.passes)
        print(json.dumps(result))
        return

    rows = dataset()
    common = ["--passes", str(a.passes), "--cpu", str(a.cpu)]
    load = os.getloadavg()[0]
    ours_runs, theirs_runs = [], []
    for i in range(a.repeats):  # alternate, so drift in the machine's load hits both tools alike
        print(f"repeat {i + 1}/{a.repeats}: alignkit ...", flush=True)
        ours_runs.append(run_worker(SCRIPT, ["--worker", "alignkit", *common]))
        if a.presidio_python:
            print(f"repeat {i + 1}/{a.repeats}: presidio ...", flush=True)
            theirs_runs.append(run_worker(SCRIPT, ["--worker", "presidio", *common], python=a.presidio_python))
    ours, theirs = ours_runs[0], (theirs_runs[0] if theirs_runs else None)

    ours_s = score(rows, ours["predictions"])
    theirs_all = score(rows, theirs["predictions"]) if theirs else None
    theirs_half = score(rows, theirs["predictions"], 0.5) if theirs else None

    def cell(s: dict[str, dict[str, float]] | None, kind: str) -> str:
        if s is None or (kind not in PRESIDIO_OFFLINE and s is not ours_s):
            return "— | —"
        m = s[kind]
        return f"{m['p']:.2f} / {m['r']:.2f} / **{m['f1']:.2f}** | {m['exact_f1']:.2f}"

    header = "| entity (gold spans) | alignkit P / R / F1 | alignkit exact F1 |"
    sep = "|---|---|---|"
    if theirs:
        header += " Presidio, all results P / R / F1 | exact F1 | Presidio, score ≥ 0.5 P / R / F1 | exact F1 |"
        sep += "---|---|---|---|"
    quality = [header, sep]
    for kind in TYPES:
        line = f"| {kind} ({int(ours_s[kind]['gold'])}) | {cell(ours_s, kind)} |"
        if theirs:
            line += f" {cell(theirs_all, kind)} | {cell(theirs_half, kind)} |"
        quality.append(line)

    n = len(rows)
    speed = [
        "| tool | latency per text, p50 | p99 | texts/s (one core) | 300-char text, p50 | load | peak memory |",
        "|---|---|---|---|---|---|---|",
        latency_row("alignkit pii", ours_runs),
    ]
    if theirs:
        speed.append(latency_row(f"Presidio {theirs['version']} (no_op NLP engine)", theirs_runs))
    mean_chars = statistics.mean(len(r["full_text"]) for r in rows)
    cmd = "python bench/bench_pii.py" + (" --presidio-python .venv-bench/bin/python" if theirs else "")
    cmd += f" --passes {a.passes} --repeats {a.repeats} --write"
    body = [
        "## PII detection vs Presidio's pattern engine",
        "",
        stamp(cmd),
        f"Data: presidio-research `synth_dataset_v2.json` ({n} texts, mean {mean_chars:.0f} characters; the "
        "patterns in alignkit were written while looking at this set, so treat its figures as optimistic). "
        "Overlap scoring: a prediction is correct when it overlaps a gold span of its type; a gold span is "
        "found when a prediction of its type overlaps it. Exact F1: identical boundaries only. "
        "Presidio runs with the `no_op` NLP engine (nothing downloaded), so PERSON and addresses, which need "
        "its spaCy NER model, are out of its reach here (—); its default returns every result "
        "(score threshold 0), shown beside results scoring at least 0.5 (its phone recognizer scores 0.4 unless "
        "context words raise it, which the `no_op` engine cannot supply). "
        'alignkit: `get_detector("pii")`, threshold 0.5.',
        "",
        *quality,
        "",
        f"Latency: each tool in a fresh process pinned to one core; per-text figures over {a.passes} timed "
        f"passes of the {n} texts after a warm-up pass; the 300-character text "
        f"({ours['short_chars']} characters of self-instruct seed instructions, no PII) is timed 2,000 times. "
        f"{a.repeats} runs per tool, alternating; shown: the run with the median p50 (range of p50 over runs "
        f"in brackets). The machine was shared with other jobs (1-minute load average {load:.1f} at the start), "
        "so tails (p99) are noisy.",
        "",
        *speed,
    ]
    text = "\n".join(body)
    print(text)
    if a.write:
        write_section("pii", text)


if __name__ == "__main__":
    main()
