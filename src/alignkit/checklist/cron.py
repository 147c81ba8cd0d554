"""Cron schedules, checked: five fields with valid ranges (or a macro), and the longest gap between runs.

Accepted: ``@yearly``/``@annually``, ``@monthly``, ``@weekly``, ``@daily``/``@midnight``, ``@hourly``, or
five fields ``minute hour day-of-month month day-of-week`` where each field is ``*``, a number, a range
``a-b``, any of those with a step ``/n``, or a comma-separated list of them. Months and weekdays may be
named (``jan``, ``mon``); day-of-week 0 and 7 are both Sunday. As in cron, when both day fields are
restricted a day matches if either does.

:func:`longest_gap` answers the question the audits item asks of a schedule: can the newest audit
report go stale between two runs? It is exact (the gap between consecutive firings over eight years,
leap days included), computed per day rather than per minute.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

from alignkit.core.errors import ConfigError

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))
NAMES = {
    "month": {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())},
    "day of week": {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())},
}
HORIZON_DAYS = 8 * 366  # two of every date (29 February included) fall within eight years


@dataclass(frozen=True)
class Cron:
    """A parsed schedule: the allowed values of each field, and whether each day field was ``*``."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday (7 folded onto 0)
    any_day: bool
    any_weekday: bool

    def runs_on(self, day: dt.date) -> bool:
        """Whether the schedule fires at some time on ``day``."""
        if day.month not in self.months:
            return False
        dom, dow = day.day in self.days, day.isoweekday() % 7 in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow


def parse_cron(text: str, where: str = "audits.schedule") -> Cron:
    """``text`` parsed; a :class:`ConfigError` naming ``where``, the field and the accepted forms otherwise."""
    raw = text.strip()
    expr = MACROS.get(raw.lower(), raw)
    if expr.startswith("@"):
        raise ConfigError(f"{where}: unknown cron macro {raw!r}; use one of {', '.join(MACROS)} or five fields")
    parts = expr.split()
    if len(parts) != 5:
        raise ConfigError(
            f"{where}: {raw!r} has {len(parts)} field(s); a cron schedule has five (minute hour day-of-month "
            f"month day-of-week, e.g. '0 3 * * 1' for 03:00 on Mondays) or is a macro such as @daily or @weekly"
        )
    values = [_field(p, name, lo, hi, where) for p, (name, lo, hi) in zip(parts, FIELDS, strict=True)]
    weekdays = frozenset(d % 7 for d in values[4])
    minutes, hours, days, months = values[:4]
    return Cron(raw, minutes, hours, days, months, weekdays, parts[2] == "*", parts[4] == "*")


def _field(text: str, name: str, lo: int, hi: int, where: str) -> frozenset[int]:
    out: set[int] = set()
    for item in text.lower().split(","):
        body, _, step_text = item.partition("/")
        step = _number(step_text, name, 1, hi - lo + 1, where, "step") if step_text else 1
        if body == "*":
            start, end = lo, hi
        elif "-" in body:
            a, _, b = body.partition("-")
            start, end = _number(a, name, lo, hi, where), _number(b, name, lo, hi, where)
            if start > end:
                raise ConfigError(f"{where}: {name} range {body!r} runs backwards; write it low-high")
        else:
            start = _number(body, name, lo, hi, where)
            end = hi if step_text else start  # "5/15": from 5 on, every 15
        out.update(range(start, end + 1, step))
    return frozenset(out)


def _number(text: str, name: str, lo: int, hi: int, where: str, what: str = "value") -> int:
    named = NAMES.get(name, {}).get(text)
    if named is not None:
        return named
    if not text.isdigit() or not lo <= int(text) <= hi:
        hint = f" or a name ({', '.join(NAMES[name])})" if name in NAMES and what == "value" else ""
        raise ConfigError(f"{where}: {name} {what} {text!r} is not a number from {lo} to {hi}{hint}")
    return int(text)


def longest_gap(cron: Cron, start: dt.date | None = None) -> dt.timedelta | None:
    """The longest time between two consecutive runs over eight years from ``start`` (today); None when
    the schedule never fires (``0 0 31 2 *``: the 31st of February)."""
    day0 = start or dt.date.today()
    days = [day0 + dt.timedelta(days=i) for i in range(HORIZON_DAYS)]
    run_days = [d for d in days if cron.runs_on(d)]
    if not run_days:
        return None
    times = sorted(h * 60 + m for h in cron.hours for m in cron.minutes)  # minutes after midnight
    within = max((b - a for a, b in itertools.pairwise(times)), default=0)
    across = max(
        ((b - a).days * 1440 - times[-1] + times[0] for a, b in itertools.pairwise(run_days)),
        default=0,
    )
    if len(run_days) == 1:  # fires once in eight years: the gap is at least the horizon
        across = HORIZON_DAYS * 1440
    return dt.timedelta(minutes=max(within, across))
