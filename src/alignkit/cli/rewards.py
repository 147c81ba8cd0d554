"""Reward specs on the command line: ``FOLDER`` (a saved reward model), ``module:function`` or
``detector:NAME``. Loading a reward model needs torch, so this module is imported by the training
commands only."""

from __future__ import annotations

import importlib
from pathlib import Path

from alignkit.core.errors import ConfigError
from alignkit.rlhf.reward import RewardModel
from alignkit.rlhf.reward_functions import RewardFn, detector_reward


def reward_function(spec: str, device: str = "auto") -> RewardFn:
    """The reward function a spec names: ``FOLDER`` (a saved reward model), ``module:function`` or
    ``detector:NAME`` (:func:`~alignkit.rlhf.reward_functions.detector_reward`: 1 - the detector's score)."""
    if spec.startswith("detector:"):
        return detector_reward(spec.split(":", 1)[1])
    if Path(spec).is_dir():
        return RewardModel.load(spec, device=device)
    if ":" in spec:
        module, _, name = spec.partition(":")
        try:
            fn = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as e:
            raise ConfigError(f"cannot import reward function {spec!r}: {e}") from e
        if not callable(fn):
            raise ConfigError(f"{spec} is not callable; it must be f(prompts, responses) -> rewards")
        return fn  # type: ignore[no-any-return]
    raise ConfigError(f"reward {spec!r} is not a reward-model folder, module:function or detector:NAME")
