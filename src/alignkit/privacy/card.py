"""The model card (``README.md`` in the model folder) of a DP-trained model: what was trained, on how
many examples, and the privacy budget the accountant measured, in words and numbers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from alignkit.core.files import write_text_atomic

CARD_FILE = "README.md"


def privacy_section(privacy: dict[str, Any]) -> str:
    """The card's privacy paragraph for a :func:`~alignkit.privacy.dp.budget_record`."""
    return (
        "## Privacy\n\n"
        f"Trained with {privacy['mechanism']}. The accountant ({privacy['accountant']}) measured "
        f"**(ε = {privacy['epsilon_spent']:.3g}, δ = {privacy['delta']:g})-differential privacy** over "
        f"{privacy['steps']} steps (target ε = {privacy['target_epsilon']:g}), per {privacy['privacy_unit']} "
        f"of the {privacy['examples']} used: per-example gradients clipped to L2 norm {privacy['max_grad_norm']:g}, "
        f"noise multiplier σ = {privacy['noise_multiplier']:.4g}, sampling rate q = {privacy['sample_rate']:.4g} "
        f"(expected batch {privacy['expected_batch_size']}).\n\n"
        "What this does not cover: the starting weights (pre-training data is not protected by this run), "
        "a secret repeated in k examples (protected only at about k·ε), the data used to choose "
        "hyper-parameters, and any evaluation data. The noise comes from torch's generator, not a "
        "cryptographically secure one.\n"
    )


def write_model_card(folder: str | Path, title: str, summary: dict[str, Any], privacy: dict[str, Any]) -> Path:
    """Write ``folder/README.md``: a title, the run summary (JSON) and the privacy section."""
    path = Path(folder) / CARD_FILE
    text = (
        f"# {title}\n\n"
        "Trained by alignkit with differential privacy.\n\n"
        f"{privacy_section(privacy)}\n"
        "## Run\n\n```json\n"
        f"{json.dumps(summary, indent=1, default=str)}\n```\n\n"
        "## Budget record\n\n```json\n"
        f"{json.dumps(privacy, indent=1, default=str)}\n```\n"
    )
    write_text_atomic(path, text)
    return path
