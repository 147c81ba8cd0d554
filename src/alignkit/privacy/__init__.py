"""Layer 3: privacy leaks. Differentially private training (DP-SGD through Opacus) for SFT and reward
models, and memorization tests: canaries, exposure, extraction and membership inference.

torch, transformers and opacus are imported when a function needs them.
"""

from __future__ import annotations

from alignkit.privacy.dp import DPConfig, DPPlan, epsilon_spent, plan, steps_for

__all__ = ["DPConfig", "DPPlan", "epsilon_spent", "plan", "steps_for"]
