"""Layer 3: RLHF. Preference data, reward models, our own PPO, and DPO / RLOO / GRPO / SFT through trl.

``import alignkit.rlhf`` stays light: the torch-backed names below are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from alignkit.rlhf.data import (
    ImportReport,
    clean,
    from_rows,
    hh_pair,
    load_preferences,
    parse_hh,
    prompts_of,
    to_hf_dataset,
)
from alignkit.rlhf.ppo_config import PPOConfig
from alignkit.rlhf.reward_functions import RewardFn, detector_reward
from alignkit.rlhf.trl_config import DPOTrainConfig, LoraAdapterConfig, RLTrainConfig, TrainConfig

_LAZY = {
    "AutoModelForCausalLMWithValueHead": "alignkit.rlhf.policy",
    "HackingConfig": "alignkit.rlhf.hacking_rule",
    "HackingMonitor": "alignkit.rlhf.hacking",
    "evaluate_policy": "alignkit.rlhf.evaluate",
    "train_dpo": "alignkit.rlhf.trl_methods",
    "train_grpo": "alignkit.rlhf.trl_methods",
    "train_rloo": "alignkit.rlhf.trl_methods",
    "train_sft": "alignkit.rlhf.trl_methods",
    "PPOTrainer": "alignkit.rlhf.ppo",
    "RewardConfig": "alignkit.rlhf.reward",
    "RewardModel": "alignkit.rlhf.reward",
    "ValueHeadModel": "alignkit.rlhf.policy",
    "evaluate_reward_model": "alignkit.rlhf.reward",
    "train_reward_model": "alignkit.rlhf.reward",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'alignkit.rlhf' has no attribute {name!r}")


__all__ = [
    "AutoModelForCausalLMWithValueHead",
    "DPOTrainConfig",
    "HackingConfig",
    "HackingMonitor",
    "ImportReport",
    "LoraAdapterConfig",
    "PPOConfig",
    "PPOTrainer",
    "RLTrainConfig",
    "RewardConfig",
    "RewardFn",
    "RewardModel",
    "TrainConfig",
    "ValueHeadModel",
    "clean",
    "detector_reward",
    "evaluate_policy",
    "evaluate_reward_model",
    "from_rows",
    "hh_pair",
    "load_preferences",
    "parse_hh",
    "prompts_of",
    "to_hf_dataset",
    "train_dpo",
    "train_grpo",
    "train_reward_model",
    "train_rloo",
    "train_sft",
]
