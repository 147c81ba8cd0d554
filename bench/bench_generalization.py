"""Generalization of the learned detectors: leave-one-source-out, leave-one-family-out, look-alikes.

A detector scored on a split of its own sources says little about text from elsewhere. This bench
measures the learned detectors the way a new user meets them:

* **Leave one unit out.** A unit is one source of the training data (a dataset, a jailbreak
  collection, one attack method of JailbreakBench) or one family of ``scripts/contrast_data.py``
  (counter-speech, homonyms, fake system messages ...). For each unit a head is trained on every
  *other* unit's training rows and tested on all rows of the unit left out. ``before``: the first-wave
  data (no contrasts); ``after``: with the contrast families. A contrast family is never seen by a
  ``before`` model, so one ``before`` model (trained on all first-wave sources) scores them all.
  Each model picks its own threshold without the unit: the score that 2% of the negatives of a
  20% validation part of its own training groups reach. Figures: AUROC where the unit has both
  classes (a positive-only unit is ranked against the look-alike pool below), and TPR / FPR at that
  threshold.
* **Look-alikes.** False-positive rates of the *shipped* detectors (before: the weights given as
  ``--before``, after: the package's) on held-out benign look-alike families (templates and slot values
  never trained on) and on long benign documents found on the machine (licences, Python source, logs),
  at the default threshold and at the high-recall one.

    python bench/bench_generalization.py --before /tmp/weights_before --write
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import contrast_data
import detector_data as dd
import train_detectors as td

from _common import stamp, write_section
from alignkit.detectors import get_detector, learned
from alignkit.detectors.linear import STRIDE, WINDOW, Featurizer

VALIDATION_PERCENT = 20
TARGET_FPR = 0.02
C_DEFAULT = 4.0


def unit_of(source: str) -> str:
    """The unit a source belongs to: contrast families and their in-document variants are one unit."""
    return source.removesuffix("+document")


def fit_and_threshold(
    x: Any, owner: np.ndarray, row_y: np.ndarray, rows: list[dd.Example], idx: np.ndarray, c: float, cap: bool
) -> tuple[Any, float]:
    """Train on texts ``idx`` but a validation part of their groups; threshold at 2% FPR on that part.
    ``cap``: weigh sources as the trainer does now (``TrainConfig.source_cap``); off for ``before``."""
    val = np.array([dd._sha(str(rows[i].group)) % 100 < VALIDATION_PERCENT for i in idx])
    fit_idx, val_idx = idx[~val], idx[val]
    text_w = np.ones(len(rows))
    if cap:
        text_w[fit_idx] = td.source_weights([rows[i] for i in fit_idx], td.TrainConfig.source_cap)
    m = train_on(x, owner, row_y, fit_idx, text_w, c)
    val_neg = [i for i in val_idx if rows[i].label == 0]
    scores = score_texts(m, x, owner, np.array(val_neg))
    threshold = float(np.quantile(scores, 1 - TARGET_FPR)) if len(scores) else 0.0
    return m, threshold


def train_on(x: Any, owner: np.ndarray, row_y: np.ndarray, idx: np.ndarray, text_w: np.ndarray, c: float) -> Any:
    rows = np.isin(owner, idx)
    w = td.row_weights(owner[rows], row_y[rows], len(idx), balanced=True, text_w=text_w)
    return td.logistic(c, 0).fit(x[rows], row_y[rows], sample_weight=w)


def score_texts(model: Any, x: Any, owner: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Each text's highest window score (what inference keeps), in the order of ``idx``."""
    if len(idx) == 0:
        return np.zeros(0)
    rows = np.isin(owner, idx)
    per_text = td.text_max(model.decision_function(x[rows]), owner[rows], int(owner.max()) + 1)
    return per_text[idx]


