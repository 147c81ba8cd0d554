"""Inter-annotator agreement and position bias, as small pure functions over label lists.

Labels here are in *answer* terms (``a``, ``b``, ``tie``), never screen sides, so two annotators who
saw the answers in different places still agree when they prefer the same text. Skips are not labels
and never reach these functions.

- :func:`cohen_kappa`: two annotators over the items both labelled; chance agreement from each
  annotator's own label frequencies.
- :func:`fleiss_kappa`: any number of annotators; items may have different numbers of labels (the
  usual generalisation: each item's agreement is averaged over its own label pairs, and category
  frequencies are pooled over all labels).
- :func:`position_bias`: how often the answer shown on the left won, with a two-sided normal-approximation
  p-value against the 50% an unbiased annotator would give.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

CATEGORIES: tuple[str, ...] = ("a", "b", "tie")


def percent_agreement(first: Sequence[str], second: Sequence[str]) -> float | None:
    """The share of items on which both annotators gave the same label (None when there are none)."""
    if len(first) != len(second):
        raise ValueError(f"label lists differ in length: {len(first)} and {len(second)}")
    if not first:
        return None
    return sum(x == y for x, y in zip(first, second, strict=True)) / len(first)


def cohen_kappa(first: Sequence[str], second: Sequence[str]) -> float | None:
    """Cohen's kappa, (p_o - p_e) / (1 - p_e); None when undefined (no items, or chance agreement is 1)."""
    p_o = percent_agreement(first, second)
    if p_o is None:
        return None
    n = len(first)
    c1, c2 = Counter(first), Counter(second)
    p_e = sum((c1[k] / n) * (c2[k] / n) for k in set(c1) | set(c2))
    if math.isclose(p_e, 1.0):
        return None  # both annotators used one and the same label throughout: kappa is 0/0
    return (p_o - p_e) / (1 - p_e)


def fleiss_kappa(items: Sequence[Sequence[str]]) -> float | None:
    """Fleiss' kappa over items with at least two labels each (others are ignored); None when undefined."""
    rated = [labels for labels in items if len(labels) >= 2]
    if not rated:
        return None
    per_item = []
    pooled: Counter[str] = Counter()
    for labels in rated:
        n = len(labels)
        counts = Counter(labels)
        pooled.update(counts)
        # The share of this item's ordered label pairs that agree.
        per_item.append((sum(c * c for c in counts.values()) - n) / (n * (n - 1)))
    total = sum(pooled.values())
    p_bar = sum(per_item) / len(per_item)
    p_e = sum((c / total) ** 2 for c in pooled.values())
    if math.isclose(p_e, 1.0):
        return None
    return (p_bar - p_e) / (1 - p_e)


@dataclass(frozen=True)
class PairAgreement:
    """Agreement between two annotators over the items both labelled (skips excluded)."""

    first: str
    second: str
    items: int
    percent: float | None
    kappa: float | None


@dataclass(frozen=True)
class AgreementReport:
    """Pairwise figures for every pair of annotators and Fleiss' kappa over all multiply-labelled items."""

    pairs: tuple[PairAgreement, ...]
    fleiss_kappa: float | None
    fleiss_items: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-able."""
        return {
            "pairs": [asdict(p) for p in self.pairs],
            "fleiss_kappa": self.fleiss_kappa,
            "fleiss_items": self.fleiss_items,
        }


def agreement_report(by_item: Mapping[str, Mapping[str, str]]) -> AgreementReport:
    """Agreement from ``{item_id: {annotator: label}}`` (labels in ``CATEGORIES``; skips already removed)."""
    annotators = sorted({name for labels in by_item.values() for name in labels})
    pairs = []
    for i, first in enumerate(annotators):
        for second in annotators[i + 1 :]:
            both = [
                (labels[first], labels[second]) for labels in by_item.values() if first in labels and second in labels
            ]
            xs, ys = [x for x, _ in both], [y for _, y in both]
            pairs.append(PairAgreement(first, second, len(both), percent_agreement(xs, ys), cohen_kappa(xs, ys)))
    multi = [list(labels.values()) for labels in by_item.values() if len(labels) >= 2]
    return AgreementReport(tuple(pairs), fleiss_kappa(multi), len(multi))


@dataclass(frozen=True)
class PositionBias:
    """How often the answer on the left won, among labels that picked a side (ties and skips excluded)."""

    decided: int  # labels that chose a or b
    left_wins: int
    left_rate: float | None  # left_wins / decided; 0.5 is unbiased
    p_value: float | None  # two-sided, normal approximation to the binomial(decided, 0.5)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able."""
        return asdict(self)


def position_bias(left_won: Sequence[bool]) -> PositionBias:
    """Position-bias figures from one boolean per decided label: did the left answer win?"""
    n, k = len(left_won), sum(left_won)
    if not n:
        return PositionBias(0, 0, None, None)
    z = (k - n / 2) / math.sqrt(n / 4)
    return PositionBias(n, k, k / n, math.erfc(abs(z) / math.sqrt(2)))
