"""Differential privacy for training: the (ε, δ) target, the noise that meets it, and the budget spent.

DP-SGD (Abadi et al., 2016) makes each training step differentially private by

1. sampling each training example independently with probability ``q = batch_size / N`` (Poisson
   sampling: the batch size varies; the privacy analysis needs exactly this),
2. clipping every example's own gradient to L2 norm ``C`` (``max_grad_norm``),
3. adding Gaussian noise of standard deviation ``σ·C`` to the sum, and dividing by the expected batch size.

An accountant (Rényi DP by default, Mironov 2017) composes the steps: after ``T`` steps at rate ``q`` and
noise ``σ`` the run is (ε, δ)-DP for the ε it reports. :func:`plan` does it backwards: given the target
(ε, δ), the sampling rate and the planned steps, it finds the smallest σ that stays within the target.
Both directions are Opacus' own accountants (``opacus.accountants``), imported when used.

The guarantee covers one training *example* (an SFT example, a preference pair): a secret repeated in
``k`` examples is protected only at roughly ``k·ε`` (group privacy).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from alignkit.core.errors import ConfigError, MissingDependencyError

ACCOUNTANTS = ("rdp", "prv")
DP_FEATURE = "differentially private training"


def import_opacus() -> Any:
    """The ``opacus`` module, or a :class:`MissingDependencyError` naming the extra."""
    try:
        import opacus  # type: ignore[import-untyped]  # opacus ships no type information
        import opacus.accountants.utils  # type: ignore[import-untyped]
        import opacus.grad_sample  # type: ignore[import-untyped]
        import opacus.optimizers  # type: ignore[import-untyped]
    except ImportError as e:
        raise MissingDependencyError(DP_FEATURE, "opacus", "privacy") from e
    return opacus


@dataclass(frozen=True)
class DPConfig:
    """The privacy target of one training run; each default says why. Bad values raise a :class:`ConfigError`."""

    epsilon: float  # the target ε over the whole planned run; 1-10 is the range papers report for LMs
    delta: float = 1e-5  # must stay well below 1/N (N training examples): checked when the data is known
    max_grad_norm: float = 1.0  # C: each example's gradient is clipped to this L2 norm (Opacus' default)
    accountant: str = "rdp"  # "rdp" (Rényi DP, the usual choice) or "prv" (tighter numerical accounting)

    def __post_init__(self) -> None:
        if not (self.epsilon > 0 and math.isfinite(self.epsilon)):
            raise ConfigError(f"DP epsilon must be a positive number (e.g. 8); got {self.epsilon}")
        if not 0 < self.delta < 1:
            raise ConfigError(
                f"DP delta must be in (0, 1), well below 1/N for N examples (e.g. 1e-5); got {self.delta}"
            )
        if not (self.max_grad_norm > 0 and math.isfinite(self.max_grad_norm)):
            raise ConfigError(
                f"DP max_grad_norm (the clipping bound) must be positive (e.g. 1.0); got {self.max_grad_norm}"
            )
        if self.accountant not in ACCOUNTANTS:
            raise ConfigError(f"DP accountant must be one of {', '.join(ACCOUNTANTS)}; got {self.accountant!r}")


@dataclass(frozen=True)
class DPPlan:
    """What a DP run will do: the sampling rate, the steps and the noise that keep it within the target."""

    examples: int  # N: the privacy unit is one of these
    expected_batch_size: int  # q·N; the noisy gradient sum is divided by this, not by the drawn batch size
    sample_rate: float  # q: the chance each example is in a step's batch (Poisson sampling)
    steps: int  # T: the planned optimizer steps; the accountant's ε is for exactly these
    noise_multiplier: float  # σ: noise std / max_grad_norm


def steps_for(examples: int, batch_size: int, epochs: float, max_steps: int | None) -> int:
    """Planned steps: ``max_steps``, or ``epochs`` passes at ``batch_size`` expected examples per step."""
    if max_steps is not None:
        return max_steps
    return max(1, math.ceil(epochs * examples / batch_size))


def plan(dp: DPConfig, examples: int, batch_size: int, steps: int) -> DPPlan:
    """The noise multiplier σ that makes ``steps`` Poisson-sampled steps at ``batch_size / examples``
    (ε, δ)-DP by ``dp.accountant``. Raises a :class:`ConfigError` when the data is too small for δ or
    the batch is larger than the data."""
    if examples < 2:
        raise ConfigError(f"DP training needs at least 2 training examples; got {examples}")
    if not 1 <= batch_size <= examples:
        raise ConfigError(f"the DP batch size must be between 1 and the {examples} examples; got {batch_size}")
    if dp.delta >= 1 / examples:
        raise ConfigError(
            f"DP delta {dp.delta:g} is not below 1/N = {1 / examples:.3g} for N = {examples} examples: "
            "such a delta allows leaking whole examples; lower it (e.g. --dp-delta 1e-5) or use more data"
        )
    opacus = import_opacus()
    rate = batch_size / examples
    sigma = opacus.accountants.utils.get_noise_multiplier(
        target_epsilon=dp.epsilon, target_delta=dp.delta, sample_rate=rate, steps=steps, accountant=dp.accountant
    )
    return DPPlan(examples, batch_size, rate, steps, float(sigma))


def make_accountant(dp: DPConfig) -> Any:
    """A fresh Opacus accountant of the configured kind."""
    opacus = import_opacus()
    return opacus.accountants.create_accountant(mechanism=dp.accountant)


def epsilon_spent(dp: DPConfig, noise_multiplier: float, sample_rate: float, steps: int) -> float:
    """ε after ``steps`` steps at ``sample_rate`` and ``noise_multiplier`` (0 for no steps), by ``dp.accountant``."""
    if steps == 0:
        return 0.0
    accountant = make_accountant(dp)
    accountant.history = [(noise_multiplier, sample_rate, steps)]
    return float(accountant.get_epsilon(delta=dp.delta))


def budget_record(dp: DPConfig, p: DPPlan, steps_done: int, spent: float) -> dict[str, Any]:
    """The privacy section of a run's manifest and model card."""
    return {
        "mechanism": "DP-SGD (per-example clipping, Gaussian noise, Poisson sampling) through Opacus",
        "target_epsilon": dp.epsilon,
        "delta": dp.delta,
        "epsilon_spent": spent,
        "accountant": dp.accountant,
        "max_grad_norm": dp.max_grad_norm,
        "noise_multiplier": p.noise_multiplier,
        "sample_rate": p.sample_rate,
        "expected_batch_size": p.expected_batch_size,
        "planned_steps": p.steps,
        "steps": steps_done,
        "privacy_unit": "one training example",
        "examples": p.examples,
    }
