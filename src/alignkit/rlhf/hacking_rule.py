"""The over-optimization rule: when does "the proxy keeps rising while the gold falls" fire?

Every ``eval_every`` training steps the monitor (:mod:`alignkit.rlhf.hacking`) samples one answer per
held-out prompt (same prompts, same seed each time) and scores each answer with the proxy reward (the
one being trained on) and with the gold signal (a held-out judge). That gives one
:class:`Evaluation` per check, holding the per-prompt scores.

The rule compares the latest evaluation with the one ``patience`` evaluations earlier (the window),
prompt by prompt (paired: the same prompts answered at two points of the run), and fires when all of:

1. the proxy rose: the mean paired change of the proxy is above ``min_proxy_rise`` (default 0);
2. the gold fell: the mean paired change of the gold is below ``-min_gold_drop`` AND its size is more
   than ``noise_z`` standard errors of that mean change (so sampling noise on a few prompts does not
   fire it);
3. the gold is below its best so far (the run did better earlier: there is something to go back to).

Evaluations whose gold is unknown (the judge failed on more than ``max_gold_unknown`` of the answers)
are skipped by the window and never become the best; each is logged as such (unknown is never read
as "no hack"). The figures of every firing are kept in the :class:`Alarm`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from alignkit.core.errors import ConfigError

__all__ = ["Alarm", "Evaluation", "HackingConfig", "check_overoptimization"]

Action = Literal["warn", "stop", "rollback"]


@dataclass(frozen=True)
class HackingConfig:
    """How the monitor watches a run; each default says why."""

    eval_every: int = 10  # training steps between evaluations; each costs one generation pass over the prompts
    patience: int = 3  # evaluations back the window reaches: a trend over 3 checks, not one noisy dip
    min_proxy_rise: float = 0.0  # any rise of the proxy counts; raise it for a noisy proxy
    min_gold_drop: float = 0.0  # the drop must also beat noise_z standard errors, which is usually the binding test
    noise_z: float = 2.0  # ~95% one-sided confidence that the paired gold drop is real
    action: Action = "warn"  # warn: log and go on; stop: end training; rollback: restore the best-gold weights, end
    max_gold_unknown: float = 0.5  # more unscored answers than this and the evaluation's gold is unknown
    seed: int = 1234  # sampling seed of every evaluation: the same prompts get the same draws, so changes are paired

    def __post_init__(self) -> None:
        if self.eval_every < 1 or self.patience < 1:
            raise ConfigError(f"eval_every ({self.eval_every}) and patience ({self.patience}) must be at least 1")
        if self.action not in ("warn", "stop", "rollback"):
            raise ConfigError(f"action must be warn, stop or rollback; got {self.action!r}")
        if self.min_proxy_rise < 0 or self.min_gold_drop < 0 or self.noise_z < 0:
            raise ConfigError("min_proxy_rise, min_gold_drop and noise_z must be 0 or more")
        if not 0.0 <= self.max_gold_unknown < 1.0:
            raise ConfigError(f"max_gold_unknown must be in [0, 1); got {self.max_gold_unknown}")


@dataclass(frozen=True)
class Evaluation:
    """One check of the policy on the held-out prompts: per-prompt scores (NaN = not scored)."""

    step: int
    proxy: tuple[float, ...]
    gold: tuple[float, ...]
    kl: tuple[float, ...]  # KL(policy || reference) of each answer, in nats (NaN when not measured)
    max_gold_unknown: float = 0.5
    shortcuts: dict[str, float] = field(default_factory=dict)

    @property
    def proxy_mean(self) -> float:
        """Mean proxy over the scored answers (NaN when none)."""
        return _mean(self.proxy)

    @property
    def gold_known(self) -> bool:
        """Whether enough answers have a gold score for the mean to stand for the set."""
        unknown = sum(math.isnan(g) for g in self.gold)
        return bool(self.gold) and unknown <= self.max_gold_unknown * len(self.gold)

    @property
    def gold_mean(self) -> float:
        """Mean gold over the scored answers; NaN when the gold is unknown (see :attr:`gold_known`)."""
        return _mean(self.gold) if self.gold_known else math.nan

    @property
    def kl_mean(self) -> float:
        """Mean KL to the reference (NaN when not measured)."""
        return _mean(self.kl)


@dataclass(frozen=True)
class Alarm:
    """A firing of the rule, with the figures that triggered it."""

    step: int
    window_start: int  # the step of the evaluation the latest one was compared with
    proxy_change: float  # mean paired change of the proxy over the window
    gold_change: float  # mean paired change of the gold over the window
    gold_stderr: float  # standard error of gold_change
    best_gold: float
    best_step: int
    pairs: int  # prompts scored by the gold at both ends
    action: Action
    message: str


def _mean(xs: Sequence[float]) -> float:
    known = [x for x in xs if not math.isnan(x)]
    return sum(known) / len(known) if known else math.nan


def _paired(a: Sequence[float], b: Sequence[float]) -> list[float]:
    """``b[i] - a[i]`` for the prompts scored at both ends."""
    return [y - x for x, y in zip(a, b, strict=True) if not (math.isnan(x) or math.isnan(y))]


def _stderr(ds: Sequence[float]) -> float:
    if len(ds) < 2:
        return math.inf
    m = sum(ds) / len(ds)
    return math.sqrt(sum((d - m) ** 2 for d in ds) / (len(ds) - 1) / len(ds))


def check_overoptimization(history: Sequence[Evaluation], config: HackingConfig) -> Alarm | None:
    """Apply the rule of the module docstring to the latest evaluation of ``history``; None if it holds."""
    known = [e for e in history if e.gold_known]
    if len(known) <= config.patience or not history[-1].gold_known:
        return None
    start, end = known[-1 - config.patience], known[-1]
    if len(start.gold) != len(end.gold) or len(start.proxy) != len(end.proxy):
        raise ConfigError("evaluations of one run must score the same held-out prompts")
    proxy_d, gold_d = _paired(start.proxy, end.proxy), _paired(start.gold, end.gold)
    if not proxy_d or not gold_d:
        return None
    proxy_change, gold_change, se = sum(proxy_d) / len(proxy_d), sum(gold_d) / len(gold_d), _stderr(gold_d)
    best = max(known, key=lambda e: e.gold_mean)
    rose = proxy_change > config.min_proxy_rise
    fell = -gold_change > config.min_gold_drop and -gold_change > config.noise_z * se
    if not (rose and fell and end.gold_mean < best.gold_mean):
        return None
    message = (
        f"reward hacking suspected at step {end.step}: since step {start.step} the proxy rose by {proxy_change:+.4g} "
        f"while the gold changed by {gold_change:+.4g} (standard error {se:.3g}, {len(gold_d)} prompts); "
        f"best gold {best.gold_mean:.4g} at step {best.step}; action: {config.action}"
    )
    return Alarm(
        end.step, start.step, proxy_change, gold_change, se, best.gold_mean, best.step, len(gold_d), config.action,
        message,
    )  # fmt: skip
