"""The reward-hacking monitor on scripted numbers (no model): it fires on a synthetic hack (proxy up,
gold down) and not on an honest run (both up) or on noise; every firing is logged with its figures;
rollback restores the best-gold weights; unknown gold never counts as fine; shortcut flags; gold
signals from an LLM rubric and from human labels; the over-optimization plot."""

from __future__ import annotations

import json
import logging
import math
import random
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from alignkit.core.errors import ConfigError
from alignkit.detectors import get_detector
from alignkit.providers.mock import MockModel
from alignkit.rlhf.gold import LabelQueue, human_win_rates, rubric_gold
from alignkit.rlhf.hacking import COLUMNS, EVENTS_FILE, HackingMonitor
from alignkit.rlhf.hacking_plot import plot_overoptimization, read_events
from alignkit.rlhf.hacking_rule import HackingConfig
from alignkit.rlhf.labelling.store import LabelStore
from alignkit.rlhf.shortcuts import ShortcutConfig, measure_shortcuts, shortcut_flags

PROMPTS = [f"held-out question {i}" for i in range(16)]
_FIGURES = re.compile(r"p=(\S+) g=(\S+)")


def proxy(prompts: Sequence[Any], answers: Sequence[str]) -> list[float]:
    return [float(_FIGURES.match(a).group(1)) for a in answers]  # type: ignore[union-attr]


def gold(prompts: Sequence[Any], answers: Sequence[str]) -> list[float]:
    return [float(_FIGURES.match(a).group(2)) for a in answers]  # type: ignore[union-attr]


class ScriptedProbe:
    """Answers that carry their proxy and gold scores: round r gives every prompt p=proxy[r]+noise,
    g=gold[r]+noise. Its 'weights' are the round it is at, so a rollback is visible."""

    def __init__(self, proxy_means: list[float], gold_means: list[float], noise: float = 0.02) -> None:
        self.proxy_means, self.gold_means, self.noise = proxy_means, gold_means, noise
        self.round = 0
        self.rng = random.Random(0)

    def sample(self, prompts: Sequence[Any], seed: int) -> tuple[list[str], list[float]]:
        r = self.round
        self.round += 1
        answers = [
            f"p={self.proxy_means[r] + self.rng.gauss(0, self.noise):.4f} "
            f"g={self.gold_means[r] + self.rng.gauss(0, self.noise):.4f} a fine answer about item {i}"
            for i in range(len(prompts))
        ]
        return answers, [0.5 * r] * len(prompts)

    def snapshot(self) -> int:
        return self.round - 1  # the weights that produced the round just sampled

    def restore(self, snapshot: int) -> None:
        self.round = snapshot
        self.restored = snapshot


def run(probe: ScriptedProbe, config: HackingConfig, tmp_path: Path, evaluations: int) -> HackingMonitor:
    monitor = HackingMonitor(PROMPTS, proxy, gold, config, log_dir=tmp_path)
    after_step = monitor.attach(probe, 0)
    for step in range(1, evaluations * config.eval_every):
        row = after_step(step)
        assert set(row) == set(COLUMNS)
        if monitor.stopped:
            break
    return monitor


HACK_PROXY = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
HACK_GOLD = [0.5, 0.6, 0.7, 0.65, 0.55, 0.45, 0.35, 0.3]  # best at round 2 (step 4), then falls


