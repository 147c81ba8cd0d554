"""A learned token tagger for person names and street addresses, in pure Python.

Patterns find names only in strong contexts ("my name is", titles); this tagger reads each token with
its neighbours, so it also finds "ask Aurelia Kowalczyk tomorrow" or a street on its own line. It is a
multinomial logistic regression over three classes per token (outside, PERSON, STREET_ADDRESS), the
outside class fixed at logit 0, trained by ``scripts/train_pii_tagger.py`` on a synthetic corpus
(``scripts/pii_corpus.py``: Faker names and addresses in many locales, in sentence shapes written for
it, with hard negatives: scientific, statistical and legal terms, title-case lines) and on chunks of
real benign text as negatives (abstracts, licence bodies, code). No gazetteer: a token is seen through
hashed features only.

Steps, for one text:
  1. Tokens: runs of non-space characters, with edge punctuation split off as its own token (``"Smith,"``
     is ``Smith`` and ``,``; inner apostrophes and hyphens stay: ``O'Brien``); a possessive ``'s`` is its
     own token; each line break is a token ``"\\n"``, so forms and letters keep their layout.
  2. Features of a token seen at offset ``k`` from the token being tagged (``k`` in ``-RADIUS..RADIUS``):
     at ``k = 0`` its lower-cased word, shape (``Xx``, ``d``, ``X.``), prefixes, suffixes, length and
     character trigrams; at other offsets its word and shape. Each feature is a crc32 bucket (stable
     across processes, unlike ``hash()``) salted by its offset.
  3. Every feature depends on one token and its offset, so a token's weight sums for all offsets and
     both classes are memoized (one tuple per distinct token); a position's logits are then sums of
     ``2 * RADIUS + 1`` memo entries: about a microsecond per token once the memo is warm.
  4. A token takes the class with the highest probability if that probability reaches the class's
     threshold; runs of a class become spans, trimmed of edge punctuation, scored by their tokens' mean
     probability. A one-word name must score at least a second, higher threshold: on benign text most
     false positives were single capitalised words. The thresholds are chosen on dev sentence families
     under a cap on spans per 1,000 characters of real benign dev text, and recorded in the manifest.

The weights are int8 (one scale and bias per class) in a gzip file beside a JSON manifest with the
corpus generator's seed and sha256, hyper-parameters and held-out metrics, checked by sha256 on load.
The trainer calls :func:`token_features` and :func:`tokenize` from here, so it optimises exactly the
features this module scores.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import math
import re
import zlib
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alignkit.core.records import Span
from alignkit.detectors.linear import Memo, read_weights

__all__ = ["CLASSES", "RADIUS", "Tagger", "shipped_tagger", "token_features", "tokenize"]

FORMAT = "alignkit-pii-tagger/1"
CLASSES = ("PERSON", "STREET_ADDRESS")  # besides "outside", whose logit is 0
# A one-word name ("Kevin", but also "License", "Bonferroni", "Australia" on benign text) must reach this
# threshold, at least the PERSON one; a name of two words or more needs only the PERSON threshold.
ONE_WORD = "PERSON_ONE_WORD"
RADIUS = 3  # neighbours seen on each side: "my name is X" and "lives at 12 X Road" fit
MAX_WORD_CHARS = 32  # longer tokens are featurized from their first 32 characters (bounds hostile input)
MEMO_LIMIT = 50_000  # distinct tokens remembered before the memo starts over
WEIGHTS = Path(__file__).parent / "weights" / "pii_tagger.json"

BOS, EOS, NEWLINE = "<s>", "</s>", "\n"
_TOKEN = re.compile(r"\S+|\n")
_EDGE = "!\"#$%&()*+,./:;<=>?@[\\]^_`{|}~“”‘’«»…–—-'"
_POSSESSIVE = ("'s", "’s")
_TITLES = frozenset("mr mrs ms mx miss dr prof sir dame rev herr frau sr sra".split())
_HEADING_CHARS = 160
_TITLE_CASE_FUNCTION_WORDS = frozenset("To And Of For With In On At By From The A An Or Into Over Under".split())
_MONTHS = frozenset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)


def tokenize(text: str) -> list[tuple[int, int]]:
    """(start, end) of each token, in order; one pass over the text (see the module docstring, step 1)."""
    out: list[tuple[int, int]] = []
    newline = False
    for m in _TOKEN.finditer(text):
        start, end = m.span()
        if text[start] == "\n":
            if not newline:  # a run of blank lines is one break
                out.append((start, end))
            newline = True
            continue
        newline = False
        a, b = start, end
        while a < b and text[a] in _EDGE:
            a += 1
        if a > start:
            out.append((start, a))  # leading punctuation, one token
        if a == b:
            continue
        while b > a and text[b - 1] in _EDGE:
            b -= 1
        tail = b
        if text.endswith(_POSSESSIVE, a, b) and b - a > 2:
            tail = b - 2
        out.append((a, tail))
        if tail < b:
            out.append((tail, b))
        if b < end:
            out.append((b, end))  # trailing punctuation, one token
    return out


def shape(word: str) -> str:
    """Character classes with runs collapsed: ``Smith`` -> ``Xx``, ``221B`` -> ``dX``, ``J.`` -> ``X.``."""
    out = []
    last = ""
    for ch in word[:MAX_WORD_CHARS]:
        c = "X" if ch.isupper() else "x" if ch.isalpha() else "d" if ch.isdigit() else ch
        if c != last:
            out.append(c)
            last = c
    return "".join(out)


def token_features(token: str) -> list[list[str]]:
    """The feature strings of ``token`` at each offset ``-RADIUS..RADIUS`` (index ``k + RADIUS``)."""
    word = token[:MAX_WORD_CHARS]
    low = word.lower()
    sh = shape(word)
    around = [f"w={low}", f"s={sh}"]
    centre = [f"w={low}", f"s={sh}", f"n={min(len(token), 12)}", f"W={word}"]
    centre += [f"p{i}={low[:i]}" for i in (1, 2, 3) if len(low) >= i]
    centre += [f"x{i}={low[-i:]}" for i in (1, 2, 3, 4) if len(low) >= i]
    padded = f" {low} "
    centre += [f"c={padded[i : i + 3]}" for i in range(len(padded) - 2)]
    return [centre if k == 0 else around for k in range(-RADIUS, RADIUS + 1)]


def bucket(feature: str, offset: int, mask: int) -> int:
    """The hashed bucket of one feature seen at ``offset`` (shared by training and inference)."""
    return zlib.crc32(feature.encode("utf-8", "surrogatepass"), offset & 0xFF) & mask


def token_buckets(token: str, mask: int) -> list[list[int]]:
    """The buckets of ``token``'s features at each offset (what the trainer's rows are made of)."""
    return [
        [bucket(f, k, mask) for f in feats]
        for k, feats in zip(range(-RADIUS, RADIUS + 1), token_features(token), strict=True)
    ]


@dataclass(frozen=True, slots=True)
class Tagged:
    """A span the tagger found: character offsets, class, and the mean probability of its tokens."""

    start: int
    end: int
    label: str
    score: float


class Tagger:
    """The shipped model: per class, int8 weights, a scale, a bias and a decision threshold."""

    def __init__(
        self, bits: int, weights: dict[str, array[int]], scale: dict[str, float], bias: dict[str, float],
        threshold: dict[str, float], info: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        self.bits, self.mask = bits, (1 << bits) - 1
        for c in CLASSES:
            if len(weights[c]) != 1 << bits:
                raise ValueError(f"pii tagger: {len(weights[c])} weights for class {c}, expected {1 << bits}")
        self.weights, self.scale, self.bias, self.threshold = weights, scale, bias, threshold
        self.info = info or {}
        self._memo: Memo[tuple[int, ...]] = Memo(self._token_sums, MEMO_LIMIT)

    def _token_sums(self, token: str) -> tuple[int, ...]:
        """For each offset, for each class: the sum of the token's int8 weights (slot ``2 * k + c``)."""
        w = [self.weights[c] for c in CLASSES]
        out = []
        for buckets in token_buckets(token, self.mask):
            out += [sum(map(wc.__getitem__, buckets)) for wc in w]
        return tuple(out)

    def logits(self, tokens: list[str]) -> list[tuple[float, float]]:
        """Per token, the (PERSON, STREET_ADDRESS) logits against the outside class."""
        n = len(tokens)
        if not n:
            return []
        sums = list(map(self._memo.__getitem__, [BOS] * RADIUS + tokens + [EOS] * RADIUS))
        out = []
        for c, name in enumerate(CLASSES):
            total = [0] * n
            for k in range(2 * RADIUS + 1):  # a token at offset k - RADIUS from position i is sums[i + k]
                slot = 2 * k + c
                total = [t + s[slot] for t, s in zip(total, sums[k : k + n], strict=True)]
            scale, bias = self.scale[name], self.bias[name]
            out.append([bias + scale * t for t in total])
        return list(zip(out[0], out[1], strict=True))

    def tag(self, text: str) -> list[Tagged]:
        """Spans of names and street addresses in ``text`` (step 4 of the module docstring)."""
        spans = tokenize(text)
        tokens = [text[a:b] for a, b in spans]
        labels: list[int] = []  # 0 outside, 1 PERSON, 2 STREET_ADDRESS
        probs: list[float] = []
        t_person, t_address = self.threshold[CLASSES[0]], self.threshold[CLASSES[1]]
        for a, b in self.logits(tokens):
            top = max(a, b, 0.0)
            ea, eb, eo = math.exp(a - top), math.exp(b - top), math.exp(-top)
            z = ea + eb + eo
            pa, pb = ea / z, eb / z
            if pa >= pb and pa >= t_person and pa * z > eo:
                labels.append(1)
                probs.append(pa)
            elif pb > pa and pb >= t_address and pb * z > eo:
                labels.append(2)
                probs.append(pb)
            else:
                labels.append(0)
                probs.append(0.0)
        mixed = not text.islower() and not text.isupper()
        one_word = self.threshold.get(ONE_WORD, t_person)
        return [
            s
            for s in _runs(text, spans, labels, probs)
            if _plausible(text[s.start : s.end], s.label, mixed)
            and not _lone_word_at_sentence_start(text, s, mixed)
            and not (mixed and s.label == CLASSES[0] and _in_title_case_line(text, s))
            and (s.label != CLASSES[0] or s.score >= one_word or " " in text[s.start : s.end].strip())
        ]


