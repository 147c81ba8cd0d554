"""Two-sample tests for detector drift, in pure Python: has a validator's score distribution moved?

- :func:`ks_distance`: the Kolmogorov-Smirnov statistic D = sup |F_a(x) - F_b(x)| over the two samples'
  empirical distribution functions (ties handled: both functions step past a value together);
- :func:`ks_p_value`: its asymptotic p-value (Kolmogorov's series, with Stephens' small-sample
  correction); with ties (scores of exactly 0.0 are common) the test is conservative;
- :func:`proportion_p_value`: a two-sided two-proportion z-test, for the share of requests flagged.

A significant result alone is not drift: with a week of a busy gateway's traffic a harmless shift of a
hundredth is significant. Drift needs both a significant test and an effect above a floor
(:class:`alignkit.checklist.config.DriftCheck`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def ks_distance(a: Sequence[float], b: Sequence[float]) -> float:
    """D = the largest gap between the two empirical distribution functions (0 = same, 1 = disjoint)."""
    if not a or not b:
        raise ValueError("both samples need at least one value")
    xs, ys = sorted(a), sorted(b)
    n, m = len(xs), len(ys)
    i = j = 0
    d = 0.0
    while i < n and j < m:
        x = min(xs[i], ys[j])
        while i < n and xs[i] <= x:  # step both functions past every copy of x
            i += 1
        while j < m and ys[j] <= x:
            j += 1
        d = max(d, abs(i / n - j / m))
    return d


def ks_p_value(d: float, n: int, m: int) -> float:
    """P(D >= d) for samples of ``n`` and ``m`` values from one distribution (asymptotic)."""
    if d <= 0:
        return 1.0
    ne = n * m / (n + m)
    lam = (math.sqrt(ne) + 0.12 + 0.11 / math.sqrt(ne)) * d
    if lam < 0.2:  # the series converges slowly here, and its value is 1 to many digits
        return 1.0
    total = sum((1.0 if k % 2 else -1.0) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))
    return min(1.0, max(0.0, 2 * total))


def proportion_p_value(k1: int, n1: int, k2: int, n2: int) -> float:
    """Two-sided p-value of the pooled z-test that ``k1/n1`` and ``k2/n2`` share one rate."""
    if n1 <= 0 or n2 <= 0:
        raise ValueError("both samples need at least one value")
    pooled = (k1 + k2) / (n1 + n2)
    if pooled in (0.0, 1.0):
        return 1.0  # all flagged or none in both: no difference to test
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    z = abs(k1 / n1 - k2 / n2) / se
    return float(math.erfc(z / math.sqrt(2)))


def quantiles(values: Sequence[float], keep: int) -> list[float]:
    """``values`` sorted, thinned to at most ``keep`` evenly spaced order statistics (min and max kept):
    an empirical distribution within 1/keep of the whole sample's, small enough to store."""
    s = sorted(values)
    if len(s) <= keep:
        return s
    step = (len(s) - 1) / (keep - 1)
    return [s[round(i * step)] for i in range(keep)]
