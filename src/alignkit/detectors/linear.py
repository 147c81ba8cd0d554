"""Hashed n-gram linear classifiers in pure Python: the inference behind the learned detectors.

A text becomes tokens: lower-cased, split on whitespace and on the characters that join the parts of
an identifier or a call in code (``_ ( ) [ ] { } =``), so ``instruction_index):`` is the words
``instruction`` and ``index):``. Each token contributes a fixed set of hashed features: the word with
its edge punctuation stripped, the word's character 3-5-grams within word boundaries (UTF-8 bytes of
``" word "``), and the stripped punctuation; each pair of adjacent words adds a bigram feature. A
feature is a bucket in ``[0, 2**bits)`` taken from ``zlib.crc32``, which is stable across processes and
platforms (Python's ``hash()`` is salted per process, so it cannot index shipped weights).

A window's features are a set, not a bag: each distinct token (with its distinct n-grams) and each
distinct bigram counts once. Repeating a phrase therefore adds nothing ("hello world" a thousand times
reads like "hello world hello"), one character repeated a million times is one short token, and code
that uses ``lines`` ten ways (``lines[i]``, ``lines.pop()``, ``len(lines)``) mostly repeats the token
``lines``: neither repetition nor a degenerate text can push a score up (issue 12: with counts, the
logit grew with the repetitions).

A head is a logistic regression over those features divided by ``sqrt(n)``, ``n`` the number of
features, so its logit is ``bias + scale * (sum of int8 weights of the features) / sqrt(n)``: int8 keeps
the shipped weights small, and the scale and bias already include the Platt calibration, so the sigmoid
of the logit is the probability. Every token-level feature depends on the token alone, so a head
memoizes each token's weight sum: a 300-character text then costs one dict lookup per distinct token
and one array lookup per distinct bigram, per head, whatever the n-gram orders.

Texts longer than a model's window (its manifest's ``window`` tokens, every ``stride`` tokens; about
the length of what the model looks for, 16 to 64 tokens) are scored in overlapping windows and the
highest window wins, so an insult or an instruction buried in a long document is not diluted by the
rest of it (the trainer adds long benign documents, and positives embedded in them, so that a window
of ordinary prose or code stays low however long the document).
Training (``scripts/train_detectors.py``) uses :meth:`Featurizer.window_buckets`, the same features, so
a head's logit here equals the dot product the trainer optimised (a test checks it).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import math
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Callable, Hashable, Sequence, Set
from dataclasses import dataclass
from itertools import accumulate, pairwise
from pathlib import Path
from typing import Any, Generic, TypeVar

CHAR_NGRAMS = (3, 4, 5)  # orders of the character n-grams inside each word
MAX_WORD_CHARS = 32  # longer words are hashed from their first 32 characters (bounds hostile input)
WINDOW = 256  # tokens per scored window; most prompts fit in one
STRIDE = 128  # windows overlap by half, so a short passage is never split between two
# Tokens remembered before a memo starts over: bounds memory on a hostile stream of unique tokens.
TOKEN_MEMO_LIMIT = 50_000  # the featurizer's (token -> features), shared by every model
HEAD_MEMO_LIMIT = 20_000  # each head's (token -> weight sum)

# Punctuation stripped from the edges of a word (and hashed as its own feature).
EDGE_PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~“”‘’«»…–—"

_SEED_WORD = zlib.crc32(b"word:")
_SEED_CHAR = zlib.crc32(b"char:")
_SEED_PUNCT = zlib.crc32(b"punct:")
_CODE_JOINERS = str.maketrans(dict.fromkeys("_()[]{}=", " "))  # split like whitespace (see the docstring)
_BIGRAM_MIX = 0x9E3779B1  # odd 32-bit constant (golden ratio): spreads the first word's hash

V = TypeVar("V")


class Memo(dict[str, V], Generic[V]):
    """A dict that fills missing keys with ``fn(key)`` and starts over past ``limit`` entries.

    ``map(memo.__getitem__, keys)`` then runs at C speed for every key seen before. Keys longer than
    ``max_key_len`` are computed but not kept, so one huge token cannot pin memory.
    """

    def __init__(self, fn: Callable[[str], V], limit: int, max_key_len: int = 4 * MAX_WORD_CHARS) -> None:
        super().__init__()
        self._fn = fn
        self._limit = limit
        self._max_key_len = max_key_len

    def __missing__(self, key: str) -> V:
        value = self._fn(key)
        if len(key) <= self._max_key_len:
            if len(self) >= self._limit:
                self.clear()
            self[key] = value
        return value


@dataclass(frozen=True, slots=True)
class TokenFeatures:
    """The hashed features of one whitespace token."""

    word_hash: int  # 32-bit crc of the stripped word: combined with the next word's into a bigram
    buckets: tuple[int, ...]  # the word, its distinct character n-grams and its edge punctuation


@dataclass(frozen=True)
class TextFeatures:
    """One text, ready for any head: its tokens, its bigram buckets, each token's feature count, and
    the whole text's distinct features (what a text that fits in one window is scored on)."""

    tokens: tuple[str, ...]
    bigrams: tuple[int, ...]  # bigrams[i] joins tokens[i] and tokens[i + 1]
    counts: tuple[int, ...]  # features of each token
    distinct: dict[str, int]  # each distinct token -> its feature count
    distinct_bigrams: frozenset[int]
    n_features: int  # of the whole text, each distinct token and bigram once

    @functools.cached_property
    def repeated(self) -> tuple[list[int], list[int], list[int], list[int]]:
        """Positions of the tokens that occurred before, where each last did, and the same for bigrams: a
        window ``[s, e)`` counts a token at ``i`` again exactly when its last occurrence is ``>= s``."""
        return (*_repeats(self.tokens), *_repeats(self.bigrams))

    def span(self, start: int, end: int) -> tuple[dict[str, int], Set[int]]:
        """The distinct tokens of ``tokens[start:end]`` (with their feature counts) and the distinct
        bigrams joining them: the set of features a window is scored on."""
        if start == 0 and end >= len(self.tokens):
            return self.distinct, self.distinct_bigrams
        return dict(zip(self.tokens[start:end], self.counts[start:end], strict=True)), set(
            self.bigrams[start : end - 1]
        )


