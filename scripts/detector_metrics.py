"""Operating points and held-out figures of a trained detector, as ``scripts/train_detectors.py`` records
them in its manifest: thresholds picked on out-of-fold scores, then precision, recall, F1, AUROC and
false-positive rate, per source and per held-out contrast family."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import contrast_data
import numpy as np
from detector_data import Example

from alignkit.detectors import get_detector, learned

# -- operating points -------------------------------------------------------------------------------
MAX_LOOKALIKE_FPR = 0.02  # default threshold: at most this share of benign look-alikes flagged
HIGH_RECALL = 0.95  # high_recall threshold: this share of training positives flagged ...
MAX_HIGH_RECALL_FPR = 0.10  # ... unless that flags more than this share of negatives


def is_lookalike(r: Example) -> bool:
    """Benign texts that resemble positives (our contrast families and hand-written look-alikes) or
    that a guard meets in bulk (long documents: licences, code, logs)."""
    return r.label == 0 and r.source.startswith(("contrast:", "handwritten", "document:"))


def oof_operating_points(train: Sequence[Example], oof: np.ndarray) -> dict[str, Any]:
    """Thresholds picked on out-of-fold scores of the training rows, so the held-out rows (and the
    held-out look-alike families) stay untouched for measuring them.

    ``default``: the lowest threshold at which at most 2% of the look-alike negatives score at or
    above it (never below 0.5, the calibrated even odds). ``high_recall``: the threshold that flags 95%
    of the positives, raised if needed so at most 10% of the negatives are flagged, and never above
    ``default``."""
    labels = np.array([r.label for r in train])
    neg, pos = oof[labels == 0], oof[labels == 1]
    look = oof[np.array([is_lookalike(r) for r in train])]
    default = max(0.5, _quantile_above(look, MAX_LOOKALIKE_FPR))
    recall_t = float(np.quantile(pos, 1 - HIGH_RECALL, method="lower"))
    high_recall = min(default, max(recall_t, _quantile_above(neg, MAX_HIGH_RECALL_FPR)))

    def point(threshold: float, rule: str) -> dict[str, Any]:
        return {
            "threshold": round(threshold, 6),
            "rule": f"picked on out-of-fold scores of the training rows: {rule}",
            "oof_fpr": round(float((neg >= threshold).mean()), 4),
            "oof_recall": round(float((pos >= threshold).mean()), 4),
        }

    return {
        "default": point(
            default, f"lowest (at least 0.5) with FPR <= {MAX_LOOKALIKE_FPR} on look-alike negatives (n={len(look)})"
        ),
        "high_recall": point(
            high_recall,
            f"recall {HIGH_RECALL} on positives (n={len(pos)}) unless FPR would pass {MAX_HIGH_RECALL_FPR}; "
            "never above default",
        ),
    }


def _quantile_above(scores: np.ndarray, fpr: float) -> float:
    """The smallest threshold that flags at most ``fpr`` of ``scores`` (0.5 when there are none)."""
    if not len(scores):
        return 0.5
    return float(np.quantile(scores, 1 - fpr, method="higher")) + 1e-6


def auroc(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """Area under the ROC curve by ranks (ties count half); None when one class is absent."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return None
    order = sorted([(s, 1) for s in pos] + [(s, 0) for s in neg])
    rank_sum, i = 0.0, 0
    while i < len(order):
        j = i
        while j < len(order) and order[j][0] == order[i][0]:
            j += 1
        mid = (i + j + 1) / 2  # average 1-based rank of the tie block
        rank_sum += mid * sum(1 for k in range(i, j) if order[k][1])
        i = j
    return (rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


def quality(labels: Sequence[int], scores: Sequence[float], threshold: float) -> dict[str, Any]:
    """Precision, recall, F1 at ``threshold``, AUROC, and the false-positive rate."""
    tp = sum(1 for y, s in zip(labels, scores, strict=True) if y and s >= threshold)
    fp = sum(1 for y, s in zip(labels, scores, strict=True) if not y and s >= threshold)
    pos = sum(labels)
    neg = len(labels) - pos
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / pos if pos else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    area = auroc(labels, scores)
    return {
        "n": len(labels),
        "positives": pos,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "auroc": None if area is None else round(area, 4),
        "fpr": round(fp / neg, 4) if neg else None,
    }


def evaluate(
    name: str, test: Sequence[Example], weights_dir: Path, extra_benign: Sequence[str], category_heads: Sequence[str]
) -> dict[str, Any]:
    """Held-out metrics of the shipped detector, per source, per category head, and FPR on unseen benign."""
    learned.shipped_model.cache_clear()
    det = get_detector(name, weights_dir=str(weights_dir))
    found = [det.find(r.text) for r in test]
    scores = [f.score for f in found]
    labels = [r.label for r in test]
    out: dict[str, Any] = {"threshold": det.threshold, "held_out": quality(labels, scores, det.threshold)}
    by_source: dict[str, Any] = {}
    for source in sorted({r.source for r in test}):
        idx = [i for i, r in enumerate(test) if r.source == source]
        q = quality([labels[i] for i in idx], [scores[i] for i in idx], det.threshold)
        by_source[source] = {k: q[k] for k in ("n", "positives", "recall", "fpr")}
    out["by_source"] = by_source
    cats = {c for f in found for c in f.categories}
    out["categories_auroc_among_positives"] = {
        c: _round(
            auroc(
                [int(c in r.categories) for r in test if r.label],
                [f.categories[c] for r, f in zip(test, found, strict=True) if r.label],
            )
        )
        for c in sorted(cats)
        if c in category_heads
    }
    hr = det.operating_points().get("high_recall")
    if hr is not None:
        out["held_out_high_recall"] = {"threshold": hr, **quality(labels, scores, hr)}
    out["contrast_held_out"] = contrast_figures(det, name)
    unseen = [det.find(t).score for t in extra_benign]
    out["fpr_unseen_benign"] = {
        "source": "self-instruct-benign/user_oriented_instructions.jsonl (never trained on)",
        "n": len(unseen),
        "fpr": round(sum(s >= det.threshold for s in unseen) / len(unseen), 4),
    }
    return out


def contrast_figures(det: Any, name: str, seed: int = 0) -> dict[str, Any]:
    """Per held-out contrast family (templates and slot values never trained on): texts, and the share
    flagged at each operating point (recall for a positive family, FPR for a look-alike one). Computed
    on the generator's output as is, so a test can regenerate it without the shared data."""
    if name not in contrast_data.FAMILIES:
        return {}
    out: dict[str, Any] = {}
    points = det.operating_points()
    by_family: dict[str, list[Example]] = {}
    for ex in contrast_data.contrasts(name, seed, sides=("test",)):
        by_family.setdefault(ex.source, []).append(ex)
    for family, rows in by_family.items():
        scores = [det.find(r.text).score for r in rows]
        flagged = {p: round(sum(s >= t for s in scores) / len(scores), 4) for p, t in sorted(points.items())}
        out[family] = {"label": rows[0].label, "n": len(rows), "flagged": flagged}
    return out


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 4)