def _plausible(value: str, label: str, mixed_case: bool) -> bool:
    """Shape checks the weights cannot be trusted with. An address has a word and a number that stands
    as a token and starts with a digit ("15" and "Kids" are not addresses, nor gene or model codes such
    as "KCNQ1 mutation" or "C79G"), and a word that is not a month ("29 June", "January 2011" are
    dates); in text that uses both cases, a capitalised word ("during 1995"). A name has a word of two
    letters or more ("I" is not one), and in text that uses both cases, a capital ("journeys", "last
    week" are not names)."""
    words = [w for w in value.split() if sum(ch.isalpha() for ch in w) >= 2]
    if not words:
        return False
    if label == CLASSES[1]:
        tokens = value.replace(",", " ").split()
        if not any(t[:1].isdigit() for t in tokens):
            return False
        names = [w.strip(_EDGE) for w in words if not w[:1].isdigit()]
        names = [w for w in names if w.lower() not in _MONTHS]
        return bool(names) and (not mixed_case or any(w[:1].isupper() for w in names))
    return not mixed_case or any(w[:1].isupper() for w in words)


def _lone_word_at_sentence_start(text: str, span: Tagged, mixed_case: bool) -> bool:
    """A one-word "name" that opens a sentence or is in capitals ("However", "License", "PURPOSE"): on
    benign text these were most of the tagger's false positives, so they are dropped (a name alone at a
    sentence start is missed)."""
    if span.label != CLASSES[0] or " " in text[span.start : span.end].strip():
        return False
    if mixed_case and text[span.start : span.end].isupper():
        return True
    before = text[max(0, span.start - 3) : span.start].rstrip(" \t")
    previous = text[max(0, span.start - 8) : span.start].rstrip(" \t.").rsplit(None, 1)[-1:]
    if before.endswith(".") and previous and previous[0].lower() in _TITLES:
        return False  # "Dr. Smith": the dot ends a title, not a sentence
    return not before or before[-1] in ".!?:\n\"'“(-*#>"


