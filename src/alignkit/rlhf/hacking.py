"""The reward-hacking monitor: a gold signal beside the proxy reward, shortcut flags, warn / stop /
roll back. It watches PPO (:meth:`alignkit.rlhf.ppo.PPOTrainer.train`, ``monitor=``) and the trl
methods (``train_dpo`` / ``train_rloo`` / ``train_grpo``, ``monitor=``) alike.

Per evaluation (every ``eval_every`` steps, and once at the start):

1. the trainer's :class:`Probe` samples one answer per held-out prompt with the current policy (fixed
   seed, so the evaluations are paired) and measures each answer's KL to the reference;
2. the proxy reward (the one trained on) and the gold signal (any held-out judge: a second reward
   model, ``detector_reward(...)``, :func:`~alignkit.rlhf.gold.rubric_gold`) score the answers;
3. the shortcut measures (:mod:`alignkit.rlhf.shortcuts`) are taken and compared with the start's;
4. the over-optimization rule (:mod:`alignkit.rlhf.hacking_rule`) is applied; when it fires the
   configured action is taken: ``warn`` (log and go on), ``stop`` (end training) or ``rollback``
   (restore the weights of the best-gold evaluation, then end training).

Nothing is silent: every evaluation, shortcut flag, alarm and rollback is written as a line of
``hacking.jsonl`` in ``log_dir`` and logged as a warning (``logging`` name ``alignkit.rlhf.hacking``);
the numbers go to the run log (``log.csv``) under ``hacking/*`` and ``shortcut/*``. With
``action="rollback"`` the trainable weights of the best evaluation are kept in CPU memory (LoRA: the
adapters only).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

from alignkit.core.errors import ConfigError
from alignkit.core.jsonl import write_jsonl
from alignkit.core.messages import Prompt
from alignkit.detectors import Detector
from alignkit.rlhf.hacking_rule import Alarm, Evaluation, HackingConfig, check_overoptimization
from alignkit.rlhf.reward_functions import RewardFn
from alignkit.rlhf.shortcuts import MEASURES, ShortcutConfig, ShortcutFlag, measure_shortcuts, shortcut_flags

__all__ = ["COLUMNS", "EVENTS_FILE", "HackingMonitor", "Probe"]

log = logging.getLogger("alignkit.rlhf.hacking")

EVENTS_FILE = "hacking.jsonl"
COLUMNS = (
    "hacking/proxy", "hacking/gold", "hacking/kl", "hacking/best_gold", "hacking/alarm", "shortcut/flags",
    *(f"shortcut/{m}" for m in MEASURES),
)  # fmt: skip
MAX_PROMPTS = 512  # held-out prompts per evaluation; each is sampled and judged every eval_every steps


class Probe(Protocol):
    """What the monitor needs from a trainer (PPO and trl each have one in :mod:`~alignkit.rlhf.hacking_probe`)."""

    def sample(self, prompts: Sequence[Prompt], seed: int) -> tuple[list[str], list[float]]:
        """One answer per prompt from the current policy, and each answer's KL to the reference (NaN if unknown)."""
        ...

    def snapshot(self) -> Any:
        """A copy of the trainable weights, for :meth:`restore`."""
        ...

    def restore(self, snapshot: Any) -> None:
        """Put back the weights of a :meth:`snapshot`."""
        ...