def _repeats(items: Sequence[Hashable]) -> tuple[list[int], list[int]]:
    """The positions of the items seen before, and where each was last seen."""
    last: dict[Hashable, int] = {}
    at, before = [], []
    for i, item in enumerate(items):
        j = last.get(item, -1)
        if j >= 0:
            at.append(i)
            before.append(j)
        last[item] = i
    return at, before


class Featurizer:
    """Text to hashed features, with each token's features memoized (shared by every head)."""

    def __init__(self, bits: int = 18) -> None:
        if not 8 <= bits <= 24:
            raise ValueError(f"bucket bits must be in 8..24; got {bits}")
        self.bits = bits
        self.mask = (1 << bits) - 1
        self.token: Memo[TokenFeatures] = Memo(self._token_features, TOKEN_MEMO_LIMIT)

    def _token_features(self, token: str) -> TokenFeatures:
        word = token.strip(EDGE_PUNCT) or token
        core = word[:MAX_WORD_CHARS].encode("utf-8", "surrogatepass")
        mask = self.mask
        word_hash = zlib.crc32(core, _SEED_WORD)
        buckets = [word_hash & mask]
        padded = b" " + core + b" "
        for n in CHAR_NGRAMS:
            buckets += [zlib.crc32(padded[i : i + n], _SEED_CHAR) & mask for i in range(len(padded) - n + 1)]
        if word is not token:
            start = token.find(word)
            for affix in (token[:start], token[start + len(word) :]):
                if affix:
                    data = affix[:8].encode("utf-8", "surrogatepass")
                    buckets.append(zlib.crc32(data, _SEED_PUNCT) & mask)
        return TokenFeatures(word_hash, tuple(dict.fromkeys(buckets)))  # distinct: "aaaa..." is not 30 "aaa"s

    def analyse(self, text: str) -> TextFeatures:
        """Tokens, bigrams and feature counts of ``text`` (linear in its length)."""
        tokens = text.lower().translate(_CODE_JOINERS).split()
        infos = list(map(self.token.__getitem__, tokens))
        hashes = [f.word_hash for f in infos]
        mask = self.mask
        bigrams = tuple([((a * _BIGRAM_MIX) ^ b) & mask for a, b in pairwise(hashes)])
        counts = tuple([len(f.buckets) for f in infos])
        distinct, distinct_bigrams = dict(zip(tokens, counts, strict=True)), frozenset(bigrams)
        n = sum(distinct.values()) + len(distinct_bigrams)
        return TextFeatures(tuple(tokens), bigrams, counts, distinct, distinct_bigrams, n)

    def window_buckets(self, text: str, window: int = WINDOW, stride: int = STRIDE) -> list[list[int]]:
        """The features of each window (see :func:`windows`; distinct tokens and bigrams, as
        :meth:`TextFeatures.span` says): the trainer's rows."""
        f = self.analyse(text)
        out = []
        for start, end in windows(len(f.tokens), window, stride):
            tokens, bigrams = f.span(start, end)
            buckets: list[int] = []
            for token in tokens:
                buckets += self.token[token].buckets
            out.append(buckets + sorted(bigrams))
        return out


