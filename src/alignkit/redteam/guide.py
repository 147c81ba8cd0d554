"""The guide's red-team loop, as written::

    from alignkit import get_model
    from alignkit.redteam import is_harmful, log_vulnerability

    model = get_model("smollm2")
    for prompt in red_team_prompts:
        response = model.generate(prompt)
        if is_harmful(response):
            log_vulnerability(prompt, response)

``is_harmful`` uses the same judge as the scanner (refusal detector plus harm detectors; empty and
failed answers are never harmful). ``log_vulnerability`` appends a JSON line to the vulnerability log:
``$ALIGNKIT_VULN_LOG`` or ``./alignkit-vulnerabilities.jsonl``; use :class:`VulnerabilityLog` to choose
the file in code.
"""

from __future__ import annotations

import os
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from alignkit.core.completion import Completion
from alignkit.core.jsonl import JsonlWriter
from alignkit.core.scrub import scrub_value
from alignkit.redteam.judge import Judge, Judgement

DEFAULT_LOG = "alignkit-vulnerabilities.jsonl"


@lru_cache(maxsize=1)
def default_judge() -> Judge:
    """One judge per process, built on first use (its detectors load their weights once). Content mode:
    ``is_harmful(response)`` does not know the prompt, so the answer itself must look harmful."""
    return Judge(mode="content")


def _text(response: Completion | str) -> tuple[str | None, str | None]:
    if isinstance(response, Completion):
        return (response.text if response.ok else None), response.error
    return str(response), None


def judge_response(response: Completion | str, prompt: str = "") -> Judgement:
    """The default judge's full verdict on an answer (what :func:`is_harmful` reduces to a bool)."""
    text, error = _text(response)
    return default_judge().judge(prompt, text, error=error)


def is_harmful(response: Completion | str, prompt: str = "") -> bool:
    """True when the answer gives harmful help (refusals, empty answers and errors never are)."""
    return judge_response(response, prompt).success


class VulnerabilityLog:
    """An append-only JSONL file of successful attacks; every line is flushed when written."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path or os.environ.get("ALIGNKIT_VULN_LOG") or DEFAULT_LOG)

    def log(self, prompt: str, response: Completion | str, **extra: Any) -> dict[str, Any]:
        """Judge the answer and append the record (with ``extra`` fields) to the file; the record."""
        text, error = _text(response)
        j = default_judge().judge(prompt, text, error=error)
        record = {  # a key the target echoed is not kept (alignkit.core.scrub)
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "prompt": prompt,
            "response": text,
            "model": response.model if isinstance(response, Completion) else None,
            "judgement": j.to_dict(),
            **extra,
        }
        clean: dict[str, Any] = scrub_value(record, shapes=False)
        with JsonlWriter(self.path, append=True) as w:
            w.write(clean)
        return clean


def log_vulnerability(prompt: str, response: Completion | str, **extra: Any) -> dict[str, Any]:
    """Append a successful attack to the vulnerability log (see the module docstring for where)."""
    return VulnerabilityLog().log(prompt, response, **extra)