def _in_title_case_line(text: str, span: Tagged) -> bool:
    """A name inside a title-case line, a heading such as "Introduction To Machine Learning With Python":
    four words or more, every one capitalised, a function word among them ("To", "And", "Of"), which a
    line that only holds a name and its title never has. Only lines of up to ``_HEADING_CHARS`` around the
    span are read (headings are short), so the check costs the same on a megabyte without line breaks."""
    lo, hi = max(0, span.start - _HEADING_CHARS), min(len(text), span.end + _HEADING_CHARS)
    start = text.rfind("\n", lo, span.start) + 1
    end = text.find("\n", span.end, hi)
    if (start == 0 and lo > 0) or (end < 0 and hi < len(text)):
        return False  # a line longer than a heading
    words = [w.strip(_EDGE) for w in text[start : end if end >= 0 else hi].split()]
    words = [w for w in words if w[:1].isalpha()]
    return (
        len(words) >= 4
        and all(w[:1].isupper() for w in words)
        and any(w in _TITLE_CASE_FUNCTION_WORDS for w in words[1:])
    )


def _is_edge(token: str) -> bool:
    return token == NEWLINE or all(ch in _EDGE for ch in token)


def _runs(text: str, spans: list[tuple[int, int]], labels: list[int], probs: list[float]) -> Iterator[Tagged]:
    """Maximal runs of one class, without edge punctuation or line breaks at either end."""
    i, n = 0, len(labels)
    while i < n:
        label = labels[i]
        j = i + 1
        while j < n and labels[j] == label:
            j += 1
        if label:
            a, b = i, j
            while a < b and (
                _is_edge(text[spans[a][0] : spans[a][1]])
                or (label == 1 and text[spans[a][0] : spans[a][1]].lower() in _TITLES)
            ):
                a += 1  # a name's span leaves out its title, as the corpus labels it
            while b > a and _is_edge(text[spans[b - 1][0] : spans[b - 1][1]]):
                # keep the dot of an abbreviation: "St.", "Jr.", "J."
                tok = text[spans[b - 1][0] : spans[b - 1][1]]
                prev = text[spans[b - 2][0] : spans[b - 2][1]] if b - 2 >= a else ""
                if tok == "." and prev.isalpha() and len(prev) <= 3 and spans[b - 2][1] == spans[b - 1][0]:
                    break
                b -= 1
            if a < b:
                score = sum(probs[a:b]) / (b - a)
                yield Tagged(spans[a][0], spans[b - 1][1], CLASSES[label - 1], score)
        i = j


