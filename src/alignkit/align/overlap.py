"""Near-duplicates of the probe library, dropped from training so the evaluation stays held out.

The scanner's built-in probes are the test set; a training prompt that restates one would turn the test
into a memory check. A training prompt is a near-duplicate of a probe prompt when either

- they share a run of :data:`SHINGLE` consecutive words (after lower-casing and dropping punctuation)
  holding at least :data:`MIN_SHARED` distinct content words (so a stock phrase such as "step-by-step
  instructions for" or "how do I get a" does not count), or
- their content words (stop words removed) overlap by at least :data:`OVERLAP` of the smaller set,
  with at least :data:`MIN_SHARED` words in common.

Both are deliberately loose (a false drop costs one training prompt; a missed duplicate costs the
evaluation), and every drop is reported with the probe it matched.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

SHINGLE = 5  # five words in a row in common: a copied clause, not a shared phrase like "how do i make a"
OVERLAP = 0.6  # share of the smaller prompt's content words found in the other
MIN_SHARED = 3  # ... and at least this many, so two short prompts sharing one topic word are not dropped

_WORD = re.compile(r"[a-z0-9']+")
STOP_WORDS = frozenset(
    "a an the and or but if of to in on at for with from by about into over under as is are was were be been "
    "being do does did how what which who whom why when where can could would should will shall may might must "
    "i me my mine you your yours he him his she her they them their we us our it its this that these those "
    "there here so than then not no yes get make give tell write some any all every each just very also only "
    "most more much many such own same other way ways help want need know please without".split()
)


@dataclass(frozen=True)
class Match:
    """A dropped training prompt, the probe prompt it matched and why."""

    text: str
    probe: str
    reason: str


def words(text: str) -> list[str]:
    """Lower-case word tokens (apostrophes kept inside words)."""
    return _WORD.findall(text.lower())


def content_words(text: str) -> set[str]:
    """The words of ``text`` that are not stop words."""
    return {w for w in words(text) if w not in STOP_WORDS and len(w) > 1}


def _shingles(ws: list[str]) -> set[tuple[str, ...]]:
    runs = (tuple(ws[i : i + SHINGLE]) for i in range(len(ws) - SHINGLE + 1))
    return {r for r in runs if len({w for w in r if w not in STOP_WORDS and len(w) > 1}) >= MIN_SHARED}


class ProbeIndex:
    """The probe prompts, prepared for :meth:`match`."""

    def __init__(self, probes: Sequence[str]) -> None:
        self.probes = list(probes)
        self._content = [content_words(p) for p in self.probes]
        self._shingles = [_shingles(words(p)) for p in self.probes]

    def match(self, text: str) -> Match | None:
        """The first probe ``text`` near-duplicates, or None."""
        cw, sh = content_words(text), _shingles(words(text))
        for probe, pcw, psh in zip(self.probes, self._content, self._shingles, strict=True):
            if sh & psh:
                return Match(text, probe, f"shares {SHINGLE} words in a row")
            shared = cw & pcw
            if len(shared) >= MIN_SHARED and len(shared) / max(1, min(len(cw), len(pcw))) >= OVERLAP:
                return Match(text, probe, f"shares content words {sorted(shared)}")
        return None


def drop_near_duplicates(texts: Sequence[str], probes: Sequence[str]) -> tuple[list[int], list[Match]]:
    """Indices of ``texts`` to keep, and the matches of those dropped."""
    index = ProbeIndex(probes)
    keep, dropped = [], []
    for i, t in enumerate(texts):
        m = index.match(t)
        if m is None:
            keep.append(i)
        else:
            dropped.append(m)
    return keep, dropped
