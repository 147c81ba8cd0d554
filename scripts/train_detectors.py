"""Train the learned detectors' shipped weights: toxicity, jailbreak, prompt_injection, harmful_request.

    python scripts/train_detectors.py                    # all four, into src/alignkit/detectors/weights/
    python scripts/train_detectors.py jailbreak --out /tmp/weights

For each detector: load its examples and fixed held-out split (``scripts/detector_data.py``), featurize
the training part with the package's own :class:`~alignkit.detectors.linear.Featurizer`, and fit one
L2-regularised logistic regression per head (scikit-learn liblinear, deterministic). The regularisation
strength is picked per head by grouped cross-validation AUROC (folds keep near-duplicate groups whole),
and the same out-of-fold scores fit the Platt calibration. The weights are quantized to int8 and written
with a manifest: data files with sha256 and rows, seed, hyper-parameters, split sizes, and the held-out
metrics, measured by running the shipped detector class on the held-out texts, so the recorded figures
are what users get (de-obfuscation, windows and int8 included).

Needs the train extra (numpy, scikit-learn); inference needs neither.

Order matters once: harmful_answer's HH negatives are picked with the *installed* harmful_request
weights, so after retraining harmful_request into the package, retrain harmful_answer (a test notices:
its recorded held-out split would no longer match).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))
import answer_data
import contrast_data
import detector_data as dd

from alignkit._version import __version__
from alignkit.detectors import learned
from alignkit.detectors.base import get_detector
from alignkit.detectors.linear import STRIDE, WINDOW, Featurizer, Head, save_model, windows
from alignkit.detectors.normalize import normalize

WEIGHTS_DIR = dd.REPO / "src" / "alignkit" / "detectors" / "weights"


@dataclass(frozen=True)
class TrainConfig:
    seed: int = 0  # fills templates and samples the benign pools; the split itself is seed-free
    bucket_bits: int = 18  # 2**18 buckets: few collisions among ~10^5 n-grams; 256 KiB of int8 per head
    # Inverse L2 strength, picked per head by grouped CV. Capped at 16: weaker regularisation won CV by a
    # hair but put large weights on everyday words ("how", "what's"), which raised false positives on
    # text unlike the training data.
    c_grid: tuple[float, ...] = (1.0, 4.0, 16.0)
    folds: int = 5  # grouped cross-validation folds (choice of C and the Platt fit)
    clip_quantile: float = 0.9995  # int8 scale covers |w| up to this quantile; rarer extremes are clipped
    balanced: bool = True  # weight classes equally when fitting the weights (rare classes still count)
    # Platt-calibrate on the training mix as it is, not re-balanced: most detectors see several benign
    # texts per harmful one, as in use, so a score is P(positive) for text drawn like the training data.
    calibrate_to_mix: bool = True
    # A source with more training texts than this weighs as if it had this many: 19,000 Davidson tweets
    # otherwise outvote every other source of toxicity, and the head learns tweets rather than toxicity.
    source_cap: int = 2000


# Heads of each model: (name, which training rows it sees, its target). Category heads are conditional:
# they see only positive rows and say which kind of harm (or toxicity) it is.
Row = dd.Example
HeadSpec = tuple[str, Callable[[Row], bool], Callable[[Row], int]]


def _all(r: Row) -> bool:
    return True


def _positive(r: Row) -> bool:
    return r.label == 1


def _has(category: str) -> Callable[[Row], int]:
    return lambda r: int(category in r.categories)


HEADS: dict[str, list[HeadSpec]] = {
    "toxicity": [("toxic", _all, lambda r: r.label), ("hate", _positive, _has("hate"))],
    "jailbreak": [("jailbreak", _all, lambda r: r.label)],
    "prompt_injection": [("injection", _all, lambda r: r.label)],
    "harmful_request": [("harmful", _all, lambda r: r.label)] + [(c, _positive, _has(c)) for c in learned.HAZARDS],
    "harmful_answer": [("harmful_help", _all, lambda r: r.label)],
}
# Detectors whose default threshold is an operating point picked on held-out data (written to the manifest
# before the held-out metrics are measured at it).
OPERATING_POINTS = {"harmful_answer": answer_data.operating_points}


# Tokens per scored window (and stride). prompt_injection looks for a short passage inside a document,
# so it scores short windows and is trained on them: windows covering an inserted injection are
# positive, the rest of that document's windows negative. The others judge a prompt as a whole.
WINDOWS = {"prompt_injection": (32, 16)}


# -- features ---------------------------------------------------------------------------------------
def design(
    featurizer: Featurizer,
    rows_of: Sequence[Row],
    window: int = WINDOW,
    stride: int = STRIDE,
) -> tuple[csr_matrix, np.ndarray, np.ndarray]:
    """One row per scored window (feature counts / sqrt(n), as at inference), each row's text index,
    and each row's label (the text's, or for a text with an inserted payload: does the window cover it)."""
    rows, cols, vals, owner, labels = [], [], [], [], []
    for i, ex in enumerate(rows_of):
        text = normalize(ex.text)
        span = payload_span(featurizer, text, ex.payload) if ex.payload else None
        spans = windows(len(featurizer.analyse(text).tokens), window, stride)
        for (start, end), buckets in zip(spans, featurizer.window_buckets(text, window, stride), strict=True):
            r = len(owner)
            owner.append(i)
            labels.append(ex.label if span is None else int(_covers(start, end, span)))
            v = 1.0 / math.sqrt(len(buckets))
            rows += [r] * len(buckets)
            cols += buckets
            vals += [v] * len(buckets)
    x = csr_matrix((vals, (rows, cols)), shape=(len(owner), 1 << featurizer.bits), dtype=np.float64)
    x.sum_duplicates()
    return x, np.asarray(owner), np.asarray(labels)


def payload_span(featurizer: Featurizer, text: str, payload: str) -> tuple[int, int] | None:
    """Token range of ``payload`` inside ``text`` (None if it cannot be found verbatim)."""
    tokens = featurizer.analyse(text).tokens
    needle = tuple(normalize(payload).lower().split())
    for i in range(len(tokens) - len(needle) + 1):
        if tokens[i : i + len(needle)] == needle:
            return i, i + len(needle)
    return None


def _covers(start: int, end: int, span: tuple[int, int]) -> bool:
    """A window shows the payload when it holds half of it (or half a window of it, if longer)."""
    overlap = min(end, span[1]) - max(start, span[0])
    return overlap >= max(1, min(span[1] - span[0], end - start) // 2)


def text_max(decision: np.ndarray, owner: np.ndarray, n_texts: int) -> np.ndarray:
    """Per text, the highest window score (what inference keeps)."""
    out = np.full(n_texts, -np.inf)
    np.maximum.at(out, owner, decision)
    return out


# -- one head ---------------------------------------------------------------------------------------
def row_weights(
    owner: np.ndarray, row_y: np.ndarray, n_texts: int, balanced: bool, text_w: np.ndarray | None = None
) -> np.ndarray:
    """Each text weighs 1 (or ``text_w``) per label among its windows (most texts: one label, one
    window); with ``balanced``, the two classes then weigh the same in total."""
    key = owner * 2 + row_y
    row_w = 1.0 / np.bincount(key)[key]
    if text_w is not None:
        row_w = row_w * text_w[owner]
    if balanced:
        totals = {c: row_w[row_y == c].sum() for c in (0, 1)}
        row_w = row_w * np.where(row_y == 1, 0.5 / max(totals[1], 1e-9), 0.5 / max(totals[0], 1e-9)) * n_texts
    return row_w


def source_weights(rows: Sequence[Row], cap: int) -> np.ndarray:
    """Per text: ``min(1, cap / texts of its source)`` (a contrast family and its in-document copies
    are one source)."""
    sources = [r.source.removesuffix("+document") for r in rows]
    counts = Counter(sources)
    return np.array([min(1.0, cap / counts[s]) for s in sources])


def logistic(c: float, seed: int) -> LogisticRegression:
    """The head's learner: L2 logistic regression (liblinear is deterministic for a given seed)."""
    return LogisticRegression(C=c, solver="liblinear", max_iter=1000, random_state=seed)


