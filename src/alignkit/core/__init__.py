"""Layer 0: the types every other part of alignkit exchanges. Standard library and pydantic only."""

from alignkit.core.completion import Choice, Completion, FinishReason, Usage
from alignkit.core.config import GenerateConfig
from alignkit.core.errors import (
    AlignkitError,
    ConfigError,
    MissingDependencyError,
    ModelNotFoundError,
    ProviderError,
    ProviderHTTPError,
    RecordError,
    UnknownPluginError,
)
from alignkit.core.jsonl import JsonlWriter, read_jsonl, write_jsonl
from alignkit.core.messages import Message, Prompt, Role, assistant, system, to_messages, user
from alignkit.core.model import Model, ModelBase, ModelInfo, run_sync
from alignkit.core.records import PreferencePair, Record, SFTExample, Span, Verdict

__all__ = [
    "AlignkitError",
    "Choice",
    "Completion",
    "ConfigError",
    "FinishReason",
    "GenerateConfig",
    "JsonlWriter",
    "Message",
    "MissingDependencyError",
    "Model",
    "ModelBase",
    "ModelInfo",
    "ModelNotFoundError",
    "PreferencePair",
    "Prompt",
    "ProviderError",
    "ProviderHTTPError",
    "Record",
    "RecordError",
    "Role",
    "SFTExample",
    "Span",
    "UnknownPluginError",
    "Usage",
    "Verdict",
    "assistant",
    "read_jsonl",
    "run_sync",
    "system",
    "to_messages",
    "user",
    "write_jsonl",
]
