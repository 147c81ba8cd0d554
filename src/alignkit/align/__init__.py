"""A safety recipe for small models: SFT then DPO on refusals, the model's own helpful answers and
harmful-sounding safe requests, from the shared data, never from the red-team probes it is judged on.

>>> from alignkit.align import AlignConfig
>>> AlignConfig().dpo_beta
0.1

:func:`align_model` runs it (docs/align.md); :func:`evaluate_model` scans a model with the built-in
probes and the red-team judge.
"""

from __future__ import annotations

from alignkit.align.config import AlignConfig
from alignkit.align.evaluate import evaluate_model, harm_probes
from alignkit.align.recipe import align_model, refuses

__all__ = ["AlignConfig", "align_model", "evaluate_model", "harm_probes", "refuses"]