def find_names_and_addresses(text: str, tagger: Tagger | None = None) -> list[Span]:
    """The tagger's spans as :class:`Span` objects (``tagger`` defaults to the shipped one).

    A span's score is 0.5 at its class's threshold, rising linearly to 0.95 at probability 1, so the
    ``pii`` detector's default threshold (0.5) keeps every span the tagger decides on, and a higher
    threshold keeps the more certain ones."""
    t = tagger or shipped_tagger()
    out = []
    for s in t.tag(text):
        floor = t.threshold[s.label]
        score = 0.5 + 0.45 * (s.score - floor) / max(1e-9, 1 - floor)
        out.append(Span(s.start, s.end, s.label, round(min(0.95, max(0.5, score)), 3)))
    return out


# -- files ------------------------------------------------------------------------------------------
def save_tagger(manifest_path: Path, tagger: Tagger, info: dict[str, Any]) -> dict[str, Any]:
    """Write ``NAME.json`` and ``NAME.i8.gz`` (reproducible bytes); returns the manifest written."""
    blob = b"".join(tagger.weights[c].tobytes() for c in CLASSES)
    packed = gzip.compress(blob, compresslevel=9, mtime=0)
    weights_path = manifest_path.with_suffix(".i8.gz")
    weights_path.write_bytes(packed)
    manifest = {
        "format": FORMAT,
        "bucket_bits": tagger.bits,
        "radius": RADIUS,
        "classes": list(CLASSES),
        "weights_file": weights_path.name,
        "weights_sha256": hashlib.sha256(packed).hexdigest(),
        "scale": tagger.scale,
        "bias": tagger.bias,
        "threshold": tagger.threshold,
        **info,
    }
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


def load_tagger(manifest_path: Path) -> Tagger:
    """Read a tagger written by :func:`save_tagger`, checking its format and the weights' sha256."""
    manifest = json.loads(manifest_path.read_text())
    if manifest.get("format") != FORMAT or manifest.get("radius") != RADIUS:
        raise ValueError(f"{manifest_path}: not a {FORMAT} manifest with radius {RADIUS}; retrain the tagger")
    bits = int(manifest["bucket_bits"])
    flat = array("b", read_weights(manifest_path, manifest))
    size = 1 << bits
    weights = {c: flat[i * size : (i + 1) * size] for i, c in enumerate(CLASSES)}
    return Tagger(bits, weights, manifest["scale"], manifest["bias"], manifest["threshold"], manifest)


@functools.cache
def shipped_tagger() -> Tagger:
    """The tagger shipped under ``weights/``, loaded once."""
    return load_tagger(WEIGHTS)