def fit_head(
    x: csr_matrix,
    owner: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    cfg: TrainConfig,
    row_y: np.ndarray | None = None,
    text_w: np.ndarray | None = None,
) -> tuple[np.ndarray, float, dict[str, Any]]:
    """Fit a calibrated head on window rows; scored (cross-validation, Platt) per text as the highest
    window, like inference. Returns (weights, bias, report), with Platt folded into both."""
    n = len(y)
    row_y = y[owner] if row_y is None else row_y
    class_w = {c: n / (2.0 * max(1, int((y == c).sum()))) for c in (0, 1)} if cfg.balanced else {0: 1.0, 1: 1.0}
    row_w = row_weights(owner, row_y, n, cfg.balanced, text_w)

    def model(c: float) -> LogisticRegression:
        return logistic(c, cfg.seed)

    folds = list(GroupKFold(n_splits=min(cfg.folds, len(set(groups)))).split(np.zeros(n), y, groups))
    best: tuple[float, float, np.ndarray] | None = None
    cv_auroc = {}
    for c in cfg.c_grid:
        oof = np.zeros(n)
        for train_t, val_t in folds:
            tr = np.isin(owner, train_t)
            m = model(c).fit(x[tr], row_y[tr], sample_weight=row_w[tr])
            va = np.isin(owner, val_t)
            oof[val_t] = text_max(m.decision_function(x[va]), owner[va], n)[val_t]
        auc = float(roc_auc_score(y, oof))
        cv_auroc[c] = round(auc, 4)
        if best is None or auc > best[0] + 1e-4:
            best = (auc, c, oof)
    assert best is not None
    auc, c, oof = best
    # Platt: P = sigmoid(a * raw + b), fit on the out-of-fold scores.
    platt_w = np.ones(n) if cfg.calibrate_to_mix else np.array([class_w[int(v)] for v in y])
    platt = LogisticRegression(C=1e4, solver="lbfgs").fit(oof.reshape(-1, 1), y, sample_weight=platt_w)
    a, b = float(platt.coef_[0, 0]), float(platt.intercept_[0])
    final = model(c).fit(x, row_y, sample_weight=row_w)
    w = final.coef_[0] * a
    bias = float(final.intercept_[0]) * a + b
    oof_prob = 1.0 / (1.0 + np.exp(-(a * oof + b)))
    report = {
        "_oof_prob": oof_prob,  # per text, out of fold: train() picks operating points from it, then drops it
        "C": c,
        "cv_auroc_by_C": {str(k): v for k, v in cv_auroc.items()},
        "platt": [round(a, 4), round(b, 4)],
        "rows": n,
        "positives": int(y.sum()),
    }
    return w, bias, report


