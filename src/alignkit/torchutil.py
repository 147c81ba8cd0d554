"""torch helpers for every layer that runs a network: import torch (and transformers) with an install
hint, pick the device and dtype, seed.

Layer 0, beside :mod:`alignkit.core`: providers, detectors and rlhf import it. torch and transformers
are imported inside the functions, so importing this module stays light; without them the error names
the extra to install.
"""

from __future__ import annotations

from typing import Any

from alignkit.core.errors import ConfigError, MissingDependencyError

__all__ = ["import_torch", "import_torch_transformers", "pick_device", "pick_dtype", "prefers_bf16", "seed_torch"]


def import_torch(feature: str = "this feature") -> Any:
    """The ``torch`` module, or a :class:`MissingDependencyError` saying ``feature`` needs the ``hf`` extra."""
    try:
        import torch
    except ImportError as e:
        raise MissingDependencyError(feature, "torch", "hf") from e
    return torch


def import_torch_transformers(feature: str = "the hf provider") -> tuple[Any, Any]:
    """``(torch, transformers)``, or a :class:`MissingDependencyError` saying ``feature`` needs the ``hf`` extra."""
    try:
        import torch
        import transformers
    except ImportError as e:
        raise MissingDependencyError(feature, "torch and transformers", "hf") from e
    return torch, transformers


def pick_device(device: str | None = "auto") -> str:
    """``"auto"``/None: CUDA when available, then Apple MPS, else CPU; any other value is kept."""
    if device not in (None, "auto"):
        return str(device)
    torch = import_torch("picking a device")
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def prefers_bf16(device: str) -> bool:
    """Whether ``device`` should compute in bfloat16: a CUDA GPU that supports it (CPU bf16 matmuls are slow)."""
    return device.startswith("cuda") and bool(import_torch("picking a dtype").cuda.is_bf16_supported())


def pick_dtype(dtype: str | None, device: str) -> Any:
    """A torch dtype by name; ``"auto"``/None: bfloat16 where :func:`prefers_bf16`, float32 elsewhere."""
    torch = import_torch("picking a dtype")
    if dtype not in (None, "auto"):
        found = getattr(torch, str(dtype), None)
        if not isinstance(found, torch.dtype):
            raise ConfigError(f"unknown torch dtype {dtype!r}; use float32, bfloat16 or float16")
        return found
    return torch.bfloat16 if prefers_bf16(device) else torch.float32


def seed_torch(seed: int) -> None:
    """Seed torch's global generators (CPU and every GPU), so sampling after it repeats."""
    import_torch("seeding torch").manual_seed(seed)
