"""What this gateway process saw in the last day, minute by minute: requests, blocks, errors and a
latency histogram per minute, so the dashboard can draw p50/p99 over time without a Prometheus server.

Latency is kept as counts in log-spaced bins (each 25 % wider than the last, from 0.1 ms to 10 minutes),
so a quantile read back is within one bin (25 %) of the true one, whatever the traffic: memory is at most
1,441 minutes x 72 bins, never one entry per request.
"""

from __future__ import annotations

import bisect
import math
import threading
from dataclasses import dataclass, field

KEEP_S = 86_400 + 60  # a day and the minute in progress: the dashboard's longest window
_MIN_S, _FACTOR = 0.0001, 1.25
_BOUNDS: tuple[float, ...] = tuple(_MIN_S * _FACTOR**i for i in range(72))  # 0.1 ms .. ~900 s


@dataclass
class _Minute:
    requests: int = 0
    blocked: int = 0
    errors: int = 0  # status >= 500
    bins: list[int] = field(default_factory=lambda: [0] * (len(_BOUNDS) + 1))


@dataclass(frozen=True, slots=True)
class Bucket:
    """One bucket of a series: ``start`` (unix seconds) and what finished inside it."""

    start: float
    requests: int
    blocked: int
    errors: int
    p50_ms: float | None
    p99_ms: float | None


class Recent:
    """Per-minute counts and latency bins for the last day; thread-safe."""

    def __init__(self) -> None:
        self._minutes: dict[int, _Minute] = {}
        self._lock = threading.Lock()

    def add(self, at: float, total_s: float | None, *, blocked: bool, error: bool) -> None:
        minute = int(at // 60)
        with self._lock:
            m = self._minutes.get(minute)
            if m is None:
                m = self._minutes[minute] = _Minute()
                self._prune(minute)
            m.requests += 1
            m.blocked += int(blocked)
            m.errors += int(error)
            if total_s is not None and math.isfinite(total_s) and total_s >= 0:
                m.bins[bisect.bisect_left(_BOUNDS, total_s)] += 1

    def _prune(self, now_minute: int) -> None:
        oldest = now_minute - KEEP_S // 60
        for k in [k for k in self._minutes if k < oldest]:
            del self._minutes[k]

    def series(self, start: float, bucket_s: int, n: int) -> list[Bucket]:
        """``n`` buckets of ``bucket_s`` seconds (a multiple of 60) from ``start`` (a minute boundary)."""
        per = max(1, bucket_s // 60)
        first = int(start // 60)
        out = []
        with self._lock:
            for b in range(n):
                minutes = [self._minutes.get(first + b * per + i) for i in range(per)]
                out.append(_merge(start + b * bucket_s, [m for m in minutes if m is not None]))
        return out

    def overall(self, start: float) -> Bucket:
        """Everything since ``start`` as one bucket."""
        first = int(start // 60)
        with self._lock:
            return _merge(start, [m for k, m in self._minutes.items() if k >= first])


def _merge(start: float, minutes: list[_Minute]) -> Bucket:
    bins = [sum(col) for col in zip(*(m.bins for m in minutes), strict=True)] if minutes else []
    return Bucket(
        start=start,
        requests=sum(m.requests for m in minutes),
        blocked=sum(m.blocked for m in minutes),
        errors=sum(m.errors for m in minutes),
        p50_ms=quantile_ms(bins, 0.50),
        p99_ms=quantile_ms(bins, 0.99),
    )


def quantile_ms(bins: list[int], q: float) -> float | None:
    """The ``q`` quantile of the binned latencies, in ms (the upper bound of the bin it falls in), or None."""
    total = sum(bins)
    if total == 0:
        return None
    rank, seen = q * total, 0
    for i, count in enumerate(bins):
        seen += count
        if seen >= rank and count:
            upper = _BOUNDS[i] if i < len(_BOUNDS) else _BOUNDS[-1] * _FACTOR
            return round(upper * 1000, 3)
    return round(_BOUNDS[-1] * _FACTOR * 1000, 3)