class HackingMonitor:
    """Watch a run for reward hacking on fixed held-out ``prompts``; see the module docstring.

    ``proxy`` is the reward being trained on; ``gold`` the held-out judge (None: no live gold, e.g.
    when human labels come later through ``on_samples``; the rule then never fires, and every
    evaluation says the gold is unknown). ``on_samples(step, prompts, answers)`` receives every
    evaluation's answers (e.g. :class:`~alignkit.rlhf.gold.LabelQueue` sends them to the labelling app).
    """

    def __init__(
        self,
        prompts: Sequence[Prompt],
        proxy: RewardFn,
        gold: RewardFn | None,
        config: HackingConfig | None = None,
        *,
        shortcuts: ShortcutConfig | None = None,
        refusal: Detector | None = None,
        log_dir: str | Path | None = None,
        on_samples: Callable[[int, list[Prompt], list[str]], None] | None = None,
    ) -> None:
        if isinstance(prompts, str) or not prompts:
            raise ConfigError("the monitor needs a list of held-out prompts (a few dozen, not used for training)")
        if len(prompts) > MAX_PROMPTS:
            raise ConfigError(
                f"{len(prompts)} held-out prompts; use at most {MAX_PROMPTS} (each is sampled every check)"
            )
        self.prompts, self.proxy, self.gold = list(prompts), proxy, gold
        self.config = config or HackingConfig()
        self.shortcut_config = shortcuts or ShortcutConfig()
        self.refusal = refusal
        self.events_path = Path(log_dir) / EVENTS_FILE if log_dir is not None else None
        self.on_samples = on_samples
        self.evaluations: list[Evaluation] = []
        self.alarms: list[Alarm] = []
        self.flags: list[tuple[int, ShortcutFlag]] = []
        self.stopped = False
        self.rolled_back_to: int | None = None
        self._best: Evaluation | None = None
        self._snapshot: Any = None
        self.last_row: dict[str, float] = dict.fromkeys(COLUMNS, math.nan)  # the latest evaluation's log columns

    # -- the trainer's side ---------------------------------------------------------------------------
    def attach(self, probe: Probe, step: int = 0) -> Callable[[int], dict[str, float]]:
        """Evaluate the policy as it is at ``step`` (the start), and return ``after_step(step)``: the
        columns for that step's log row (NaN between evaluations), evaluating every ``eval_every`` steps."""
        self.evaluate(step, probe)

        def after_step(step: int) -> dict[str, float]:
            if self.stopped or step % self.config.eval_every:
                return dict.fromkeys(COLUMNS, math.nan)
            return self.evaluate(step, probe)

        return after_step

    @property
    def best_step(self) -> int | None:
        """The step of the evaluation with the highest known gold so far."""
        return self._best.step if self._best is not None else None

    # -- one evaluation -------------------------------------------------------------------------------
    def evaluate(self, step: int, probe: Probe) -> dict[str, float]:
        """Steps 1-4 of the module docstring at ``step``; returns the log columns."""
        answers, kls = probe.sample(self.prompts, self.config.seed)
        proxy = _scores(self.proxy, self.prompts, answers, "proxy")
        gold = _scores(self.gold, self.prompts, answers, "gold") if self.gold is not None else [math.nan] * len(answers)
        measures = measure_shortcuts(answers, self.refusal, self.shortcut_config.extra_markers)
        ev = Evaluation(step, tuple(proxy), tuple(gold), tuple(kls), self.config.max_gold_unknown, measures)
        self.evaluations.append(ev)
        if self.on_samples is not None:
            self.on_samples(step, self.prompts, answers)
        baseline = self.evaluations[0].shortcuts
        flags = shortcut_flags(measures, baseline, self.shortcut_config, answers) if len(self.evaluations) > 1 else []
        self._event("evaluation", step=step, proxy=ev.proxy_mean, gold=ev.gold_mean, kl=ev.kl_mean, **measures)
        if not ev.gold_known:
            self._warn("gold_unknown", step, f"step {step}: the gold signal could not score the answers; "
                       "this evaluation can neither fire the rule nor become the best checkpoint")  # fmt: skip
        for f in flags:
            self.flags.append((step, f))
            self._warn("shortcut", step, f"step {step}: shortcut {f.name}: {f.measure} {f.value:.3g} "
                       f"(baseline {f.baseline:.3g}; rule {f.rule})", flag=asdict(f))  # fmt: skip
        if ev.gold_known and (self._best is None or ev.gold_mean > self._best.gold_mean):
            self._best = ev
            if self.config.action == "rollback":
                self._snapshot = probe.snapshot()
        alarm = check_overoptimization(self.evaluations, self.config)
        if alarm is not None:
            self._fire(alarm, probe)
        self.last_row = {
            "hacking/proxy": ev.proxy_mean, "hacking/gold": ev.gold_mean, "hacking/kl": ev.kl_mean,
            "hacking/best_gold": self._best.gold_mean if self._best else math.nan,
            "hacking/alarm": float(alarm is not None), "shortcut/flags": float(len(flags)),
            **{f"shortcut/{k}": v for k, v in measures.items()},
        }  # fmt: skip
        return self.last_row

    def _fire(self, alarm: Alarm, probe: Probe) -> None:
        self.alarms.append(alarm)
        self._warn("alarm", alarm.step, alarm.message, alarm=asdict(alarm))
        if alarm.action == "warn":
            return
        self.stopped = True
        if alarm.action == "rollback" and self._snapshot is not None and self._best is not None:
            probe.restore(self._snapshot)
            self.rolled_back_to = self._best.step
            self._warn("rollback", alarm.step, f"rolled back to the weights of step {self._best.step} "
                       f"(gold {self._best.gold_mean:.4g}); training stops", best_step=self._best.step,
                       best_gold=self._best.gold_mean)  # fmt: skip

    # -- records --------------------------------------------------------------------------------------
    def _warn(self, kind: str, step: int, message: str, **figures: Any) -> None:
        log.warning("%s", message)
        self._event(kind, step=step, message=message, **figures)

    def _event(self, kind: str, **fields: Any) -> None:
        if self.events_path is not None:
            row = {"event": kind, **{k: _jsonable(v) for k, v in fields.items()}}
            write_jsonl(self.events_path, [row], append=True)

    def summary(self) -> dict[str, Any]:
        """What the run showed: evaluations, alarms, shortcut flags, the best-gold step and any rollback."""
        return {
            "evaluations": [
                {"step": e.step, "proxy": e.proxy_mean, "gold": e.gold_mean, "kl": e.kl_mean, **e.shortcuts}
                for e in self.evaluations
            ],
            "alarms": [asdict(a) for a in self.alarms],
            "shortcut_flags": [{"step": s, **asdict(f)} for s, f in self.flags],
            "best_step": self.best_step,
            "best_gold": self._best.gold_mean if self._best else None,
            "stopped": self.stopped,
            "rolled_back_to": self.rolled_back_to,
        }


def _scores(fn: RewardFn, prompts: list[Prompt], answers: list[str], what: str) -> list[float]:
    """One float per answer from a reward function (NaN where it gave none)."""
    out = fn(prompts, answers)
    if hasattr(out, "detach"):  # a tensor
        out = out.detach().float().cpu().reshape(-1).tolist()
    try:
        values = [math.nan if v is None else float(v) for v in out]
    except (TypeError, ValueError) as e:
        raise ConfigError(f"the {what} signal must return numbers, one per answer; got {out!r:.80}") from e
    if len(values) != len(answers):
        raise ConfigError(f"the {what} signal returned {len(values)} scores for {len(answers)} answers")
    return values


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None  # JSON has no NaN; null reads as "not measured"
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return v
