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
from array import array
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
import detector_data as dd
import long_texts
from detector_metrics import auroc as auroc  # re-exported: answer_data and the benches use it from here
from detector_metrics import evaluate, oof_operating_points
from detector_metrics import quality as quality  # re-exported, as auroc

from alignkit._version import __version__
from alignkit.detectors import learned
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
    """A positive on its own (category heads say which harm; a positive embedded in a document would
    give its document's windows the category too)."""
    return r.label == 1 and r.payload is None


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


# Tokens per scored window (and stride) where not WINDOW/STRIDE (256/128): about the length of what the
# detector looks for, so that a positive inside a long document fills most of a window instead of being
# diluted by the document's words, and a long benign document cannot drift up (its many mildly positive
# words add up less in a short window). harmful_request and harmful_answer judge a request or an answer
# as a whole: 32-token windows of licence prose read like requests to them (issue 12).
WINDOWS = {
    "toxicity": (16, 4),  # an insult or a slur: a sentence (stride 4: any 12 tokens lie whole in one window)
    "prompt_injection": (32, 16),  # an instruction hidden in content
    "jailbreak": (64, 32),  # a wrapper: a persona, rules to drop, a format to force
}
# Detectors whose training positives are also embedded in long documents (windows covering them positive,
# the rest negative). Measured per detector: it lifted jailbreak's held-out contrast recall; toxicity's short
# windows alone find an insult inside a document (embedding cost it held-out recall, 0.72 -> 0.65);
# prompt_injection's own data already hides its injections in documents (more lowered its default point
# to 0.5 and flagged look-alikes); harmful_request lost held-out recall (0.69 -> 0.45) and kept licences flagged.
EMBEDDED = ("jailbreak",)


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
    needle = featurizer.analyse(normalize(payload)).tokens
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
    calibrate: np.ndarray | None = None,
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
    if calibrate is not None:  # texts left out of the calibration (the added long texts: not the mix)
        platt_w = platt_w * calibrate
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


def long_rows(
    featurizer: Featurizer, train: Sequence[Row], files: dd.DataFiles, seed: int, window: int, embed: bool
) -> list[Row]:
    """Long benign documents, degenerate texts and embedded positives (``scripts/long_texts.py``), added
    after the split; embedded rows whose payload cannot be found again are dropped (their every window
    would be labelled positive). Records the texts' digest with the data files."""
    rows = long_texts.training_rows(train, seed, window, embed)
    kept = [
        r
        for r in rows
        if featurizer.analyse(normalize(r.text)).tokens  # a ruler of "=" has no tokens, so no window to train on
        and (r.payload is None or payload_span(featurizer, normalize(r.text), r.payload))
    ]
    digest = hashlib.sha256("\n\0".join(r.text for r in kept).encode()).hexdigest()
    files.used["machine:long_texts"] = {"sha256": digest, "rows": len(kept)}
    print(f"  long texts: {len(kept)} rows added ({len(rows) - len(kept)} embedded rows dropped)", flush=True)
    return kept


# -- one detector -----------------------------------------------------------------------------------
def train(name: str, cfg: TrainConfig, out_dir: Path) -> dict[str, Any]:
    t0 = time.perf_counter()
    data, files = dd.load(name, cfg.seed)
    featurizer = Featurizer(cfg.bucket_bits)
    window, stride = WINDOWS.get(name, (WINDOW, STRIDE))
    n_mix = len(data.train)
    data.train.extend(long_rows(featurizer, data.train, files, cfg.seed, window, name in EMBEDDED))
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
        calibrate = idx < n_mix  # Platt on the training mix as it was; the long texts train the weights only
        w, bias, report = fit_head(x[rows], remap[owner[rows]], y, groups, cfg, own_windows, text_w, calibrate)
        oof_prob = report.pop("_oof_prob")
        if head == HEADS[name][0][0]:
            points = oof_operating_points(data.train, oof_prob)
        q, scale = quantize(w, cfg.clip_quantile)
        report["nonzero_int8"] = int((q != 0).sum())
        heads.append(Head(head, array("b", q.tobytes()), scale, bias))
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
    metrics = evaluate(name, data.test, out_dir, dd.user_oriented(files), [h for h, _, _ in HEADS[name][1:]])
    manifest = json.loads(manifest_path.read_text())
    manifest["metrics"] = metrics
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"  {name}: trained in {train_s:.1f}s; held-out {metrics['held_out']}", flush=True)
    return manifest


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
