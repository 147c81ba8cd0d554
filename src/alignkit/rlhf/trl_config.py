"""The options of the trl methods in :mod:`alignkit.rlhf.trl_methods`, one dataclass per method.

Every option object in alignkit is a dataclass named ``...Config`` whose ``__post_init__`` raises a
:class:`~alignkit.core.ConfigError` naming the field and the rule, so a bad value fails where it is
written. The names differ from trl's and peft's own (``trl.DPOConfig``, ``peft.LoraConfig``), which
:mod:`~alignkit.rlhf.trl_methods_setup` builds from these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alignkit.core.errors import ConfigError

__all__ = ["DPOTrainConfig", "LoraAdapterConfig", "RLTrainConfig", "TrainConfig"]


def _require(ok: bool, name: str, value: Any, rule: str) -> None:
    if not ok:
        raise ConfigError(f"{name} must be {rule}; got {value!r}")


@dataclass(frozen=True)
class LoraAdapterConfig:
    """A LoRA adapter (through peft) instead of full fine-tuning; each default says why."""

    rank: int = 16  # enough capacity for preference and style tuning; the LoRA paper saw little gain above 8-16
    alpha: int = 32  # 2 x rank, the common choice: the update's scale stays steady when you change rank
    dropout: float = 0.05  # light regularisation; data sets here are small
    target_modules: str | tuple[str, ...] = "all-linear"  # peft's shorthand: every linear layer except the head
    merge: bool = True  # save merged full weights so hf/<output_dir> loads them; the adapter goes to adapter/

    def __post_init__(self) -> None:
        if self.rank < 1 or self.alpha < 1:
            raise ConfigError(f"LoRA rank and alpha must be at least 1; got rank={self.rank}, alpha={self.alpha}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"LoRA dropout must be in [0, 1); got {self.dropout}")


@dataclass
class TrainConfig:
    """What every trl method shares (SFT uses it as is); each default says why."""

    output_dir: str | Path  # the trained model and tokenizer go here; hf/<output_dir> loads them
    learning_rate: float | None = None  # None: trl's default per method (1e-6 DPO/RLOO/GRPO, 2e-5 SFT); LoRA ~1e-4
    batch_size: int = 4  # per step: pairs (DPO), examples (SFT), completions (RLOO/GRPO); fits 135M on 2 cores
    gradient_accumulation: int = 1  # raise it for a larger effective batch at the same memory
    epochs: float = 1.0  # one pass: preference and SFT sets overfit quickly
    max_steps: int | None = None  # stop after this many optimizer steps (overrides epochs); short runs and tests
    max_length: int = 512  # tokens per prompt + answer (DPO, SFT); longer rows are truncated by trl
    seed: int = 0  # trl seeds torch, numpy and python from it, and shuffles with it
    lora: LoraAdapterConfig | None = None  # None: full fine-tuning
    logging_steps: int = 1  # log every step: runs are short and on_log drives progress bars
    report_to: tuple[str, ...] = ()  # no tracker, so no network calls; ("tensorboard",) writes under output_dir
    gradient_checkpointing: bool = False  # trl turns it on; it costs ~20% compute and only big models need it
    use_cpu: bool | None = None  # None: the CPU when no CUDA GPU is present, else the GPU
    progress_bar: bool = False  # library code stays quiet; callers draw their own from on_log
    trl_args: Mapping[str, Any] = field(default_factory=dict)  # any other trl config field, e.g. {"loss_type": ...}

    def __post_init__(self) -> None:
        _require(self.batch_size >= 1, "batch_size", self.batch_size, "at least 1")
        _require(self.gradient_accumulation >= 1, "gradient_accumulation", self.gradient_accumulation, "at least 1")
        _require(self.epochs > 0, "epochs", self.epochs, "positive")
        _require(self.max_steps is None or self.max_steps >= 1, "max_steps", self.max_steps, "at least 1 or None")
        _require(self.max_length >= 8, "max_length", self.max_length, "at least 8 tokens")
        _require(self.learning_rate is None or self.learning_rate > 0, "learning_rate", self.learning_rate, "positive")
        _require(self.logging_steps >= 1, "logging_steps", self.logging_steps, "at least 1")
        if not str(self.output_dir):
            raise ConfigError("output_dir is empty; give the folder the trained model should be saved to")


@dataclass
class DPOTrainConfig(TrainConfig):
    """DPO: the shared settings plus the strength of the pull towards the reference model."""

    beta: float = 0.1  # the DPO paper's value; lower lets the policy drift further from the reference

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.beta <= 0:
            raise ConfigError(f"DPO beta must be positive; got {self.beta}")


@dataclass
class RLTrainConfig(TrainConfig):
    """RLOO and GRPO: sample a group of answers per prompt, score them, push towards the better ones."""

    batch_size: int = 8  # completions per step: two prompts x num_generations
    num_generations: int = 4  # group size: the baseline is the group's mean; 4 is affordable on a CPU
    max_new_tokens: int = 64  # answer length per sample; generation dominates the step time
    temperature: float = 1.0  # sample the policy as it is: both estimators assume on-policy samples
    beta: float = 0.04  # KL pull to the reference (DeepSeekMath's GRPO value); 0 drops the reference model

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_generations < 2:
            raise ConfigError(
                f"num_generations must be at least 2 (the group is the baseline); got {self.num_generations}"
            )
        per_update = self.batch_size * self.gradient_accumulation
        if per_update % self.num_generations:
            multiple = self.num_generations * max(1, per_update // self.num_generations)
            raise ConfigError(
                f"batch_size x gradient_accumulation ({per_update}) must be a multiple of num_generations "
                f"({self.num_generations}), so each prompt's group is scored together; make it e.g. {multiple}"
            )
        if self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be at least 1; got {self.max_new_tokens}")
        if self.temperature <= 0:
            raise ConfigError(f"temperature must be positive (sampling needs it); got {self.temperature}")
        if self.beta < 0:
            raise ConfigError(f"beta must be 0 or positive; got {self.beta}")
