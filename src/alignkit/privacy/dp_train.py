"""The DP-SGD training loop, top to bottom. The SFT and reward-model paths call it with their own loss.

One step:

1. Poisson sampling: each of the N examples joins the batch with probability q (a seeded generator).
2. Forward and backward of the batch's summed loss through an Opacus ``GradSampleModule``, whose hooks
   keep every example's own gradient in ``p.grad_sample`` ([B, *p.shape]). A loss that spends k rows
   on one example (a preference pair: chosen and rejected) has its rows folded into one example first.
3. ``DPOptimizer.step``: clip each example's gradient to ``max_grad_norm`` (over all trainable
   weights together), add N(0, σ²C²) noise to the sum, divide by the expected batch size, then the
   inner optimizer (AdamW) steps. Its step hook tells the accountant about the step.
4. An empty batch (possible under Poisson sampling) still steps: the update is pure noise, and the
   accountant counts it, as the analysis assumes.

The model is trained in place; the hooks are removed at the end. Frozen weights (LoRA's base model,
``train_layers``) get no per-example gradients and cost nothing.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from alignkit.core.errors import ConfigError
from alignkit.privacy.dp import DPConfig, DPPlan, budget_record, import_opacus, make_accountant

T = TypeVar("T")

BatchLoss = Callable[[list[T]], tuple[Any, int]]
"""``loss(batch) -> (mean loss over the batch's examples, rows per example)``; the rows of one example
are ``[example 0..B-1 first row, then their second rows, ...]`` (chosen first, then rejected)."""

OnStep = Callable[[int, int, float], None]
"""``on_step(step, total_steps, loss)``."""


@dataclass(frozen=True)
class DPLoopConfig:
    """The optimizer side of a DP run; each default says why."""

    learning_rate: float = 1e-4  # noisy gradients want larger, fewer steps than plain fine-tuning
    weight_decay: float = 0.0  # no extra shrinkage: clipping and noise already regularise
    seed: int = 0  # seeds the batch sampling and the noise; the noise is not cryptographically secure


def dp_train(
    model: Any,
    examples: Sequence[T],
    batch_loss: BatchLoss[T],
    dp: DPConfig,
    p: DPPlan,
    loop: DPLoopConfig | None = None,
    *,
    on_step: OnStep | None = None,
) -> dict[str, Any]:
    """Train ``model`` (a torch module, in place) on ``examples`` with DP-SGD for ``p.steps`` steps.
    Returns statistics with ``privacy`` (:func:`~alignkit.privacy.dp.budget_record`: ε spent by the
    accountant that followed the run)."""
    import torch

    opacus = import_opacus()

    cfg = loop or DPLoopConfig()
    if len(examples) != p.examples:
        raise ConfigError(f"the DP plan is for {p.examples} examples but {len(examples)} were given; plan again")
    params = [w for w in model.parameters() if w.requires_grad]
    if not params:
        raise ConfigError("the model has no trainable weights (all frozen); unfreeze some or add LoRA adapters")
    generator = torch.Generator().manual_seed(cfg.seed)
    noise_gen = torch.Generator(device=params[0].device).manual_seed(cfg.seed + 1)
    # sum: each row's gradient is its own, unscaled; the optimizer divides by the expected batch size
    wrapped = opacus.grad_sample.GradSampleModule(model, batch_first=True, loss_reduction="sum", strict=False)
    optimizer = opacus.optimizers.DPOptimizer(
        torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay),
        noise_multiplier=p.noise_multiplier,
        max_grad_norm=dp.max_grad_norm,
        expected_batch_size=p.expected_batch_size,
        loss_reduction="mean",
        generator=noise_gen,
    )
    accountant = make_accountant(dp)
    optimizer.attach_step_hook(accountant.get_optimizer_hook_fn(sample_rate=p.sample_rate))
    losses: list[float] = []
    sizes: list[int] = []
    start = time.perf_counter()
    wrapped.train()
    try:
        for step in range(p.steps):
            # 1. Poisson sampling: every example independently, with probability q
            drawn = torch.rand(len(examples), generator=generator) < p.sample_rate
            batch = [examples[i] for i in drawn.nonzero().flatten().tolist()]
            sizes.append(len(batch))
            if batch:
                # 2. per-example gradients of the summed loss
                loss, rows = batch_loss(batch)
                with warnings.catch_warnings():  # token ids need no gradient: the embedding's hook fires on outputs
                    warnings.filterwarnings("ignore", message="Full backward hook is firing")
                    (loss * len(batch)).backward()
                if rows > 1:
                    _fold_rows(params, rows, len(batch))
                losses.append(float(loss.detach()))
            else:
                # 4. no example drawn: a pure-noise step, which the accountant still counts
                for w in params:
                    w.grad_sample = torch.zeros((0, *w.shape), device=w.device, dtype=w.dtype)
            # 3. clip, noise, average, step (and account)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if on_step:
                on_step(step + 1, p.steps, losses[-1] if losses else float("nan"))
    finally:
        wrapped.cleanup()  # remove the hooks and per-example state; the model is a plain module again
        model.eval()
    spent = float(accountant.get_epsilon(delta=dp.delta))
    return {
        "steps": p.steps,
        "loss_first": losses[0] if losses else None,
        "loss_last": losses[-1] if losses else None,
        "losses": losses,
        "mean_batch_size": sum(sizes) / len(sizes) if sizes else 0.0,
        "seconds": time.perf_counter() - start,
        "privacy": budget_record(dp, p, p.steps, spent),
    }


def _fold_rows(params: list[Any], rows: int, examples: int) -> None:
    """Sum the per-row gradients of each example: [rows·B, ...] -> [B, ...]."""
    for w in params:
        gs = w.grad_sample
        if gs is None:
            continue
        if gs.shape[0] != rows * examples:
            raise ConfigError(
                f"per-example gradients have {gs.shape[0]} rows, expected {rows} x {examples}: "
                "the loss must run every row of the batch through the model in one forward pass"
            )
        w.grad_sample = gs.view(rows, examples, *gs.shape[1:]).sum(0)
