"""Supervised fine-tuning with differential privacy (full weights or LoRA) on any transformers causal LM.

trl's ``SFTTrainer`` has no per-example clipping or noise, so DP runs go through
:func:`~alignkit.privacy.dp_train.dp_train` with the SFT loss: the mean negative log-likelihood of each
example's answer tokens (the prompt is context, as in ``train_sft``). The folder it writes loads like
``train_sft``'s (``hf/<folder>``), with ``alignkit-train.json`` (the manifest, with the privacy budget
spent) and ``README.md`` (the model card).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from alignkit.core.errors import ConfigError
from alignkit.core.files import write_text_atomic
from alignkit.core.records import SFTExample
from alignkit.privacy.card import write_model_card
from alignkit.privacy.dp import DPConfig, plan, steps_for
from alignkit.privacy.dp_train import DPLoopConfig, dp_train
from alignkit.privacy.likelihood import Encoded, encode, pad_id_of, target_nll
from alignkit.rlhf.trl_config import TrainConfig
from alignkit.rlhf.trl_methods_setup import STATS_FILE, load_policy, peft_config, quiet_progress
from alignkit.torchutil import import_torch_transformers

OnLog = Callable[[int, int, dict[str, float]], None]

DEFAULT_LR_LORA = 5e-4  # DP noise shrinks useful steps; LoRA adapters start at zero and take large steps
DEFAULT_LR_FULL = 5e-5  # full weights: an order of magnitude less, as for plain fine-tuning


def check_dp_train_config(config: TrainConfig) -> None:
    """Refuse the trl-only options a DP run cannot honour, saying what to do instead."""
    if config.gradient_accumulation != 1:
        raise ConfigError(
            "DP training draws one Poisson-sampled batch per step; gradient accumulation is not supported "
            "with DP: raise --batch-size instead of --grad-accum"
        )
    if config.trl_args:
        raise ConfigError(f"DP training does not run through trl; trl_args {sorted(config.trl_args)} cannot apply")


def train_sft_dp(
    model: Any,
    examples: Sequence[SFTExample],
    config: TrainConfig,
    dp: DPConfig,
    *,
    tokenizer: Any = None,
    on_log: OnLog | None = None,
) -> dict[str, Any]:
    """SFT on ``examples`` with DP-SGD to the target ``dp``; ``config.batch_size`` is the expected
    batch size, ``config.epochs`` / ``max_steps`` plan the steps the noise is calibrated for. Saves
    the model (LoRA merged unless ``config.lora.merge`` is off), the tokenizer, the manifest and the
    model card to ``config.output_dir``; returns the statistics."""
    if not examples:
        raise ConfigError("no SFT examples to train on")
    check_dp_train_config(config)
    torch, transformers = import_torch_transformers("DP fine-tuning")
    torch.manual_seed(config.seed)
    steps = steps_for(len(examples), config.batch_size, config.epochs, config.max_steps)
    p = plan(dp, len(examples), config.batch_size, steps)  # fails before any model loads
    with quiet_progress(not config.progress_bar):
        policy, tok, _ = load_policy(model, tokenizer, transformers)
    if config.lora is not None:
        import peft

        policy = peft.get_peft_model(policy, peft_config(config.lora))
    device = "cuda" if torch.cuda.is_available() and not config.use_cpu else "cpu"
    policy.to(device)
    rows = [encode(tok, ex.prompt, ex.completion, max_length=config.max_length) for ex in examples]
    pad = pad_id_of(tok)

    def batch_loss(batch: list[Encoded]) -> tuple[Any, int]:
        nll, count = target_nll(policy, batch, pad)
        return (nll / count.clamp(min=1)).mean(), 1  # each example's mean token loss, then the batch mean

    lr = config.learning_rate or (DEFAULT_LR_LORA if config.lora is not None else DEFAULT_LR_FULL)
    loop = DPLoopConfig(learning_rate=lr, seed=config.seed)
    progress = (lambda s, n, loss: on_log(s, n, {"loss": loss})) if on_log else None
    result = dp_train(policy, rows, batch_loss, dp, p, loop, on_step=progress)
    return save_dp_model(policy, tok, config, "sft", {"examples": len(examples), "learning_rate": lr, **result})


def save_dp_model(policy: Any, tok: Any, config: TrainConfig, method: str, result: dict[str, Any]) -> dict[str, Any]:
    """Save a DP-trained causal LM like ``train_and_save`` does, with the manifest and the model card."""
    out = Path(config.output_dir)
    if config.lora is not None:
        policy.save_pretrained(out / "adapter")
        if config.lora.merge:
            policy = policy.merge_and_unload()
    policy.save_pretrained(out)
    tok.save_pretrained(out)
    stats: dict[str, Any] = {
        "method": f"{method} (DP)",
        "output_dir": str(out),
        "train_loss": result["loss_last"],
        **{k: v for k, v in result.items() if k != "losses"},
        "curves": {"loss": result["losses"]},
        "config": {k: v for k, v in asdict(config).items() if k != "trl_args"},
    }
    write_text_atomic(out / STATS_FILE, json.dumps(stats, indent=1, default=str))
    summary: dict[str, Any] = {k: stats[k] for k in ("method", "steps", "train_loss", "seconds") if k in stats}
    write_model_card(out, f"{method.upper()} with differential privacy", summary, result["privacy"])
    return stats
