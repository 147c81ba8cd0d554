"""PPO's options: :class:`PPOConfig`, paired with the trainer in :mod:`alignkit.rlhf.ppo`.

Like every alignkit option object it is a dataclass whose ``__post_init__`` raises a
:class:`~alignkit.core.ConfigError` naming the rule a field breaks. Importing it needs no torch.
"""

from __future__ import annotations

from dataclasses import dataclass

from alignkit.core.errors import ConfigError

__all__ = ["PPOConfig"]


@dataclass
class PPOConfig:
    """PPO settings; each default says why."""

    model_name: str | None = None  # policy to load when PPOTrainer gets no model (folder or hub id)
    learning_rate: float = 1e-5  # full fine-tuning; 1e-6..3e-5 is the usual range for 0.1-7B models
    batch_size: int = 16  # rollouts per PPO step
    mini_batch_size: int | None = None  # rollouts per gradient step; None = batch_size // 4 (at least 1)
    micro_batch_size: int | None = None  # rollouts per forward pass (gradient accumulation); None = mini
    ppo_epochs: int = 4  # passes over each batch; more reuses samples, but drifts off-policy
    cliprange: float = 0.2  # PPO's ε for the policy ratio
    cliprange_value: float = 0.2  # and for the value change
    vf_coef: float = 0.1  # value loss weight; the value head shares the body, keep it from dominating
    ent_coef: float = 0.0  # entropy bonus; KL to the reference already keeps the policy spread out
    gamma: float = 1.0  # no discounting within one answer
    lam: float = 0.95  # GAE λ
    init_kl_coef: float = 0.05  # β for the per-token KL penalty
    adaptive_kl: bool = False  # move β to keep KL near kl_target (Ziegler et al.)
    kl_target: float = 6.0  # nats per sequence, for adaptive β
    kl_horizon: int = 10000  # samples over which β may change by ±20%
    whiten_advantages: bool = True  # normalise advantages per batch (stabilises the policy step)
    score_clip: float | None = None  # clip scores to ±score_clip before shaping (guards against outliers)
    missing_eos_penalty: float | None = None  # subtracted from the score of answers cut off at max_new_tokens
    temperature: float = 1.0  # sampling temperature; log-probs are computed at the same temperature
    max_new_tokens: int = 32  # response length limit when train() or model.generate samples
    max_prompt_length: int = 256  # queries are cut from the left (keep the question) to this many tokens
    chat_template: bool = True  # render text queries with the tokenizer's chat template when it has one
    max_grad_norm: float = 1.0
    seed: int = 0
    output_dir: str | None = None  # logs and checkpoints; None = no files
    save_every: int = 0  # steps between checkpoints (0 = only at the end of train())
    keep_checkpoints: int = 2  # older checkpoints are deleted; 0 keeps them all
    tensorboard: bool = False  # also write TensorBoard scalars (needs the tensorboard package)
    device: str | None = "auto"

    def __post_init__(self) -> None:
        self.check()

    def minibatch(self) -> int:
        """Rollouts per gradient step: ``mini_batch_size``, or a quarter of the batch."""
        return self.mini_batch_size or max(1, self.batch_size // 4)

    def microbatch(self) -> int:
        """Rollouts per forward pass: ``micro_batch_size``, or the whole mini-batch."""
        return self.micro_batch_size or self.minibatch()

    def check(self) -> None:
        """Raise a :class:`ConfigError` naming the rule a field breaks (run again by the trainer, since
        fields may be changed after construction)."""
        mini, micro = self.minibatch(), self.microbatch()
        if self.batch_size < 1 or mini > self.batch_size or micro > mini:
            raise ConfigError(
                f"need 1 <= micro_batch_size ({micro}) <= mini_batch_size ({mini}) <= batch_size ({self.batch_size})"
            )
        if self.temperature <= 0:
            raise ConfigError("temperature must be > 0: PPO needs a sampling distribution (use 1.0 for plain sampling)")
        if self.adaptive_kl and self.kl_target <= 0:
            raise ConfigError("kl_target must be > 0 with adaptive_kl")
        if self.ppo_epochs < 1 or self.max_new_tokens < 1:
            raise ConfigError(
                f"ppo_epochs ({self.ppo_epochs}) and max_new_tokens ({self.max_new_tokens}) must be at least 1"
            )
        if not (0.0 < self.gamma <= 1.0 and 0.0 <= self.lam <= 1.0):
            raise ConfigError(f"need 0 < gamma <= 1 and 0 <= lam <= 1; got gamma={self.gamma}, lam={self.lam}")