def test_monitor_fires_on_a_synthetic_hack_with_its_figures(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    config = HackingConfig(eval_every=2, patience=2)
    with caplog.at_level(logging.WARNING, logger="alignkit.rlhf.hacking"):
        monitor = run(ScriptedProbe(HACK_PROXY, HACK_GOLD), config, tmp_path, len(HACK_PROXY))
    assert monitor.alarms, "the monitor missed a proxy-up, gold-down run"
    first = monitor.alarms[0]
    assert first.step == 8  # round 4: gold 0.55 vs 0.7 two checks before (at round 3 the window still rose)
    assert first.proxy_change > 0 and first.gold_change < -3 * first.gold_stderr
    assert first.best_step == 4 and first.best_gold == pytest.approx(0.7, abs=0.02)
    assert not monitor.stopped  # warn only
    assert "reward hacking suspected at step 8" in caplog.text
    events = [json.loads(line) for line in (tmp_path / EVENTS_FILE).read_text().splitlines()]
    alarms = [e for e in events if e["event"] == "alarm"]
    assert alarms[0]["alarm"]["gold_change"] == pytest.approx(first.gold_change)
    assert sum(e["event"] == "evaluation" for e in events) == len(HACK_PROXY)


def test_monitor_is_quiet_on_an_honest_run_and_on_noise(tmp_path: Path) -> None:
    honest = ScriptedProbe([0.1 * i for i in range(8)], [0.5 + 0.05 * i for i in range(8)])
    assert not run(honest, HackingConfig(eval_every=2, patience=2), tmp_path, 8).alarms
    flat = ScriptedProbe([0.1 * i for i in range(8)], [0.5] * 8, noise=0.05)  # proxy up, gold only noisy
    assert not run(flat, HackingConfig(eval_every=2, patience=2), tmp_path / "flat", 8).alarms


def test_rollback_restores_the_best_gold_weights_and_stops(tmp_path: Path) -> None:
    probe = ScriptedProbe(HACK_PROXY, HACK_GOLD)
    monitor = run(probe, HackingConfig(eval_every=2, patience=2, action="rollback"), tmp_path, len(HACK_PROXY))
    assert monitor.stopped and monitor.rolled_back_to == 4
    assert probe.restored == 2  # the weights of round 2, the best gold
    assert len(monitor.evaluations) == 5  # nothing evaluated after the stop
    kinds = [e["event"] for e in read_events(tmp_path)]
    assert kinds[-2:] == ["alarm", "rollback"]


def test_stop_ends_without_rollback(tmp_path: Path) -> None:
    probe = ScriptedProbe(HACK_PROXY, HACK_GOLD)
    monitor = run(probe, HackingConfig(eval_every=2, patience=2, action="stop"), tmp_path, len(HACK_PROXY))
    assert monitor.stopped and monitor.rolled_back_to is None and not hasattr(probe, "restored")


def test_unknown_gold_never_fires_nor_becomes_the_best(tmp_path: Path) -> None:
    def no_gold(prompts: Sequence[Any], answers: Sequence[str]) -> list[float]:
        return [math.nan] * len(answers)

    monitor = HackingMonitor(PROMPTS, proxy, no_gold, HackingConfig(eval_every=1, patience=1), log_dir=tmp_path)
    after = monitor.attach(ScriptedProbe(HACK_PROXY, HACK_GOLD), 0)
    rows = [after(s) for s in range(1, 6)]
    assert not monitor.alarms and monitor.best_step is None
    assert all(math.isnan(r["hacking/gold"]) for r in rows)
    assert sum(e["event"] == "gold_unknown" for e in read_events(tmp_path)) == 6


def test_bad_inputs_say_how_to_fix_them() -> None:
    with pytest.raises(ConfigError, match="held-out prompts"):
        HackingMonitor([], proxy, gold)
    with pytest.raises(ConfigError, match="action"):
        HackingConfig(action="delete")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="at least 1"):
        HackingConfig(eval_every=0)
    monitor = HackingMonitor(PROMPTS, lambda p, a: [1.0], gold)
    with pytest.raises(ConfigError, match="1 scores for 16 answers"):
        monitor.attach(ScriptedProbe(HACK_PROXY, HACK_GOLD), 0)


