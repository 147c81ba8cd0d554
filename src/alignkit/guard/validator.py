"""A validator: a detector, where it looks (input or output) and what to do when it fails."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from alignkit.core.errors import ConfigError
from alignkit.core.records import Verdict
from alignkit.detectors.arguments import THRESHOLD, check_arguments, get_detector
from alignkit.detectors.base import Detector

Action = Literal["exception", "fix", "filter", "refrain", "reask", "noop", "escalate", "anonymize"]
ACTIONS: tuple[str, ...] = get_args(Action)
Rail = Literal["input", "output"]
CustomAction = Callable[[str, Verdict], str]
"""A custom on-fail action: ``fn(text, verdict) -> replacement text``."""

OnFail = Action | CustomAction


@dataclass
class Validator:
    """One check of a guard. ``Validator("pii", on_fail="fix", entities=["EMAIL"])``.

    ``name`` is any registered detector name or alias (``no_pii``, ``guardrails/detect_pii``, ``pii``)
    or a :class:`Detector` instance; extra keyword arguments configure the detector.
    """

    detector: Detector
    on_fail: OnFail = "fix"
    on: Rail = "output"
    name: str = field(default="")

    def __init__(self, name: str | Detector, *, on_fail: OnFail = "fix", on: Rail = "output", **args: Any) -> None:
        if isinstance(name, Detector):
            if args:
                raise ConfigError("pass detector arguments when building the detector, not to Validator")
            self.detector = name
        else:
            bad = check_arguments(name, {k: v for k, v in args.items() if k != THRESHOLD})
            if bad is not None:  # a wrongly typed argument is refused here, not by a crash inside the detector
                raise ConfigError(f"{name}: {bad[1]}")
            self.detector = get_detector(name, **args)
        if not callable(on_fail) and on_fail not in ACTIONS:
            raise ConfigError(f"unknown on_fail action {on_fail!r}; use one of {', '.join(ACTIONS)} or a callable")
        if on not in ("input", "output"):
            raise ConfigError(f"a validator checks the 'input' or the 'output'; got {on!r}")
        if on == "input" and on_fail == "reask":
            raise ConfigError(
                f"{self.detector.name}: 'reask' re-prompts the model about its answer, so it applies to "
                "output validators only; for input use exception, refrain, fix, filter, escalate or noop"
            )
        if on_fail == "anonymize" and on != "input":
            raise ConfigError(
                f"{self.detector.name}: 'anonymize' hides values from the model and restores them in its answer, "
                "so it applies to input validators; on output use fix"
            )
        self.on_fail, self.on = on_fail, on
        self.name = self.detector.name

    @property
    def action_name(self) -> str:
        """The on-fail action's name (a custom action's function name)."""
        return self.on_fail if isinstance(self.on_fail, str) else getattr(self.on_fail, "__name__", "custom")

    def describe(self) -> dict[str, Any]:
        """The validator as JSON-able data: detector spec, rail and action."""
        return {"detector": self.detector.spec, "on": self.on, "on_fail": self.action_name}
