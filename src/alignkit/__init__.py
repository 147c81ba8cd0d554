"""alignkit: align, attack, defend and certify language models.

``import alignkit`` is light: it loads the core types only. Providers, trainers and servers import
their heavy dependencies (torch, transformers, ...) when first used.
"""

from alignkit._version import __version__
from alignkit.core import (
    AlignkitError,
    Completion,
    ConfigError,
    GenerateConfig,
    Message,
    Model,
    ModelBase,
    ModelInfo,
    PreferencePair,
    SFTExample,
    Verdict,
    read_jsonl,
    write_jsonl,
)
from alignkit.providers import get_model

__all__ = [
    "AlignkitError",
    "Completion",
    "ConfigError",
    "GenerateConfig",
    "Message",
    "Model",
    "ModelBase",
    "ModelInfo",
    "PreferencePair",
    "SFTExample",
    "Verdict",
    "__version__",
    "get_model",
    "read_jsonl",
    "write_jsonl",
]
