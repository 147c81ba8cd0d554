"""Progress that reaches a log: plain lines with rate and ETA when stderr is not a terminal."""

from __future__ import annotations

import io

from alignkit.cli.progress import LineProgress, duration, progress_line
from alignkit.cli.rlhf_common import progress_bar


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_line_every_tenth_of_the_way_and_every_interval_with_rate_and_eta() -> None:
    out, clock = io.StringIO(), Clock()
    with LineProgress(out, every_s=30, clock=clock) as bar:
        task = bar.add_task("ppo", total=100, info="")
        for step in range(1, 101):
            clock.now = step * 2.0  # 0.5 steps/s
            bar.update(task, completed=step, info=f"loss {1 / step:.2f}")
    lines = out.getvalue().splitlines()
    assert len(lines) == 10  # steps 10, 20, ..., 100; nothing repeated at the end
    assert lines[0] == "ppo: step 10/100 (10%), 0.5 steps/s, elapsed 20s, ETA 3m00s, loss 0.10"
    assert lines[-1].startswith("ppo: step 100/100 (100%)") and "ETA" not in lines[-1]


def test_a_task_without_a_total_reports_by_time_and_once_at_the_end() -> None:
    out, clock = io.StringIO(), Clock()
    with LineProgress(out, every_s=30, clock=clock) as bar:
        task = bar.add_task("reward model", total=None, info="")
        for step in range(1, 8):
            clock.now = step * 10.0
            bar.advance(task)
        bar.console.print("saved to out/")
    lines = out.getvalue().splitlines()
    assert lines == [
        "reward model: step 3, 0.1 steps/s, elapsed 30s",
        "reward model: step 6, 0.1 steps/s, elapsed 1m00s",
        "saved to out/",
        "reward model: step 7, 0.1 steps/s, elapsed 1m10s",
    ]


def test_progress_bar_is_plain_lines_off_a_terminal_and_helpers_format() -> None:
    assert isinstance(progress_bar(), LineProgress)  # pytest captures stderr: not a terminal
    assert progress_line("scan", 5, None, 0.0) == "scan: step 5, elapsed 0s"
    assert [duration(s) for s in (45, 225, 7500)] == ["45s", "3m45s", "2h05m"]
