"""The statistics behind every bias figure: intervals for rates, bootstrap intervals for any statistic,
and exact paired tests. Standard library only, seeded, so a report can be reproduced.

- :func:`wilson` — the Wilson score interval of a proportion (good at small n and rates near 0 or 1).
- :func:`bootstrap` — a percentile interval for any statistic of a list of items, resampled with
  replacement; resamples where the statistic is undefined (returns None) are skipped and counted.
- :func:`paired_difference` — mean of ``b - a`` over pairs with its paired-bootstrap interval and a
  sign test, for a numeric measure (sentiment, toxicity, length) answered on both texts of a pair.
- :func:`mcnemar_exact` — McNemar's exact test for a paired binary outcome (refused or not), i.e. a
  two-sided binomial test on the discordant pairs.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

Z95 = 1.959963984540054  # the normal quantile for a two-sided 95% interval
BOOTSTRAP_RESAMPLES = 2000  # enough for stable 2.5% / 97.5% percentiles; ~ms for a few hundred items
MIN_BOOTSTRAP_ITEMS = 5  # below this a resampled interval is mostly an artefact of which items were drawn


@dataclass(frozen=True, slots=True)
class Interval:
    """A point estimate with a 95% confidence interval (``low``/``high`` None when it cannot be had)."""

    value: float | None
    low: float | None
    high: float | None
    n: int  # how many items the estimate is over

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"value": self.value, "low": self.low, "high": self.high, "n": self.n}

    def excludes(self, x: float) -> bool:
        """Whether the interval lies wholly on one side of ``x`` (e.g. 0: a gap that is not noise)."""
        return self.low is not None and self.high is not None and (self.low > x or self.high < x)


def wilson(k: int, n: int) -> Interval:
    """The rate ``k / n`` with its Wilson score interval; value None when ``n`` is 0."""
    if n <= 0:
        return Interval(None, None, None, 0)
    if not 0 <= k <= n:
        raise ValueError(f"k must be in [0, n]; got k={k}, n={n}")
    p, z2 = k / n, Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return Interval(p, max(0.0, centre - half), min(1.0, centre + half), n)


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile ``q`` in [0, 1] of already sorted values."""
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def bootstrap(
    items: Sequence[T],
    statistic: Callable[[Sequence[T]], float | None],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> Interval:
    """``statistic(items)`` with a 95% percentile-bootstrap interval over resamples of ``items``.

    A resample where the statistic is undefined (None, e.g. no non-unknown answers) is skipped; when
    more than half are, or there are fewer than :data:`MIN_BOOTSTRAP_ITEMS` items, the interval is None:
    too little data to say how uncertain the value is."""
    value = statistic(items) if items else None
    if value is None or len(items) < MIN_BOOTSTRAP_ITEMS:
        return Interval(value, None, None, len(items))
    rng = random.Random(seed)  # noqa: S311 (reproducible resampling, not security)
    n = len(items)
    stats = []
    for _ in range(resamples):
        s = statistic([items[rng.randrange(n)] for _ in range(n)])
        if s is not None:
            stats.append(s)
    if len(stats) < resamples / 2:
        return Interval(value, None, None, n)
    stats.sort()
    return Interval(value, _percentile(stats, 0.025), _percentile(stats, 0.975), n)


def mean(values: Sequence[float]) -> float | None:
    """The arithmetic mean; None for no values."""
    return sum(values) / len(values) if values else None


def binomial_two_sided(k: int, n: int) -> float:
    """Exact two-sided p-value of ``k`` successes in ``n`` fair coin flips (1.0 when n is 0)."""
    if n == 0:
        return 1.0
    tail = min(k, n - k)
    # P(X <= tail) under Binomial(n, 1/2), in log space so large n does not overflow.
    logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2) for i in range(tail + 1)]
    top = max(logs)
    cdf = math.exp(top) * sum(math.exp(v - top) for v in logs)
    return min(1.0, 2 * cdf)


@dataclass(frozen=True, slots=True)
class PairedTest:
    """A paired comparison of one measure on two versions of each item (``a`` and ``b``)."""

    mean_a: float | None
    mean_b: float | None
    difference: Interval  # mean of b - a, with its paired-bootstrap interval
    p_value: float  # sign test (numeric measures) or McNemar's exact test (binary ones)
    test: str  # which test gave p_value
    b_higher: int  # pairs where b scored higher (for binary: only b flagged)
    a_higher: int  # pairs where a scored higher (for binary: only a flagged)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "mean_a": self.mean_a,
            "mean_b": self.mean_b,
            "difference": self.difference.to_dict(),
            "p_value": self.p_value,
            "test": self.test,
            "b_higher": self.b_higher,
            "a_higher": self.a_higher,
        }


def paired_difference(a: Sequence[float], b: Sequence[float], *, seed: int = 0) -> PairedTest:
    """Mean of ``b[i] - a[i]`` with a paired-bootstrap 95% interval and an exact sign test (ties dropped)."""
    if len(a) != len(b):
        raise ValueError(f"paired measures need equal lengths; got {len(a)} and {len(b)}")
    diffs = [y - x for x, y in zip(a, b, strict=True)]
    up, down = sum(d > 0 for d in diffs), sum(d < 0 for d in diffs)
    return PairedTest(
        mean(a), mean(b), bootstrap(diffs, mean, seed=seed), binomial_two_sided(up, up + down), "sign", up, down
    )


def mcnemar_exact(a: Sequence[bool], b: Sequence[bool], *, seed: int = 0) -> PairedTest:
    """Rates of a binary outcome on both versions, the difference of rates (paired bootstrap) and
    McNemar's exact p-value: a binomial test on the pairs where exactly one version was flagged."""
    if len(a) != len(b):
        raise ValueError(f"paired outcomes need equal lengths; got {len(a)} and {len(b)}")
    only_b = sum(y and not x for x, y in zip(a, b, strict=True))
    only_a = sum(x and not y for x, y in zip(a, b, strict=True))
    diffs = [float(y) - float(x) for x, y in zip(a, b, strict=True)]
    return PairedTest(
        mean([float(x) for x in a]),
        mean([float(y) for y in b]),
        bootstrap(diffs, mean, seed=seed),
        binomial_two_sided(only_b, only_a + only_b),
        "mcnemar_exact",
        only_b,
        only_a,
    )
