"""``--dp-epsilon``, ``--dp-delta``, ``--dp-max-grad-norm``: the DP options of the training commands
(``rlhf train-reward``, ``rlhf sft``, ``cai train``). Nothing here imports torch or opacus."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from alignkit.core.errors import ConfigError
from alignkit.privacy.dp import DPConfig

F = Callable[..., Any]


def dp_options(fn: F) -> F:
    """Add the three DP options to a click command (they arrive as ``dp_epsilon``, ``dp_delta``,
    ``dp_max_grad_norm``; turn them into a config with :func:`dp_config`)."""
    for opt in reversed(
        [
            click.option(
                "--dp-epsilon",
                type=click.FloatRange(0, min_open=True),
                help="Train with DP-SGD (Opacus) to this epsilon over the planned steps (e.g. 8).",
            ),
            click.option(
                "--dp-delta",
                type=click.FloatRange(0, 1, min_open=True, max_open=True),
                help="DP delta (default 1e-5; must be below 1/N for N examples). Needs --dp-epsilon.",
            ),
            click.option(
                "--dp-max-grad-norm",
                type=click.FloatRange(0, min_open=True),
                help="DP per-example gradient clipping bound (default 1.0). Needs --dp-epsilon.",
            ),
        ]
    ):
        fn = opt(fn)
    return fn


def dp_config(epsilon: float | None, delta: float | None, max_grad_norm: float | None) -> DPConfig | None:
    """The DP target the options ask for, None without ``--dp-epsilon``; a usage error when
    ``--dp-delta`` or ``--dp-max-grad-norm`` come without it."""
    if epsilon is None:
        given = [flag for flag, v in (("--dp-delta", delta), ("--dp-max-grad-norm", max_grad_norm)) if v is not None]
        if given:
            raise click.UsageError(f"{' and '.join(given)} need --dp-epsilon (the privacy target) to train with DP")
        return None
    defaults = DPConfig(epsilon=epsilon)
    try:
        return DPConfig(
            epsilon=epsilon,
            delta=defaults.delta if delta is None else delta,
            max_grad_norm=defaults.max_grad_norm if max_grad_norm is None else max_grad_norm,
        )
    except ConfigError as e:
        raise click.UsageError(str(e)) from None


def refuse_dp(dp: DPConfig | None, what: str, instead: str) -> None:
    """A usage error when DP options are given to ``what``, which cannot train with DP."""
    if dp is not None:
        raise click.UsageError(f"--dp-epsilon: {what} does not support DP training; {instead}")