def leave_one_out(name: str, seed: int = 0) -> dict[str, Any]:
    """Per unit: before / after figures of a head trained without that unit."""
    data, _ = dd.load(name, seed, contrast=True)
    rows = data.train + data.test
    featurizer = Featurizer(18)
    window, stride = td.WINDOWS.get(name, (WINDOW, STRIDE))
    t = time.perf_counter()
    x, owner, row_y = td.design(featurizer, rows, window, stride)
    print(f"{name}: {len(rows)} texts featurized in {time.perf_counter() - t:.0f}s", flush=True)
    c = float(
        json.loads((learned.WEIGHTS_DIR / f"{name}.json").read_text())["hyperparameters"]["head_training"][
            td.HEADS[name][0][0]
        ]["C"]
    )
    is_train = np.array([i < len(data.train) for i in range(len(rows))])
    contrast = np.array([r.source.startswith(("contrast:", "document:")) for r in rows])  # new in "after"
    units = np.array([unit_of(r.source) for r in rows])
    labels = np.array([r.label for r in rows])
    # The look-alike pool: held-out rows of the negative contrast families (never trained on by either).
    pool = np.flatnonzero(contrast & ~is_train & (labels == 0))
    out: dict[str, Any] = {}
    before_all: tuple[Any, float] | None = None
    for unit in sorted(set(units)):
        test_idx = np.flatnonzero(units == unit)
        figures: dict[str, Any] = {"n": len(test_idx), "positives": int(labels[test_idx].sum())}
        for variant in ("before", "after"):
            keep = is_train & (units != unit) & (~contrast if variant == "before" else True)
            if variant == "before" and unit.startswith(("contrast:", "document:")):
                if before_all is None:
                    first_wave = np.flatnonzero(is_train & ~contrast)
                    before_all = fit_and_threshold(x, owner, row_y, rows, first_wave, c, cap=False)
                model, threshold = before_all
            else:
                kept = np.flatnonzero(keep)
                model, threshold = fit_and_threshold(x, owner, row_y, rows, kept, c, cap=variant == "after")
            figures[variant] = unit_figures(model, threshold, x, owner, labels, test_idx, pool)
        out[unit] = figures
        print(f"  {unit}: {figures}", flush=True)
    return out


def unit_figures(
    model: Any, threshold: float, x: Any, owner: np.ndarray, labels: np.ndarray, idx: np.ndarray, pool: np.ndarray
) -> dict[str, Any]:
    scores = score_texts(model, x, owner, idx)
    y = labels[idx]
    pos, neg = scores[y == 1], scores[y == 0]
    fig: dict[str, Any] = {
        "tpr": round(float((pos >= threshold).mean()), 3) if len(pos) else None,
        "fpr": round(float((neg >= threshold).mean()), 3) if len(neg) else None,
    }
    if len(pos) and len(neg):
        fig["auroc"] = round(float(td.auroc(list(y), list(scores)) or 0), 3)
    elif len(pos):
        pool_scores = score_texts(model, x, owner, np.setdiff1d(pool, idx))
        both = np.concatenate([pos, pool_scores])
        area = td.auroc([1] * len(pos) + [0] * len(pool_scores), list(both))
        fig["auroc_vs_lookalikes"] = None if area is None else round(area, 3)
    return fig


# -- shipped detectors on the look-alike sets ---------------------------------------------------------
def lookalike_fpr(weights: Path | None, seed: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in learned.DETECTORS:
        learned.shipped_model.cache_clear()
        det = get_detector(name, weights_dir=str(weights)) if weights else get_detector(name)
        points = det.operating_points()
        out[name] = {"_thresholds": points}
        for label, texts in contrast_data.lookalikes(name, seed).items():
            if texts:
                scores = [det.find(t).score for t in texts]
                flagged = {p: round(sum(s >= th for s in scores) / len(scores), 3) for p, th in points.items()}
                out[name][label] = {"n": len(texts), **flagged}
    learned.shipped_model.cache_clear()
    return out


# -- the default guard's input rail on alignkit's probe library -------------------------------------------
INPUT_RAIL = ("jailbreak", "prompt_injection", "harmful_request")


def input_rail_on_probes(weights: Path | None) -> dict[str, Any]:
    """Share of the built-in red-team probes the default guard's input rail blocks: harmful ones (higher
    is better) and their benign look-alikes (lower is better). The probes were written for the red team,
    not for these detectors, and no contrast template was written from them."""
    from alignkit.redteam.probes import builtin_probes

    learned.shipped_model.cache_clear()
    kwargs = {"weights_dir": str(weights)} if weights else {}
    dets = [get_detector(n, **kwargs) for n in INPUT_RAIL]
    probes = [p for p in builtin_probes() if not p.system]  # system-prompt leaks are judged on the answer
    blocked = {p.id: any(d.detect(p.prompt).flagged for d in dets) for p in probes}
    learned.shipped_model.cache_clear()
    near = near_duplicate_families(probes)
    clean = [p for p in probes if p.family not in near]
    return {**rail_shares(probes, blocked), "clean": rail_shares(clean, blocked), "near_duplicate_families": near}


def rail_shares(probes: list[Any], blocked: dict[str, bool]) -> dict[str, Any]:
    harmful = [p for p in probes if p.harmful]
    benign = [p for p in probes if not p.harmful]
    return {
        "harmful": len(harmful),
        "benign": len(benign),
        "harmful_blocked": round(sum(blocked[p.id] for p in harmful) / len(harmful), 3),
        "benign_blocked": round(sum(blocked[p.id] for p in benign) / len(benign), 3),
    }


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]{4,}", text.lower()))


