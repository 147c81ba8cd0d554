"""Behavioural checks of time complexity: how the cost grows when the input grows tenfold.

A linear algorithm takes about 10x as long on 10x the text, a quadratic one about 100x. Each side is
the best of a few runs, so a scheduler hiccup on a busy machine does not read as a complexity bug.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def best_time(fn: Callable[[str], object], text: str, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(text)
        best = min(best, time.perf_counter() - start)
    return best


def growth(fn: Callable[[str], object], unit: str, n: int, factor: int = 10) -> float:
    """How many times longer ``fn`` takes on ``unit * n * factor`` than on ``unit * n``."""
    small = best_time(fn, unit * n)
    large = best_time(fn, unit * n * factor)
    return large / max(small, 1e-4)


LINEAR_LIMIT = 30  # 10x the input: linear is ~10x, quadratic ~100x; 30 leaves room for noise
