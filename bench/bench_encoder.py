"""The encoder tier against the n-gram heads: held-out quality, and latency of the cascade stack.

Quality figures are read from ``src/alignkit/detectors/weights/encoder.json`` (written by
``scripts/train_encoder_heads.py``), which scored the same held-out texts with every tier:

* **n-gram**: the shipped hashed n-gram detector (as ``get_detector(name)`` built it when the heads
  were trained), at the threshold the shared rule gives on its out-of-fold training scores (and, in
  brackets, at its shipped default when that differs);
* **encoder**: a logistic head on frozen all-MiniLM-L6-v2 embeddings;
* **cascade**: the n-gram score, replaced by (or averaged in log-odds with) the encoder's when it falls
  in the head's band.

Every threshold is the lowest (at least 0.5) that flags at most 2% of the *training-side* benign
look-alikes, out of fold; bands and combinations were picked on training-side out-of-fold scores too.
The held-out split shares its sources with training (same-source figures); the held-out contrast
families use templates and slot values never trained on, but their families were (same-family). The
leave-one-unit-out table is the out-of-source figure: both heads trained on the same subsample
without the unit.

Latency: each text goes through the four detectors one at a time, as a guard does, pinned to one core
(run under ``taskset -c 0``); the encoder's memo means one encoding serves all four heads.

    taskset -c 0 python bench/bench_encoder.py --write
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import detector_data as dd
import train_encoder_heads as teh

from _common import benign_instructions, stamp, write_section
from alignkit.detectors import encoder as enc
from alignkit.detectors import get_detector, learned

NAMES = list(teh.NAMES)


def pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.0f}%"


def cell(f: dict[str, Any], label: int) -> str:
    """Recall for a positive set, FPR for a benign one."""
    return pct(f["recall"] if label else f["fpr"])


# -- quality ----------------------------------------------------------------------------------------
def quality_tables(manifest: dict[str, Any]) -> list[str]:
    parts: list[str] = []
    for name, head in manifest["heads"].items():
        m = head["metrics"]
        tiers = ("ngram", "encoder", "cascade")
        th = " / ".join(f"{t} {m[t]['threshold']:.3f}" for t in tiers)
        shipped = m["ngram_shipped_threshold"]
        c = head["cascade"]
        parts += [
            f"**{name}**: thresholds {th} (shipped n-gram default {shipped['threshold']:.3f}); cascade band "
            f"[{c['low']}, {c['high']}], {c['combine']}; {pct(m['held_out_share_in_band'])} of held-out texts "
            f"reach the encoder",
            "",
            "| held-out set | texts (positive) | n-gram [shipped thr.] | encoder | cascade | AUROC n-gram / encoder / cascade |",
            "|---|---|---|---|---|---|",
        ]
        rows = [
            ("split, all (same-source)", "held_out"),
            ("contrast rows only (held-out templates and slots)", "contrast_only"),
            ("split, no contrast rows (same-source)", "held_out_without_contrasts"),
        ]
        for key_label, key in rows:
            f = {t: m[t][key] for t in (*tiers, "ngram_shipped_threshold")}
            recall = " / ".join(f"R {pct(f[t]['recall'])} FPR {pct(f[t]['fpr'])}" for t in ("ngram",))
            parts.append(
                f"| {key_label} | {f['ngram']['n']} ({f['ngram']['positives']}) | {recall} "
                f"[R {pct(f['ngram_shipped_threshold']['recall'])} FPR {pct(f['ngram_shipped_threshold']['fpr'])}] | "
                f"R {pct(f['encoder']['recall'])} FPR {pct(f['encoder']['fpr'])} | "
                f"R {pct(f['cascade']['recall'])} FPR {pct(f['cascade']['fpr'])} | "
                + " / ".join(str(f[t]["auroc"]) for t in tiers)
                + " |"
            )
        for family, f_ng in m["ngram"]["contrast_families"].items():
            label = 1 if f_ng["positives"] else 0
            what = "recall" if label else "FPR"
            fs = {t: m[t]["contrast_families"][family] for t in (*tiers, "ngram_shipped_threshold")}
            parts.append(
                f"| {family} ({what}) | {f_ng['n']} ({f_ng['positives']}) | {cell(fs['ngram'], label)} "
                f"[{cell(fs['ngram_shipped_threshold'], label)}] | {cell(fs['encoder'], label)} | "
                f"{cell(fs['cascade'], label)} | – |"
            )
        parts.append("")
        loo = m.get("leave_one_out")
        if loo:
            parts += [
                f"{name}, one unit left out (both heads trained on the same subsample without it; threshold at 2% "
                "FPR on a validation part of the rest):",
                "",
                "| unit left out | texts (positive) | n-gram TPR / FPR / AUROC | encoder TPR / FPR / AUROC |",
                "|---|---|---|---|",
            ]
            for unit, f in loo.items():
                ng, en = f["ngram"], f["encoder"]
                parts.append(
                    f"| {unit} | {f['n']} ({f['positives']}) | {pct(ng['recall'])} / {pct(ng['fpr'])} / {ng['auroc'] or '–'} "
                    f"| {pct(en['recall'])} / {pct(en['fpr'])} / {en['auroc'] or '–'} |"
                )
            parts.append("")
    return parts


# -- latency ----------------------------------------------------------------------------------------
def stream(per_detector: int = 60, benign: int = 100) -> list[str]:
    """A guard's input stream: benign instructions (first) and held-out rows of each detector (subsampled)."""
    texts = benign_instructions(benign)
    for name in NAMES:
        data, _ = dd.load(name)
        texts += [r.text for r in teh.subsample(data.test, 10, 1)][:per_detector]
    return list(dict.fromkeys(texts))


