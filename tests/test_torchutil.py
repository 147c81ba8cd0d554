"""The torch helpers every layer shares: install hints that name the feature, device and dtype choice."""

from __future__ import annotations

import subprocess
import sys

import pytest

from alignkit.core.errors import ConfigError, MissingDependencyError
from alignkit.torchutil import import_torch, import_torch_transformers, pick_device, pick_dtype, prefers_bf16
from tests.conftest import needs_torch


def test_missing_torch_names_the_feature_and_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"reward models needs torch and transformers.*alignkit\[hf\]"):
        import_torch_transformers("reward models")
    with pytest.raises(MissingDependencyError, match=r"seeding needs torch.*alignkit\[hf\]"):
        import_torch("seeding")
    assert pick_device("cpu") == "cpu"  # an explicit device needs no torch


@needs_torch
def test_device_and_dtype() -> None:
    torch = import_torch()
    assert pick_device("auto") in ("cuda", "mps", "cpu") and pick_device(None) == pick_device("auto")
    assert pick_dtype("float16", "cpu") is torch.float16
    assert pick_dtype("auto", "cpu") is torch.float32  # CPU bf16 matmuls are slow
    assert not prefers_bf16("cpu")
    for bad in ("float33", "cuda"):  # "cuda" is a torch attribute but not a dtype
        with pytest.raises(ConfigError, match="unknown torch dtype"):
            pick_dtype(bad, "cpu")


def test_importing_it_is_light() -> None:
    code = "import sys, alignkit.torchutil; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
