"""Long and degenerate texts: do benign documents trip the learned detectors, and do positives hidden in
long documents still fire? (issue 12, item 6)

Each figure is measured twice, in fresh processes: ``before`` imports alignkit from ``--before-src`` (a
``src`` folder of the earlier code and weights, e.g. ``git archive REV src | tar -x -C DIR``), ``after``
the working tree's. Same texts for both:

* **Benign long texts, whole** (never trained on): every licence in /usr/share/common-licenses, six large
  standard-library modules, a syslog-style log, a scientific paragraph repeated 100 times; and degenerate
  texts: held-out phrases repeated 100 to 10,000 times, one character repeated 10^3 to 10^6 times.
  Figure: texts flagged at the default operating point, per detector (and the refusal detector).
* **Embedded positives.** Each held-out positive of the contrast families (templates and slot values never
  trained on) on its own line at a random line of a 20 KB text made of the held-out documents above.
  Figures: recall alone, recall embedded, and the share of the 20 KB texts flagged without a positive.
* **Look-alikes**: ``bench_generalization.lookalike_fpr`` (held-out look-alike families and 1,500-character
  passages of the machine's documents), at the default point.
* **Latency**: p50 per text of the five learned detectors together on 600 short held-out contrast texts
  (mean 87 characters), readings memo cleared per text, token memos warm.

    python bench/bench_long_texts.py --before-src /tmp/ak_before/src --write
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import contrast_data
import long_texts

import bench_generalization
from _common import run_worker, stamp, write_section
from alignkit.detectors import get_detector, learned

NAMES = ("toxicity", "jailbreak", "prompt_injection", "harmful_request", "harmful_answer", "refusal")
EMBED_DOCS = 30  # distinct 20 KB benign texts the positives are embedded in
NOTES = """**Cause.** A window's features were a bag: each repetition of a word added its weight again, and the
logit is the weight sum over sqrt(n), so repeating a phrase k times multiplied its logit by sqrt(k) ("hello
world" x100: jailbreak 1.0; one 32-character token of "a" was 30 copies of the n-gram "aaa": toxic). Long
documents were scored in 256-token windows: a window of ordinary licence prose or code summed hundreds of
mildly positive words (the long jailbreak prompts taught the heads that long instruction-like prose is a
jailbreak), and the highest of dozens of windows won; a toxic sentence inside such a window was diluted
by the 240 words around it. **Fix.** (1) A window's features are a set (each distinct token and bigram
once; a token's n-grams once), and code's joiners (`_ ( ) [ ] { } =`) split tokens, so an identifier used
ten ways is mostly one word: repetition can no longer raise a score. (2) Windows about as long as what
each detector looks for: toxicity 16 tokens (stride 4), prompt_injection 32, jailbreak 64 (harmful_request
and harmful_answer keep 256: they judge a request or an answer whole, and 32-token windows of licence prose
read like requests to them). (3) The trainer adds long benign documents (pinned licence files, Python
packages' source, long logs) and degenerate texts, and for jailbreak also training positives
embedded in documents (only the windows covering them positive; prompt_injection's data already hides its
injections in documents); these rows train the weights, not the Platt calibration nor the default
threshold's look-alike pool. **Same-source or not:** the licence figures are close to same-source (the training licences
are Debian's per-package copyright files, which quote the same GPL/LGPL/Apache texts); the standard library,
the syslog-style log, the repeated phrases and the embedded contrast positives (held-out templates and slot
values of trained families) were never trained on; the look-alike families are held-out templates.
**Latency** varies with the load of this shared 2-core machine: three interleaved before/after runs of the
same measurement gave p50 57-86 → 61-111 µs and p90 146-200 → 189-307 µs (a text over 16 tokens now gets
several toxicity windows); the p50 of the table below is one run of each, minutes apart."""


def flagged_texts(dets: dict[str, Any], texts: dict[str, str]) -> dict[str, Any]:
    """Per detector: how many of ``texts`` it flags at its default threshold, and which."""
    out = {}
    for name, det in dets.items():
        hits = [k for k, t in texts.items() if det.find(t).score >= det.threshold]
        out[name] = {"n": len(texts), "flagged": len(hits), "which": hits}
    return out


def embedded_recall(dets: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    """Recall of held-out contrast positives alone and embedded in 20 KB benign texts."""
    rng = random.Random(seed)
    documents = list(long_texts.held_out_documents().values())
    bases = [long_texts.embed("", documents, rng) for _ in range(EMBED_DOCS)]
    out = {}
    for name, det in dets.items():
        if name not in contrast_data.FAMILIES:
            continue
        positives = [ex.text for ex in contrast_data.contrasts(name, seed, sides=("test",)) if ex.label]
        alone = [det.find(p).score >= det.threshold for p in positives]
        embedded = [det.find(long_texts.embed(p, documents, rng)).score >= det.threshold for p in positives]
        out[name] = {
            "n": len(positives),
            "recall_alone": _share(alone),
            "recall_embedded": _share(embedded),
            "kept_of_flagged_alone": _share([e for a, e in zip(alone, embedded, strict=True) if a]),
            "documents_flagged_without_positive": _share([det.find(b).score >= det.threshold for b in bases]),
        }
    return out


def latency_p50_us(dets: dict[str, Any]) -> float:
    """p50 microseconds per short text for the five learned detectors together."""
    kinds = ("toxicity", "jailbreak", "harmful_request")
    texts = [ex.text for n in kinds for ex in contrast_data.contrasts(n, 0, sides=("test",))][:600]
    learned_dets = [d for n, d in dets.items() if n != "refusal"]
    for d in learned_dets:
        [d.find(t) for t in texts]  # warm the token memos
    runs = []
    for _ in range(5):
        per = []
        for t in texts:
            learned._readings_memo.cache_clear()
            start = time.perf_counter()
            for d in learned_dets:
                d.find(t)
            per.append(time.perf_counter() - start)
        runs.append(statistics.median(per) * 1e6)
    return round(min(runs), 1)


def _share(flags: list[bool]) -> float | None:
    return round(sum(flags) / len(flags), 3) if flags else None


def worker() -> dict[str, Any]:
    """Every figure for the alignkit this process imports."""
    dets = {n: get_detector(n) for n in NAMES}
    documents = long_texts.held_out_documents()
    lookalikes = bench_generalization.lookalike_fpr(None)
    return {
        "documents": flagged_texts(dets, documents),
        "degenerate": flagged_texts(dets, long_texts.held_out_degenerate()),
        "embedded": embedded_recall(dets),
        "lookalikes": {n: {k: v["default"] for k, v in r.items() if k != "_thresholds"} for n, r in lookalikes.items()},
        "latency_p50_us": latency_p50_us(dets),
    }


def render(before: dict[str, Any], after: dict[str, Any]) -> str:
    """The RESULTS.md section."""
    parts = [
        "## Learned detectors: long and degenerate texts (issue 12)",
        "",
        stamp(
            "python bench/bench_long_texts.py --before-src DIR --write (DIR: `git archive 8fc2fb4 src`, the code and "
            "weights before the change; raw figures: bench/data/long_texts.json)"
        ),
        "",
        __doc__.split("    python")[0].split("\n\n", 1)[1].strip(),
        "",
        NOTES,
        "",
        "Benign texts flagged at the default operating point, before → after (none of these texts was trained on):",
        "",
        "| detector | whole documents | degenerate texts |",
        "|---|---|---|",
    ]
    for name in NAMES:
        d0, d1 = before["documents"][name], after["documents"][name]
        g0, g1 = before["degenerate"][name], after["degenerate"][name]
        parts.append(
            f"| {name} | {d0['flagged']}/{d0['n']} → {d1['flagged']}/{d1['n']} | "
            f"{g0['flagged']}/{g0['n']} → {g1['flagged']}/{g1['n']} |"
        )
    parts += [
        "",
        "Held-out contrast positives (unseen templates and slot values) alone and embedded in 20 KB of the benign"
        " documents above, before → after:",
        "",
        "| detector | positives | recall alone | recall embedded | kept (of those flagged alone) |"
        " 20 KB texts flagged without a positive |",
        "|---|---|---|---|---|---|",
    ]
    for name, a in after["embedded"].items():
        b = before["embedded"][name]
        cells = [f"{b[k]} → {a[k]}" for k in ("recall_alone", "recall_embedded", "kept_of_flagged_alone")]
        parts.append(
            f"| {name} | {a['n']} | {' | '.join(cells)} | {b['documents_flagged_without_positive']} → "
            f"{a['documents_flagged_without_positive']} |"
        )
    parts += ["", "Look-alike sets of `bench_generalization.py` (FPR at the default point), before → after:", ""]
    parts += ["| detector | set | FPR |", "|---|---|---|"]
    for name, sets in after["lookalikes"].items():
        parts += [f"| {name} | {s} | {before['lookalikes'][name].get(s)} → {v} |" for s, v in sets.items()]
    parts += [
        "",
        f"Latency, short texts (p50, five learned detectors together, best of 5 passes): "
        f"{before['latency_p50_us']} µs → {after['latency_p50_us']} µs.",
        "",
        "Still flagged after: " + _still_flagged(after),
    ]
    return "\n".join(parts)


def _still_flagged(result: dict[str, Any]) -> str:
    hits = [f"{n}: {', '.join(r['which'])}" for part in ("documents", "degenerate") for n, r in result[part].items()]
    return "; ".join(h for h in hits if not h.endswith(": ")) or "none."


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before-src", type=Path, required=False, help="src folder of the code before the change")
    ap.add_argument("--json", type=Path, default=Path("/tmp/bench_long_texts.json"))
    ap.add_argument("--from-json", action="store_true", help="only render --json")
    ap.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(worker()))
        return
    if a.from_json:
        result = json.loads(a.json.read_text())
    else:
        script = Path(__file__)
        before = run_worker(script, ["--worker"], env={"PYTHONPATH": str(a.before_src)}) if a.before_src else None
        result = {"before": before, "after": run_worker(script, ["--worker"])}
        a.json.write_text(json.dumps(result, indent=1))
    body = render(result["before"] or result["after"], result["after"])
    print(body)
    if a.write:
        write_section("long-texts", body)


if __name__ == "__main__":
    main()