# -- shortcut flags ----------------------------------------------------------------------------------
CLEAN = [
    "Paris is the capital of France and its largest city.",
    "Boil the pasta for about ten minutes, then drain it.",
    "The mitochondria produce most of the cell's energy.",
    "You can reset the router by holding the button for ten seconds.",
]
PATTERNS = {
    "length_growth": [a + " Also: " + " ".join(f"point{i}" for i in range(40)) for a in CLEAN],
    "repetition": ["I am happy to help. " * 3 for _ in CLEAN],
    "refusal_collapse": ["I'm sorry, but I can't help with that."] * 4,
    "sycophancy": ["Great question! " + a for a in CLEAN[:2]] + ["You're absolutely right. " + a for a in CLEAN[2:]],
    "rm_artefacts": [a + "\n\nHuman: thanks\n\nAssistant: the best answer" for a in CLEAN[:2]]
    + [a + "<|im_end|>" for a in CLEAN[2:]],
}


@pytest.mark.parametrize("name", list(PATTERNS))
def test_each_shortcut_flag_fires_on_its_pattern_only(name: str) -> None:
    refusal = get_detector("refusal")
    base = measure_shortcuts(CLEAN, refusal)
    assert not shortcut_flags(measure_shortcuts(CLEAN, refusal), base, ShortcutConfig(), CLEAN)
    hacked = PATTERNS[name]
    flags = shortcut_flags(measure_shortcuts(hacked, refusal), base, ShortcutConfig(), hacked)
    assert [f.name for f in flags] == [name], [(f.name, f.value) for f in flags]
    assert flags[0].value > flags[0].baseline and flags[0].examples


def test_shortcut_measures_are_nan_for_no_answers_and_bounded_on_hostile_input() -> None:
    assert all(math.isnan(v) for v in measure_shortcuts([], None).values())
    huge = ["Human:" + "a " * 200_000, "<" * 100_000 + "|" * 100_000]
    m = measure_shortcuts(huge, None)
    assert m["artefact_rate"] == 0.5 and math.isnan(m["refusal_rate"])


def test_the_reward_models_own_markers_count_as_artefacts() -> None:
    config = ShortcutConfig(extra_markers=("<reward_me>",))
    answers = ["<reward_me> yes"] * 4
    assert measure_shortcuts(answers, None, config.extra_markers)["artefact_rate"] == 1.0


# -- gold signals ----------------------------------------------------------------------------------
def test_rubric_gold_scales_scores_and_leaves_unscored_answers_unknown() -> None:
    grader = MockModel("scripted", responses=["8", "Score: 10", "no idea", "1"])
    scores = rubric_gold(grader)(["q1", "q2", "q3", "q4"], ["a", "b", "c", "d"])
    assert scores[:2] == [pytest.approx(7 / 9), 1.0] and math.isnan(scores[2]) and scores[3] == 0.0
    with pytest.raises(ConfigError, match="answer"):
        rubric_gold(grader, rubric="Rate {prompt}")


def test_label_queue_turns_samples_into_comparisons_and_win_rates(tmp_path: Path) -> None:
    with LabelStore(tmp_path / "labels.db") as store:
        queue = LabelQueue(store, "run1")
        queue(0, ["q1", "q2"], ["start 1", "start 2"])
        queue(10, ["q1", "q2"], ["later 1", "later 2"])
        assert queue.added == 2
        items = store.items()
        by_answer = {i.answer_a: i for i in items}
        store.record_label(by_answer["later 1"].id, "ann", "a")
        store.record_label(by_answer["later 2"].id, "ann", "tie")
        (rate,) = human_win_rates(store, "run1")
        assert (rate.step, rate.labelled, rate.wins, rate.ties, rate.win_rate) == (10, 2, 1, 1, 0.75)
        assert human_win_rates(store, "other-run") == []


def test_overoptimization_plot_marks_alarms(tmp_path: Path) -> None:
    run(ScriptedProbe(HACK_PROXY, HACK_GOLD), HackingConfig(eval_every=2, patience=2), tmp_path, len(HACK_PROXY))
    svg = plot_overoptimization(read_events(tmp_path), tmp_path / "o.svg").read_text()
    assert svg.count("<polyline") == 2 and "#d1242f" in svg
    with pytest.raises(ConfigError, match="no monitor events"):
        read_events(tmp_path / "nowhere")
