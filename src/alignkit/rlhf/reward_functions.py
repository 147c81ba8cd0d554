"""Reward functions, and the ones that need no trained reward model.

Every reward in alignkit has one shape, :data:`RewardFn`: ``f(prompts, responses) -> rewards``, one
number per response (a list of floats or a 1-D tensor). A :class:`~alignkit.rlhf.reward.RewardModel`
is one; :meth:`~alignkit.rlhf.ppo.PPOTrainer.train` and the trl methods take any.

:func:`detector_reward` turns a detector (toxicity, harmful_answer, PII, ...) into a reward: ``1 -
score``, so answers the detector flags are punished and clean ones earn up to 1. This module imports
no torch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from alignkit.core.errors import ConfigError
from alignkit.core.messages import Prompt
from alignkit.detectors import Detector, get_detector

RewardFn = Callable[[list[Prompt], list[str]], Any]
"""A reward function: ``f(prompts, responses) -> rewards`` (floats or a 1-D tensor), one per response."""

__all__ = ["RewardFn", "detector_reward"]


def detector_reward(detector: Detector | str, **args: Any) -> Callable[[Sequence[Prompt], Sequence[str]], list[float]]:
    """A reward function that scores each response with ``detector``: ``1 - score``, in [0, 1].

    ``detector`` is a :class:`~alignkit.detectors.Detector` or the name of a registered one (built with
    ``args``, e.g. ``detector_reward("toxicity")``). Responses are scored in one batch; the prompts are
    not read (detectors judge a text on its own). The function's ``__name__`` is ``detector_<name>``, so
    trl's logs name the reward."""
    if not isinstance(detector, Detector | str):
        raise ConfigError(f"detector_reward needs a Detector or a detector name; got {type(detector).__name__}")
    if args and not isinstance(detector, str):
        raise ConfigError("detector_reward: arguments build a detector by name; pass them to the Detector instead")
    det = get_detector(detector, **args) if isinstance(detector, str) else detector

    def reward(prompts: Sequence[Prompt], responses: Sequence[str]) -> list[float]:
        if isinstance(responses, str):
            raise ConfigError("a reward function takes lists of prompts and responses; wrap a single pair in lists")
        if len(prompts) != len(responses):
            raise ConfigError(f"{len(prompts)} prompts but {len(responses)} responses; pass one response per prompt")
        return [1.0 - v.score for v in det.detect_batch(list(responses))]

    reward.__name__ = f"detector_{det.name}"
    return reward