def latency(texts: list[str], n_benign: int = 100) -> dict[str, Any]:
    encoder = enc.shared_encoder()
    ngram = [get_detector(n) for n in NAMES]
    cascade = [get_detector(f"{n}_cascade", embedder=encoder) for n in NAMES]
    for d in ngram + cascade:  # warm-up on other texts (memos, first calls)
        d.find("warm-up text number one")
        d.find("another warm-up text, a little longer than the first one")

    def per_text(detectors: list[Any], clear: bool) -> list[float]:
        out = []
        for t in texts:
            if clear:
                encoder.clear_memo()
            learned._readings_memo.cache_clear()  # each text cold, as in the cascade loop below
            s = time.perf_counter()
            for d in detectors:
                d.find(t)
            out.append((time.perf_counter() - s) * 1000)
        return out

    ng = per_text(ngram, clear=False)
    before = sum(d.encoder_calls for d in cascade)
    reached: list[bool] = []
    casc = []
    for t in texts:
        encoder.clear_memo()
        learned._readings_memo.cache_clear()
        calls = sum(d.encoder_calls for d in cascade)
        s = time.perf_counter()
        for d in cascade:
            d.find(t)
        casc.append((time.perf_counter() - s) * 1000)
        reached.append(sum(d.encoder_calls for d in cascade) > calls)
    ng_warm = per_text(ngram, clear=False)  # token memos now warm, as they were for the cascade pass
    enc_only = []
    for t in texts[:80]:
        encoder.clear_memo()
        s = time.perf_counter()
        encoder.embed([t])
        enc_only.append((time.perf_counter() - s) * 1000)
    return {
        "texts": len(texts),
        "ngram_stack": summary(ng),
        "ngram_stack_warm": summary(ng_warm),
        "cascade_stack": summary(casc),
        "encoder_one_text": summary(enc_only),
        "share_reaching_encoder": round(sum(reached) / len(texts), 4),
        "share_reaching_encoder_benign_instructions": round(sum(reached[:n_benign]) / n_benign, 4),
        "cascade_stack_benign_instructions": summary(casc[:n_benign]),
        "encoder_calls_per_text": round((sum(d.encoder_calls for d in cascade) - before) / len(texts), 3),
        "affinity": sorted(os.sched_getaffinity(0)),
        "torch_threads": encoder.torch.get_num_threads(),
    }


def summary(ms: list[float]) -> dict[str, float]:
    q = statistics.quantiles(ms, n=100)
    return {"p50": round(statistics.median(ms), 3), "p99": round(q[98], 3), "mean": round(statistics.fmean(ms), 3)}


def latency_table(lat: dict[str, Any]) -> list[str]:
    return [
        f"Latency per text, {lat['texts']} texts (benign instructions and held-out rows of the four detectors), "
        f"CPU affinity {lat['affinity']}, torch threads {lat['torch_threads']}; "
        f"{pct(lat['share_reaching_encoder'])} of texts reach the encoder "
        f"({pct(lat['share_reaching_encoder_benign_instructions'])} of the 100 benign instructions alone):",
        "",
        "| tier | p50 ms | p99 ms | mean ms |",
        "|---|---|---|---|",
        *(
            f"| {label} | {lat[k]['p50']} | {lat[k]['p99']} | {lat[k]['mean']} |"
            for label, k in (
                ("four n-gram detectors, first pass (cold token memos)", "ngram_stack"),
                ("four n-gram detectors, after the cascade pass (as warm as it was)", "ngram_stack_warm"),
                ("four cascade detectors (encoding shared)", "cascade_stack"),
                ("four cascade detectors, benign instructions only", "cascade_stack_benign_instructions"),
                ("encoder alone, one text (all windows)", "encoder_one_text"),
            )
        ),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", type=Path, default=Path("/tmp/bench_encoder.json"))
    ap.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    ap.add_argument("--from-json", action="store_true", help="only render --json")
    a = ap.parse_args()
    manifest = enc.manifest_info()
    if a.from_json:
        lat = json.loads(a.json.read_text())
    else:
        lat = latency(stream())
        a.json.write_text(json.dumps(lat, indent=1))
    body = "\n".join(
        [
            "## Learned detectors: encoder tier and cascade",
            "",
            stamp("taskset -c 0 python bench/bench_encoder.py --write"),
            "",
            __doc__.split("    taskset")[0].strip(),
            "",
            *quality_tables(manifest),
            *latency_table(lat),
        ]
    )
    print(body)
    if a.write:
        write_section("encoder", body)


if __name__ == "__main__":
    main()