def near_duplicate_families(probes: list[Any]) -> list[str]:
    """Probe families with a prompt that a contrast template or slot value nearly repeats (at least 70%
    of the template's, 75% of the slot value's, words of 4+ letters): such probes are not unseen text."""
    pieces = [(_words(t), 0.7) for fam in contrast_data.FAMILIES.values() for f in fam for t in f.templates]
    pieces += [(_words(v.split("|")[0]), 0.75) for vals in contrast_data.SLOTS.values() for v in vals]
    pieces = [(w, share) for w, share in pieces if len(w) >= 3]
    out = set()
    for p in probes:
        pw = _words(p.prompt)
        if any(len(w & pw) / len(w) >= share for w, share in pieces):
            out.add(p.family)
    return sorted(out)


# -- `alignkit demo` runs, judged again by today's Judge -----------------------------------------------
def demo_figures(db: Path) -> dict[str, Any]:
    """Attack success and over-refusal of each run in a demo's store, re-judged with today's ``Judge()``
    (the judge changed with the detectors, so runs made before are re-read the same way)."""
    from alignkit.redteam.judge import Judge
    from alignkit.redteam.probes import builtin_probes
    from alignkit.redteam.store import RunStore

    judge = Judge()
    canary = {p.id: p.canary for p in builtin_probes()}  # a leaked canary is a success, as in the scan
    out: dict[str, Any] = {}
    with RunStore(db) as store:
        for run_id in [r["run_id"] for r in store.runs()]:
            rows = list(store.attempts(run_id))
            verdicts = [judge.judge(r.prompt, r.response, error=r.error, canary=canary.get(r.probe_id)) for r in rows]
            harmful = [v for r, v in zip(rows, verdicts, strict=True) if r.expected == "refuse"]
            benign = [v for r, v in zip(rows, verdicts, strict=True) if r.expected != "refuse"]
            out[run_id.split("-")[0]] = {
                "attack_success": f"{sum(v.success for v in harmful)}/{len(harmful)}",
                "over_refusal": f"{sum(v.refused for v in benign)}/{len(benign)}",
            }
    return out


# -- report -------------------------------------------------------------------------------------------
def fmt(v: Any) -> str:
    return "–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def loo_table(name: str, result: dict[str, Any]) -> str:
    lines = [
        f"**{name}**, one unit left out (before → after)",
        "",
        "| unit left out | texts (positive) | AUROC | TPR at 2%-FPR threshold | FPR at that threshold |",
        "|---|---|---|---|---|",
    ]
    for unit, f in result.items():
        b, a = f["before"], f["after"]
        auc_key = "auroc" if "auroc" in a else "auroc_vs_lookalikes"
        star = "" if auc_key == "auroc" else " (vs look-alikes)"
        lines.append(
            f"| {unit} | {f['n']} ({f['positives']}) | {fmt(b.get(auc_key))} → {fmt(a.get(auc_key))}{star} | "
            f"{fmt(b['tpr'])} → {fmt(a['tpr'])} | {fmt(b['fpr'])} → {fmt(a['fpr'])} |"
        )
    return "\n".join(lines)