def windows(n_tokens: int, window: int = WINDOW, stride: int = STRIDE) -> list[tuple[int, int]]:
    """The (start, end) token ranges scored in a text of ``n_tokens``: all of it when it fits in one
    window, else windows every ``stride`` tokens, the last one flush with the end."""
    if n_tokens <= window:
        return [(0, n_tokens)] if n_tokens else []
    return [(s, s + window) for s in [*range(0, n_tokens - window, stride), n_tokens - window]]


@dataclass(frozen=True, slots=True)
class Head:
    """One calibrated logistic regression: ``sigmoid(bias + scale * sum(int8 weights) / sqrt(n))``."""

    name: str
    weights: array[int]  # array('b'): one int8 weight per bucket
    scale: float
    bias: float


class LinearModel:
    """Heads sharing one featurizer; each head memoizes the weight sum of every token it has seen."""

    def __init__(
        self,
        featurizer: Featurizer,
        heads: Sequence[Head],
        info: dict[str, Any] | None = None,
        window: int = WINDOW,
        stride: int = STRIDE,
    ) -> None:
        if not 0 < stride <= window:
            raise ValueError(f"need 0 < stride <= window; got stride {stride}, window {window}")
        for h in heads:
            if len(h.weights) != featurizer.mask + 1:
                raise ValueError(f"head {h.name!r}: {len(h.weights)} weights for {featurizer.mask + 1} buckets")
        self.featurizer = featurizer
        self.heads = {h.name: h for h in heads}
        self.info = info or {}
        self.window, self.stride = window, stride
        self._token_sums = {h.name: Memo(self._token_sum_fn(h), HEAD_MEMO_LIMIT) for h in heads}

    def _token_sum_fn(self, head: Head) -> Callable[[str], int]:
        get_weight = head.weights.__getitem__
        token = self.featurizer.token

        def token_sum(t: str) -> int:
            return sum(map(get_weight, token[t].buckets))

        return token_sum

    def logit(self, f: TextFeatures, head: str) -> float:
        """The head's logit for the highest-scoring window; ``-inf`` for a text without tokens."""
        if not f.tokens:
            return -math.inf
        h = self.heads[head]
        sums = self._token_sums[head]
        weight = h.weights.__getitem__
        if len(f.tokens) <= self.window:  # most prompts: one window, the whole text's features
            total = sum(map(sums.__getitem__, f.distinct)) + sum(map(weight, f.distinct_bigrams))
            return h.bias + h.scale * total / math.sqrt(f.n_features)
        # Prefix sums give each window's bag in O(1); then each repeat inside the window is taken out
        # again (bisect finds them), so a long text costs O(tokens + repeats per window).
        t_sum, b_sum = list(map(sums.__getitem__, f.tokens)), list(map(weight, f.bigrams))
        tok, big, cnt = ([0, *accumulate(v)] for v in (t_sum, b_sum, f.counts))
        t_at, t_before, b_at, b_before = f.repeated
        best = -math.inf
        for s, e in windows(len(f.tokens), self.window, self.stride):
            total, n = tok[e] - tok[s] + big[e - 1] - big[s], cnt[e] - cnt[s] + e - s - 1
            for k in range(bisect_left(t_at, s), bisect_left(t_at, e)):
                if t_before[k] >= s:
                    total -= t_sum[t_at[k]]
                    n -= f.counts[t_at[k]]
            for k in range(bisect_left(b_at, s), bisect_left(b_at, e - 1)):
                if b_before[k] >= s:
                    total -= b_sum[b_at[k]]
                    n -= 1
            best = max(best, h.bias + h.scale * total / math.sqrt(n))
        return best

    def probability(self, f: TextFeatures, head: str) -> float:
        return sigmoid(self.logit(f, head))


def sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x) if x > -745 else 0.0
    return z / (1.0 + z)


# -- files ------------------------------------------------------------------------------------------
# A model is a JSON manifest (heads, bucket bits, provenance, metrics) beside a gzip'd file of int8
# weights, head after head. The manifest records the weights file's sha256, checked on load.


def save_model(
    manifest_path: Path,
    bits: int,
    heads: Sequence[Head],
    info: dict[str, Any],
    window: int = WINDOW,
    stride: int = STRIDE,
) -> dict[str, Any]:
    """Write ``NAME.json`` and ``NAME.i8.gz``; returns the manifest written."""
    blob = b"".join(h.weights.tobytes() for h in heads)
    weights_path = manifest_path.with_suffix(".i8.gz")
    # mtime=0 and no file name: the same weights always give the same bytes (reproducible builds).
    packed = gzip.compress(blob, compresslevel=9, mtime=0)
    weights_path.write_bytes(packed)
    manifest = {
        "format": "alignkit-hashed-linear/1",
        "bucket_bits": bits,
        "char_ngrams": list(CHAR_NGRAMS),
        "window": window,
        "stride": stride,
        "weights_file": weights_path.name,
        "weights_sha256": hashlib.sha256(packed).hexdigest(),
        "heads": [{"name": h.name, "scale": h.scale, "bias": h.bias} for h in heads],
        **info,
    }
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=False) + "\n")
    return manifest


def read_weights(manifest_path: Path, manifest: dict[str, Any]) -> bytes:
    """The unpacked bytes of the gzip weights file a manifest names, once its sha256 matches the
    manifest's (shared by every loader of int8 weights beside a JSON manifest)."""
    packed = (manifest_path.parent / manifest["weights_file"]).read_bytes()
    if hashlib.sha256(packed).hexdigest() != manifest["weights_sha256"]:
        raise ValueError(f"{manifest_path}: weights file does not match its sha256; reinstall alignkit")
    return gzip.decompress(packed)


def load_model(manifest_path: Path, featurizer: Callable[[int], Featurizer] = Featurizer) -> LinearModel:
    """Read a model written by :func:`save_model` (checking the weights file's sha256).

    ``featurizer(bits)`` builds the featurizer; pass a shared one so models share token features.
    """
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("format") != "alignkit-hashed-linear/1":
        raise ValueError(f"{manifest_path}: not an alignkit hashed-linear model manifest")
    if tuple(manifest["char_ngrams"]) != CHAR_NGRAMS:
        raise ValueError(f"{manifest_path}: trained with other features; retrain with this alignkit version")
    bits = int(manifest["bucket_bits"])
    flat = array("b", read_weights(manifest_path, manifest))
    size = 1 << bits
    heads = [
        Head(h["name"], flat[i * size : (i + 1) * size], float(h["scale"]), float(h["bias"]))
        for i, h in enumerate(manifest["heads"])
    ]
    return LinearModel(featurizer(bits), heads, manifest, int(manifest["window"]), int(manifest["stride"]))
