"""Progress that reaches a log: a rich bar on a terminal, plain lines everywhere else.

A live bar redraws one line in place, which a file or a CI log cannot show: a long run sent to a file
printed nothing until it ended. When stderr is not a terminal, :class:`LineProgress` stands in for the
bar with the same calls (``add_task``, ``update``, ``advance``, ``console.print``) and writes one line
per task every ``every_s`` seconds or tenth of the way, and when it ends::

    ppo: step 40/200 (20%), 0.71 steps/s, elapsed 56s, ETA 3m45s, reward 0.41  kl 0.02
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO


@dataclass
class _Task:
    description: str
    total: float | None
    completed: float = 0.0
    info: str = ""
    started: float = field(default_factory=time.monotonic)
    last_line: float = field(default_factory=time.monotonic)
    last_done: float = 0.0


class _Console:
    """What callers use of a rich console here: ``print`` a message on its own line."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def print(self, *parts: Any, **_: Any) -> None:
        print(*parts, file=self.stream, flush=True)


class LineProgress:
    """A stand-in for ``rich.progress.Progress`` that writes plain progress lines (see the module docstring)."""

    def __init__(
        self, stream: TextIO | None = None, *, every_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.every_s, self.clock = every_s, clock
        self.console = _Console(self.stream)
        self.tasks: list[_Task] = []

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        for task in self.tasks:  # the final state of each task, once
            if task.completed != task.last_done or task.completed == 0:
                self._line(task)

    def add_task(self, description: str, total: float | None = None, completed: float = 0, **fields: Any) -> int:
        now = self.clock()
        self.tasks.append(_Task(description, total, completed, str(fields.get("info", "")), now, now, completed))
        return len(self.tasks) - 1

    def update(
        self,
        task_id: int,
        *,
        completed: float | None = None,
        total: float | None = None,
        advance: float = 0,
        **fields: Any,
    ) -> None:
        task = self.tasks[task_id]
        if total is not None:
            task.total = total
        if completed is not None:
            task.completed = completed
        task.completed += advance
        if "info" in fields:
            task.info = str(fields["info"])
        now = self.clock()
        moved = task.completed != task.last_done
        tenth = bool(task.total) and task.completed - task.last_done >= (task.total or 0) / 10
        finished = bool(task.total) and task.completed >= (task.total or 0)
        if moved and (tenth or finished or now - task.last_line >= self.every_s):
            self._line(task)

    def advance(self, task_id: int, advance: float = 1) -> None:
        self.update(task_id, advance=advance)

    def _line(self, task: _Task) -> None:
        now = self.clock()
        task.last_line, task.last_done = now, task.completed
        print(
            progress_line(task.description, task.completed, task.total, now - task.started, task.info),
            file=self.stream,
            flush=True,
        )


def progress_line(description: str, done: float, total: float | None, elapsed_s: float, info: str = "") -> str:
    """``name: step 40/200 (20%), 0.71 steps/s, elapsed 56s, ETA 3m45s, info``."""
    parts = [f"{description}: step {done:g}" + (f"/{total:g} ({100 * done / total:.0f}%)" if total else "")]
    rate = done / elapsed_s if elapsed_s > 0 else 0.0
    if rate > 0:
        parts.append(f"{rate:.3g} steps/s")
    parts.append(f"elapsed {duration(elapsed_s)}")
    if total and rate > 0 and done < total:
        parts.append(f"ETA {duration((total - done) / rate)}")
    line = ", ".join(parts)
    return f"{line}, {info}" if info else line


def duration(seconds: float) -> str:
    """``45s``, ``3m45s``, ``2h05m``."""
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"