def quantize(w: np.ndarray, clip_quantile: float) -> tuple[np.ndarray, float]:
    """int8 weights and the scale that maps them back (``w ~ q * scale``)."""
    nonzero = np.abs(w[w != 0])
    top = float(np.quantile(nonzero, clip_quantile)) if len(nonzero) else 1.0
    scale = top / 127.0 if top > 0 else 1.0
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    return q, scale


# -- operating points -------------------------------------------------------------------------------
MAX_LOOKALIKE_FPR = 0.02  # default threshold: at most this share of benign look-alikes flagged
HIGH_RECALL = 0.95  # high_recall threshold: this share of training positives flagged ...
MAX_HIGH_RECALL_FPR = 0.10  # ... unless that flags more than this share of negatives


def is_lookalike(r: Row) -> bool:
    """Benign texts that resemble positives (our contrast families and hand-written look-alikes) or
    that a guard meets in bulk (long documents: licences, code, logs)."""
    return r.label == 0 and r.source.startswith(("contrast:", "handwritten", "document:"))


def oof_operating_points(train: Sequence[Row], oof: np.ndarray) -> dict[str, Any]:
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


# -- evaluation -------------------------------------------------------------------------------------
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


def evaluate(name: str, test: Sequence[Row], weights_dir: Path, extra_benign: Sequence[str]) -> dict[str, Any]:
    """Held-out metrics of the shipped detector, per source, per category, and FPR on unseen benign."""
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
    learned_cats = [h for h, _, _ in HEADS[name][1:]]
    out["categories_auroc_among_positives"] = {
        c: _round(
            auroc(
                [int(c in r.categories) for r in test if r.label],
                [f.categories[c] for r, f in zip(test, found, strict=True) if r.label],
            )
        )
        for c in sorted(cats)
        if c in learned_cats
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
    by_family: dict[str, list[Row]] = {}
    for ex in contrast_data.contrasts(name, seed, sides=("test",)):
        by_family.setdefault(ex.source, []).append(ex)
    for family, rows in by_family.items():
        scores = [det.find(r.text).score for r in rows]
        flagged = {p: round(sum(s >= t for s in scores) / len(scores), 4) for p, t in sorted(points.items())}
        out[family] = {"label": rows[0].label, "n": len(rows), "flagged": flagged}
    return out


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


# -- one detector -----------------------------------------------------------------------------------
def train(name: str, cfg: TrainConfig, out_dir: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    data, files = dd.load(name, cfg.seed)
    featurizer = Featurizer(cfg.bucket_bits)
    window, stride = WINDOWS.get(name, (WINDOW, STRIDE))
    x, owner, window_y = design(featurizer, data.train, window, stride)
    heads, reports = [], {}
    points: dict[str, Any] = {}
    for head, selects, target in HEADS[name]:
        keep = np.array([selects(r) for r in data.train])
        idx = np.flatnonzero(keep)
        y = np.array([target(r) for r in data.train])[idx]
        rows = np.isin(owner, idx)
        remap = np.full(len(data.train), -1)
        remap[idx] = np.arange(len(idx))
        groups = np.array([data.train[i].group for i in idx])
        own_windows = window_y[rows] if head == HEADS[name][0][0] else None  # the main head only
        text_w = source_weights([data.train[i] for i in idx], cfg.source_cap)
        w, bias, report = fit_head(x[rows], remap[owner[rows]], y, groups, cfg, own_windows, text_w)
        oof_prob = report.pop("_oof_prob")
        if head == HEADS[name][0][0]:
            points = oof_operating_points(data.train, oof_prob)
        q, scale = quantize(w, cfg.clip_quantile)
        report["nonzero_int8"] = int((q != 0).sum())
        heads.append(Head(head, _int8_array(q), scale, bias))
        reports[head] = report
        print(f"  {name}/{head}: C={report['C']} cv_auroc={report['cv_auroc_by_C']} rows={report['rows']}", flush=True)
    train_s = time.perf_counter() - t0
    held_out_keys = sorted(dd.text_key(r.text) for r in data.test)
    info = {
        "detector": name,
        "trained_by": "scripts/train_detectors.py",
        "alignkit_version": __version__,
        "seed": cfg.seed,
        "hyperparameters": {**asdict(cfg), "head_training": reports},
        "data": files.used,
        "operating_points": points,
        "split": {
            "rule": f"near-duplicate groups (TF-IDF cosine >= {dd.GROUP_COSINE}); a group is held out when "
            f"sha256(its smallest text key) % 100 < {dd.HELD_OUT_PERCENT}; BIPIA keeps its own train/test",
            "train": dict(Counter(f"label_{r.label}" for r in data.train)),
            "test": dict(Counter(f"label_{r.label}" for r in data.test)),
            "dropped": data.dropped,
            "held_out_sha256": hashlib.sha256("\n".join(held_out_keys).encode()).hexdigest(),
        },
    }
    manifest_path = out_dir / f"{name}.json"
    save_model(manifest_path, cfg.bucket_bits, heads, info, window, stride)
    if name in OPERATING_POINTS:
        OPERATING_POINTS[name](manifest_path, data.test, files)
    metrics = evaluate(name, data.test, out_dir, dd.user_oriented(files))
    manifest = json.loads(manifest_path.read_text())
    manifest["metrics"] = metrics
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"  {name}: trained in {train_s:.1f}s; held-out {metrics['held_out']}", flush=True)
    return manifest


def _int8_array(q: np.ndarray) -> Any:
    from array import array

    return array("b", q.tobytes())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("detectors", nargs="*", metavar="DETECTOR", help=f"any of {', '.join(HEADS)} (default: all)")
    ap.add_argument("--out", type=Path, default=WEIGHTS_DIR, help="folder for NAME.json + NAME.i8.gz")
    ap.add_argument("--seed", type=int, default=TrainConfig.seed)
    a = ap.parse_args()
    unknown = set(a.detectors) - set(HEADS)
    if unknown:
        ap.error(f"unknown detector(s) {sorted(unknown)}; choose from {list(HEADS)}")
    a.out.mkdir(parents=True, exist_ok=True)
    cfg = TrainConfig(seed=a.seed)
    for name in a.detectors or list(HEADS):
        print(f"training {name}", flush=True)
        t = time.perf_counter()
        train(name, cfg, a.out)
        print(f"  {name}: done in {time.perf_counter() - t:.1f}s (training + held-out evaluation)", flush=True)


if __name__ == "__main__":
    main()
