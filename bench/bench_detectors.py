"""Learned detectors: held-out quality, and latency per text and in batch on one CPU core.

Side by side, in the same run, on the same held-out texts:
  * alignkit             toxicity, jailbreak, prompt_injection, harmful_request (shipped int8 weights)
  * alt-profanity-check  the common pip-installable toxicity baseline (scikit-learn linear SVM on
                         word n-grams); pass --peer-python with a Python that has it installed
                         (default: .venv-bench/bin/python beside this repository)

Held-out texts are the fixed held-out split of ``scripts/detector_data.py`` (read from $ALIGNKIT_DATA).
Latency texts are those held-out texts cut or repeated to 300 characters. Each tool is timed in its own
fresh process pinned to one core (and, for the peer, one BLAS/OpenMP thread). "cold" latency clears
alignkit's per-text memo before every call (a detector alone on a new text); "stack" runs all four on
each text, sharing the memo, as a guard does.

    python bench/bench_detectors.py --write          # measure and update bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from _common import REPO, run_worker, stamp, write_section

SCRIPT = Path(__file__).resolve()
NAMES = ("toxicity", "jailbreak", "prompt_injection", "harmful_request")
CHARS = 300


def pad(text: str, n: int = CHARS) -> str:
    """``text`` cut or repeated (space-joined) to exactly ``n`` characters."""
    out = text
    while len(out) < n:
        out = f"{out} {text}"
    return out[:n]


def one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {"p50_ms": statistics.median(ms), "p99_ms": ms[min(len(ms) - 1, int(0.99 * len(ms)))]}


# -- workers (each in its own process) --------------------------------------------------------------
def w_alignkit(texts_file: str) -> dict[str, Any]:
    one_core()
    from alignkit.detectors import get_detector
    from alignkit.detectors.learned import _readings_memo

    texts: list[str] = json.loads(Path(texts_file).read_text())
    dets = {n: get_detector(n) for n in NAMES}
    for d in dets.values():  # warm-up: load weights, fill the token memos once (steady state)
        d.detect_batch(texts)
    out: dict[str, Any] = {}
    for name, d in dets.items():
        times = []
        for t in texts:
            _readings_memo.cache_clear()
            start = time.perf_counter()
            d.find(t)
            times.append(time.perf_counter() - start)
        _readings_memo.cache_clear()
        start = time.perf_counter()
        d.find_batch(texts)
        out[name] = {**percentiles(times), "batch_texts_per_s": len(texts) / (time.perf_counter() - start)}
    _readings_memo.cache_clear()
    stack = []
    for t in texts:
        start = time.perf_counter()
        for d in dets.values():
            d.find(t)
        stack.append(time.perf_counter() - start)
    out["stack"] = percentiles(stack)
    return out


def w_peer(texts_file: str, scores_file: str) -> dict[str, Any]:
    os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    one_core()
    from profanity_check import predict_prob

    latency_texts: list[str] = json.loads(Path(texts_file).read_text())
    held_out: list[str] = json.loads(Path(scores_file).read_text())
    scores = [float(p) for p in predict_prob(held_out)]
    predict_prob(latency_texts[:10])  # warm-up
    times = []
    for t in latency_texts:
        start = time.perf_counter()
        predict_prob([t])
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    predict_prob(latency_texts)
    rate = len(latency_texts) / (time.perf_counter() - start)
    return {"scores": scores, **percentiles(times), "batch_texts_per_s": rate}


# -- driver -----------------------------------------------------------------------------------------
def quality_of(name: str) -> tuple[dict[str, Any], list[Any], list[float]]:
    """Held-out quality of one shipped detector, its held-out rows and its scores."""
    import detector_data as dd
    from train_detectors import quality

    from alignkit.detectors import get_detector

    split, _ = dd.load(name)
    det = get_detector(name)
    scores = [det.detect(r.text).score for r in split.test]
    return quality([r.label for r in split.test], scores, det.threshold), split.test, scores


def fmt(q: dict[str, Any]) -> str:
    auroc = "n/a" if q["auroc"] is None else f"{q['auroc']:.3f}"
    return f"{q['precision']:.3f} | {q['recall']:.3f} | {q['f1']:.3f} | {auroc} | {q['fpr']:.3f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peer-python", default=str(REPO / ".venv-bench" / "bin" / "python"))
    ap.add_argument("--latency-texts", type=int, default=1000, help="held-out texts timed per detector")
    ap.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("files", nargs="*", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        result = w_alignkit(*a.files) if a.worker == "alignkit" else w_peer(*a.files)
        print(json.dumps(result))
        return

    from train_detectors import quality as measure

    from alignkit.detectors import get_detector

    quality: dict[str, dict[str, Any]] = {}
    latency_pool: list[str] = []
    tox_rows: list[Any] = []
    tox_scores: list[float] = []
    thresholds = {name: get_detector(name).threshold for name in NAMES}
    for name in NAMES:
        quality[name], rows, scores = quality_of(name)
        latency_pool += [r.text for r in rows]
        if name == "toxicity":
            tox_rows, tox_scores = rows, scores
    step = max(1, len(latency_pool) // a.latency_texts)
    latency_texts = [pad(t) for t in latency_pool[::step]][: a.latency_texts]

    with tempfile.TemporaryDirectory() as tmp:
        lat_file, tox_file = Path(tmp) / "latency.json", Path(tmp) / "toxicity.json"
        lat_file.write_text(json.dumps(latency_texts))
        tox_file.write_text(json.dumps([r.text for r in tox_rows]))
        ours = run_worker(SCRIPT, ["--worker", "alignkit", str(lat_file)])
        peer = run_worker(SCRIPT, ["--worker", "peer", str(lat_file), str(tox_file)], python=a.peer_python)

    labels = [r.label for r in tox_rows]
    peer_q = measure(labels, peer["scores"], 0.5)
    others = [i for i, r in enumerate(tox_rows) if r.source != "davidson"]
    ours_all = measure(labels, tox_scores, 0.5)  # the peer has no operating points: compare both at 0.5
    ours_other = measure([labels[i] for i in others], [tox_scores[i] for i in others], 0.5)
    peer_other = measure([labels[i] for i in others], [peer["scores"][i] for i in others], 0.5)

    lines = [
        "## Learned detectors (toxicity, jailbreak, prompt_injection, harmful_request)",
        "",
        stamp("python bench/bench_detectors.py --write"),
        "Quality on each detector's fixed held-out split (near-duplicate groups held out by hash; see "
        "scripts/detector_data.py), at each detector's `default` operating point (thresholds: "
        + ", ".join(f"{n} {thresholds[n]:.3f}" for n in NAMES)
        + "; chosen for at most 2% false positives on benign look-alikes, see the generalization section). "
        "FPR: false-positive rate on the held-out negatives.",
        "",
        "| detector | held-out texts (positive) | precision | recall | F1 | AUROC | FPR |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in NAMES:
        q = quality[name]
        lines.append(f"| {name} | {q['n']} ({q['positives']}) | {fmt(q)} |")
    lines += [
        "",
        "Toxicity against alt-profanity-check (same held-out texts, threshold 0.5 for both). alt-profanity-check "
        "was itself trained partly on the Davidson tweets, so its figures on them may include training rows; "
        "the second pair of rows leaves Davidson out (ToxiGen, prose, prompts, answers).",
        "",
        "| toxicity | texts (positive) | precision | recall | F1 | AUROC | FPR |",
        "|---|---|---|---|---|---|---|",
        f"| alignkit toxicity, all held-out | {peer_q['n']} ({peer_q['positives']}) | {fmt(ours_all)} |",
        f"| alt-profanity-check, all held-out | {peer_q['n']} ({peer_q['positives']}) | {fmt(peer_q)} |",
        f"| alignkit toxicity, without Davidson | {ours_other['n']} ({ours_other['positives']}) | {fmt(ours_other)} |",
        f"| alt-profanity-check, without Davidson | {peer_other['n']} ({peer_other['positives']}) | {fmt(peer_other)} |",
        "",
        f"Latency on one core, {len(latency_texts)} held-out texts of {CHARS} characters (all detectors' "
        "held-out parts, evenly sampled); throughput is one `find_batch` call over all of them.",
        "",
        "| detector | p50 per text, cold | p99 per text, cold | batch texts/s |",
        "|---|---|---|---|",
    ]
    for name in NAMES:
        r = ours[name]
        lines.append(f"| {name} | {r['p50_ms']:.3f} ms | {r['p99_ms']:.3f} ms | {r['batch_texts_per_s']:,.0f} |")
    lines += [
        f"| alt-profanity-check (`predict_prob([text])`) | {peer['p50_ms']:.3f} ms | {peer['p99_ms']:.3f} ms | "
        f"{peer['batch_texts_per_s']:,.0f} |",
        f"| all four alignkit detectors on one text (shared memo) | {ours['stack']['p50_ms']:.3f} ms | "
        f"{ours['stack']['p99_ms']:.3f} ms | |",
        "",
        f"Ratios, toxicity vs alt-profanity-check: p50 latency {peer['p50_ms'] / ours['toxicity']['p50_ms']:.1f}x "
        f"lower for alignkit; batch throughput {ours['toxicity']['batch_texts_per_s'] / peer['batch_texts_per_s']:.2f}x "
        f"alt-profanity-check's; AUROC {quality['toxicity']['auroc']:.3f} vs {peer_q['auroc']:.3f} on all held-out "
        f"texts, {ours_other['auroc']:.3f} vs {peer_other['auroc']:.3f} without Davidson.",
    ]
    text = "\n".join(lines)
    print(text)
    if a.write:
        write_section("detectors", text)


if __name__ == "__main__":
    main()
