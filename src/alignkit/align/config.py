"""The safety recipe's settings; each default says why (figures: docs/align.md, bench/RESULTS.md)."""

from __future__ import annotations

from dataclasses import dataclass

from alignkit.core.errors import ConfigError


@dataclass(frozen=True)
class AlignConfig:
    """Sizes, answer lengths and training settings of :func:`alignkit.align.align_model`."""

    harmful: int = 160  # harmful goals trained to refusals: refusal costs no generation, so it can be many
    benign: int = 48  # everyday instructions answered by the model itself (self-distillation)
    lookalikes: int = 64  # harmful-sounding safe requests: the contrast that keeps over-refusal down
    dpo_harmful: int = 64  # harmful prompts whose own compliant answer is generated as DPO's "rejected"
    heldout: int = 24  # prompts of each kind held out for the selection check
    answer_tokens: int = 48  # tokens per generated answer: enough to show help or compliance, cheap on a CPU
    heldout_tokens: int = 32  # a refusal shows in its first words
    sft_learning_rate: float = 5e-5  # full fine-tuning of 135M: 2e-5 (trl's default) learned refusals too slowly
    sft_epochs: float = 2.0  # two passes over a few hundred examples
    dpo_learning_rate: float = 5e-6  # above trl's 1e-6, which barely moves a small model in tens of steps
    dpo_beta: float = 0.1  # the DPO paper's value
    dpo_epochs: float = 1.0  # one pass: the SFT step already did most of the work
    batch_size: int = 8  # per optimizer step: fits 135M on 2 cores
    max_length: int = 192  # prompt + answer tokens: the training prompts are short (at most 400 characters)
    seed: int = 0  # sampling, splits, refusal wording and trl's seed

    def __post_init__(self) -> None:
        for name in ("harmful", "benign", "lookalikes", "batch_size", "answer_tokens", "heldout_tokens"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1; got {getattr(self, name)}")
        if not 0 <= self.dpo_harmful <= self.harmful:
            raise ConfigError(f"dpo_harmful must be between 0 and harmful ({self.harmful}); got {self.dpo_harmful}")
        if self.heldout < 0:
            raise ConfigError(f"heldout must be 0 or more; got {self.heldout}")
        for name in ("sft_learning_rate", "dpo_learning_rate", "dpo_beta"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive; got {getattr(self, name)}")
        if self.sft_epochs < 0 or self.dpo_epochs < 0 or self.sft_epochs + self.dpo_epochs == 0:
            raise ConfigError("sft_epochs and dpo_epochs must be 0 or more, and not both 0")
        if self.max_length < 32:
            raise ConfigError(f"max_length must be at least 32 tokens; got {self.max_length}")

    def sizes(self) -> dict[str, int]:
        """Training prompts per kind."""
        return {"harmful": self.harmful, "benign": self.benign, "lookalike": self.lookalikes}
