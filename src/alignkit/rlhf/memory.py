"""How much memory a training run will need, said before it starts, and a clear error when it will not fit.

The estimate is arithmetic on the model's ``config.json`` (no torch, no weights loaded):

- **weights**: parameters x 4 bytes (float32) for each model copy the method holds (policy, reference,
  value model);
- **optimizer**: trainable parameters x 12 bytes (the gradient and AdamW's two moments); LoRA trains
  about 1% of a small model, full fine-tuning all of it;
- **activations**: per token of the largest forward pass, what each transformer block keeps for the
  backward pass (every block without gradient checkpointing; with it, each block's input plus one
  block's working set), plus the vocabulary-sized logits a language-model loss needs (an SFT, DPO or PPO
  policy; a reward model's head reads one number per row instead).

The per-token coefficients are measured: peak RSS of reward-model training on the embedded model
(bench/bench_reward_memory.py), which includes what the C allocator keeps after tensors are freed
(glibc holds on to freed activation memory in its heaps, about as much again as the tensors themselves
during checkpointed training). tests/rlhf/test_memory.py checks the estimate against a measured peak
on a model built from a config, within a factor of two.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alignkit.core.errors import ConfigError

__all__ = ["MemoryEstimate", "ModelShape", "available_bytes", "check_fits", "estimate_training_memory"]

GIB = 2**30
FLOAT = 4  # bytes: training here is float32 (CPUs have no fast half precision for training)
ADAM_BYTES = 3 * FLOAT  # per trainable parameter: its gradient and AdamW's two moments
# floats per token per block kept for the backward pass without checkpointing, as multiples of the hidden
# and MLP widths (measured, allocator overhead included: 129 KiB a token a block on SmolLM2-135M)
BLOCK_HIDDEN, BLOCK_MLP = 20, 13
LOGIT_COPIES = 3  # logits, their log-softmax, and its gradient: each [tokens, vocab]
OVERHEAD = 0.6 * GIB  # the Python process with torch and transformers imported, before any model
SKIP_ENV = "ALIGNKIT_MEMORY_CHECK"  # "off" runs even when the estimate says it will not fit


@dataclass(frozen=True)
class ModelShape:
    """What the estimate needs of a transformer, read from its ``config.json``."""

    layers: int
    hidden: int
    intermediate: int
    vocab: int
    params: int

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ModelShape:
        """From a transformers config dict (Llama-style names, GPT-2's ``n_layer``/``n_embd`` too)."""
        layers = int(config.get("num_hidden_layers") or config.get("n_layer") or 0)
        hidden = int(config.get("hidden_size") or config.get("n_embd") or 0)
        if not layers or not hidden:
            raise ConfigError("config.json names no layer count or hidden size; cannot estimate memory")
        inter = int(config.get("intermediate_size") or config.get("n_inner") or 4 * hidden)
        vocab = int(config.get("vocab_size") or 0)
        heads = int(config.get("num_attention_heads") or config.get("n_head") or 1)
        kv = int(config.get("num_key_value_heads") or heads)
        head_dim = int(config.get("head_dim") or hidden // heads)
        attention = hidden * head_dim * (2 * heads + 2 * kv)  # q and o, k and v
        mlp = (3 if "intermediate_size" in config else 2) * hidden * inter  # gated MLPs have three matrices
        tied = config.get("tie_word_embeddings", True)
        params = layers * (attention + mlp) + vocab * hidden * (1 if tied else 2)
        return cls(layers=layers, hidden=hidden, intermediate=inter, vocab=vocab, params=params)

    @classmethod
    def from_folder(cls, folder: str | Path) -> ModelShape | None:
        """From ``folder/config.json``; None when there is none (a hub id not downloaded yet)."""
        path = Path(folder) / "config.json"
        if not path.is_file():
            return None
        try:
            return cls.from_config(json.loads(path.read_text()))
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot read {path}: {e}") from None

    def lora_params(self, rank: int) -> int:
        """Trainable parameters of rank-``rank`` adapters on every linear layer of every block (approx.)."""
        per_block = rank * (4 * 2 * self.hidden + 3 * (self.hidden + self.intermediate))
        return self.layers * per_block


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a run needs, by part, and what the machine has free."""

    what: str
    weights: float
    optimizer: float
    activations: float
    available: float

    @property
    def total(self) -> float:
        return OVERHEAD + self.weights + self.optimizer + self.activations

    def fits(self) -> bool:
        return self.total <= self.available

    def describe(self) -> str:
        parts = f"weights {self.weights / GIB:.1f}, optimizer {self.optimizer / GIB:.1f}, "
        parts += f"activations {self.activations / GIB:.1f}"
        return (
            f"{self.what}: memory estimate {self.total / GIB:.1f} GiB ({parts}) "
            f"of {self.available / GIB:.1f} GiB available"
        )


def estimate_training_memory(
    shape: ModelShape,
    *,
    tokens_per_pass: int,
    trainable: int,
    checkpointing: bool,
    lm_logits: bool,
    copies: int = 1,
    available: float | None = None,
    what: str = "training",
) -> MemoryEstimate:
    """The peak memory of a training run: ``copies`` of the weights, ``trainable`` parameters' optimizer
    state, and activations for the largest forward pass of ``tokens_per_pass`` tokens."""
    block = FLOAT * (BLOCK_HIDDEN * shape.hidden + BLOCK_MLP * shape.intermediate)  # bytes a token, one block
    # with checkpointing each block's input is kept and one block at a time is recomputed in full
    per_token = FLOAT * shape.hidden * shape.layers + block if checkpointing else block * shape.layers
    activations = tokens_per_pass * per_token
    if lm_logits:
        activations += tokens_per_pass * shape.vocab * FLOAT * LOGIT_COPIES
    return MemoryEstimate(
        what=what,
        weights=copies * shape.params * FLOAT,
        optimizer=trainable * ADAM_BYTES,
        activations=activations,
        available=available_bytes() if available is None else available,
    )


def available_bytes() -> float:
    """Memory the system can give a new process now (``MemAvailable``; the total RAM where that is unknown)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def check_fits(estimate: MemoryEstimate, hints: list[str]) -> None:
    """Raise a :class:`ConfigError` saying how to make the run fit when the estimate exceeds what is
    available (unless ``ALIGNKIT_MEMORY_CHECK=off``)."""
    if estimate.fits() or os.environ.get(SKIP_ENV, "").lower() == "off":
        return
    ways = "; ".join(hints)
    raise ConfigError(
        f"{estimate.describe()}: this run will not fit. To fit: {ways}. "
        f"(The estimate is rough; {SKIP_ENV}=off runs anyway.)"
    )