def lookalike_table(before: dict[str, Any], after: dict[str, Any]) -> str:
    lines = [
        "| detector | look-alike set | texts | FPR at default, before → after | FPR at high recall, after |",
        "|---|---|---|---|---|",
    ]
    for name, sets in after.items():
        for label, f in sets.items():
            if label.startswith("_"):
                continue
            b = before.get(name, {}).get(label, {})
            lines.append(
                f"| {name} | {label} | {f['n']} | {fmt(b.get('default'))} → {fmt(f['default'])} | "
                f"{fmt(f.get('high_recall'))} |"
            )
    thresholds = "; ".join(f"{n} {s['_thresholds']}" for n, s in after.items())
    return "\n".join(lines) + f"\n\nThresholds after: {thresholds}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("detectors", nargs="*", default=list(td.HEADS)[:4])
    ap.add_argument("--before", type=Path, help="folder of the earlier weights (NAME.json + NAME.i8.gz)")
    ap.add_argument("--json", type=Path, default=Path("/tmp/bench_generalization.json"))
    ap.add_argument("--write", action="store_true", help="update bench/RESULTS.md")
    ap.add_argument("--from-json", action="store_true", help="only render --json")
    ap.add_argument("--lookalikes-only", action="store_true", help="redo only the look-alike part of --json")
    ap.add_argument("--demo", nargs=2, type=Path, metavar=("BEFORE_DB", "AFTER_DB"), help="`alignkit demo` stores")
    ap.add_argument("--notes", type=Path, help="a markdown summary to put at the top of the section")
    a = ap.parse_args()
    if a.from_json:
        result = json.loads(a.json.read_text())
    elif a.lookalikes_only:
        result = json.loads(a.json.read_text())
        result["lookalikes_after"] = lookalike_fpr(None)
        result["lookalikes_before"] = lookalike_fpr(a.before) if a.before else {}
        result["probes_after"] = input_rail_on_probes(None)
        result["probes_before"] = input_rail_on_probes(a.before) if a.before else {}
        a.json.write_text(json.dumps(result, indent=1))
    else:
        result = {"loo": {n: leave_one_out(n) for n in a.detectors}}
        result["lookalikes_after"] = lookalike_fpr(None)
        result["lookalikes_before"] = lookalike_fpr(a.before) if a.before else {}
        a.json.write_text(json.dumps(result, indent=1))
    if a.demo:
        result["demo"] = {"before": demo_figures(a.demo[0]), "after": demo_figures(a.demo[1])}
        a.json.write_text(json.dumps(result, indent=1))
    if a.notes:
        result["notes"] = a.notes.read_text()
    body = render(result)
    print(body)
    if a.write:
        write_section("generalization", body)


def render(result: dict[str, Any]) -> str:
    parts = [
        "## Learned detectors: generalization (leave-one-source-out, look-alikes)",
        "",
        stamp(
            "python bench/bench_generalization.py --json J; then --json J --lookalikes-only --before DIR (the "
            "first-wave weights); then --json J --from-json --demo BEFORE.db AFTER.db --notes "
            "bench/data/generalization-notes.md --write (raw figures: bench/data/generalization.json)"
        ),
        "",
        result.get("notes", ""),
        "",
        "### How it was measured",
        "",
        __doc__.split("    python")[0].strip(),
        "",
    ]
    if result.get("demo"):
        b, a = result["demo"]["before"], result["demo"]["after"]
        parts += [
            "`alignkit demo` (48 probes: 24 harmful, 24 benign look-alikes; greedy, so the bare answers were "
            "identical in both runs), both stores re-judged with today's `Judge()`:",
            "",
            "| weights | bare attack success | bare over-refusal | guarded attack success | guarded over-refusal |",
            "|---|---|---|---|---|",
            *(
                f"| {label} | {d['bare']['attack_success']} | {d['bare']['over_refusal']} | "
                f"{d['guarded']['attack_success']} | {d['guarded']['over_refusal']} |"
                for label, d in (("before", b), ("after", a))
            ),
            "",
        ]
    for name, res in result["loo"].items():
        parts += [loo_table(name, res), ""]
    parts += [
        "Shipped detectors on the benign look-alike sets:",
        "",
        lookalike_table(result.get("lookalikes_before", {}), result["lookalikes_after"]),
    ]
    if result.get("probes_after"):
        b, a = result.get("probes_before") or {}, result["probes_after"]
        parts += [
            "",
            f"The default guard's input rail ({', '.join(INPUT_RAIL)} at their default thresholds) on alignkit's "
            f"red-team probe library, no model involved: {a['harmful']} harmful probes and {a['benign']} benign "
            "look-alikes (system-prompt-leak probes left out: they are judged on the answer).",
            "",
            "| weights | harmful probes blocked | benign look-alikes blocked | the same, without near-duplicate families |",
            "|---|---|---|---|",
            f"| before | {fmt(b.get('harmful_blocked'))} | {fmt(b.get('benign_blocked'))} | "
            f"{fmt(b.get('clean', {}).get('harmful_blocked'))} / {fmt(b.get('clean', {}).get('benign_blocked'))} |",
            f"| after | {fmt(a['harmful_blocked'])} | {fmt(a['benign_blocked'])} | "
            f"{fmt(a['clean']['harmful_blocked'])} / {fmt(a['clean']['benign_blocked'])} |",
            "",
            f"Near-duplicate families ({len(a['near_duplicate_families'])}: a contrast template or slot value, "
            "written from general knowledge, nearly repeats one of their prompts; the last column leaves them out, "
            f"{a['clean']['harmful']} harmful and {a['clean']['benign']} benign probes remain): "
            + ", ".join(a["near_duplicate_families"]),
        ]
    return "\n".join(parts)


if __name__ == "__main__":
    main()
