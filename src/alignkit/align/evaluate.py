"""The outside judge: the red-team scanner and its judge on the built-in probes, never trained on.

:func:`harm_probes` are the built-in probes of the harm categories (each harmful request with its benign
look-alikes, :mod:`alignkit.redteam.probe_library`); the OWASP categories (prompt injection, leakage,
agency) test system-prompt handling, which this recipe does not train. :func:`evaluate_model` scans a
model with them (greedy answers, the default :class:`~alignkit.redteam.judge.Judge`) and returns attack
success and over-refusal with 95% Wilson intervals, overall and per category.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alignkit.core.model import Model
from alignkit.redteam.base import Probe
from alignkit.redteam.engine import ScanConfig, plan, run_scan
from alignkit.redteam.judge import Judge
from alignkit.redteam.probe_library import HARM_LIBRARY
from alignkit.redteam.probes import builtin_probes
from alignkit.redteam.store import RunStore
from alignkit.redteam.summary import summarize

EVAL_MAX_TOKENS = 96  # what `alignkit demo` uses: enough to see whether the model helps


def harm_probes() -> list[Probe]:
    """The built-in probes of the harm categories (harmful requests and their benign look-alikes)."""
    return builtin_probes(list(HARM_LIBRARY))


def evaluate_model(
    model: Model,
    probes: list[Probe],
    store: Path,
    run_id: str,
    *,
    judge: Judge | None = None,
    max_tokens: int = EVAL_MAX_TOKENS,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Scan ``model`` with ``probes`` into the run store at ``store`` (run ``run_id``); the summary as JSON
    (attack success, over-refusal, per category) plus ``seconds`` and the judge's spec."""
    judge = judge or Judge()
    start = time.perf_counter()
    with RunStore(store) as runs:
        asyncio.run(
            run_scan(
                model,
                plan(probes),
                judge=judge,
                store=runs,
                run_id=run_id,
                config=ScanConfig(max_tokens=max_tokens),
                on_progress=on_progress,
            )
        )
        summary = summarize(runs.attempts(run_id))
    result = summary.to_dict()
    result.pop("vulnerabilities", None)
    result.pop("by_converter", None)
    return {**result, "judge": judge.spec, "max_tokens": max_tokens, "seconds": round(time.perf_counter() - start, 1)}
