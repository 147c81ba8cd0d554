"""Layer 1: model providers, resolved from one string syntax ``provider/name``.

=====================================  ==============================================================
``mock/echo``, ``mock/fixed``, ...     test models, standard library only (:mod:`.mock`)
``hf/<folder or hub id>``              transformers causal LMs (:mod:`.hf`; extra ``alignkit[hf]``)
``smollm2`` (``embedded/...``)         the embedded default, SmolLM2-135M-Instruct (:mod:`.embedded`)
``openai/<model>``                     any OpenAI-compatible chat endpoint (:mod:`.openai`)
=====================================  ==============================================================

Library code takes :class:`~alignkit.core.Model` objects; only the CLI and servers call
:func:`get_model` on strings. Third-party providers register with ``@provider("name")`` in a module
named by an ``alignkit`` entry point.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from alignkit.core.config import GenerateConfig
from alignkit.core.errors import ConfigError
from alignkit.core.model import Model
from alignkit.registry import Registry

ProviderFactory = Callable[..., Model]
"""``factory(name, *, config=None, **args) -> Model``."""

providers: Registry[ProviderFactory] = Registry("provider", package="alignkit.providers")

EMBEDDED_SPEC = "embedded/smollm2-135m-instruct"
SHORTCUTS: dict[str, str] = {
    "smollm2": EMBEDDED_SPEC,
    "embedded": EMBEDDED_SPEC,
    "default": EMBEDDED_SPEC,
}
"""Model strings that need no provider prefix."""


def provider(
    name: str, *, aliases: Sequence[str] = (), description: str = ""
) -> Callable[[ProviderFactory], ProviderFactory]:
    """Register a provider factory: ``@provider("mine") def mine(name, *, config=None, **args) -> Model``."""
    return providers.register(name, aliases=aliases, description=description)


def get_model(spec: str | Model, *, config: GenerateConfig | None = None, **args: Any) -> Model:
    """Resolve a model string such as ``"mock/echo"``, ``"hf/./ckpt"`` or ``"smollm2"`` to a model.

    A :class:`Model` passes through unchanged, so functions can accept either.
    """
    if isinstance(spec, Model):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"a model is a Model object or a string like 'mock/echo'; got {spec!r}")
    spec = SHORTCUTS.get(spec.strip().lower(), spec.strip())
    prov, sep, name = spec.partition("/")
    if not sep or not name:
        raise ConfigError(
            f"model strings look like provider/name (e.g. mock/echo, hf/./checkpoint, openai/gpt-4o-mini) "
            f"or a shortcut ({', '.join(sorted(SHORTCUTS))}); got {spec!r}"
        )
    model: Model = providers.build(prov, name, config=config, **args)
    return model


def parse_model_args(pairs: Sequence[str]) -> dict[str, Any]:
    """Turn ``["batch_size=4", "device=cpu"]`` into ``{"batch_size": 4, "device": "cpu"}``.

    Values are read as JSON when they parse (numbers, booleans, lists), as strings otherwise.
    """
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"model arguments are key=value; got {pair!r}")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


__all__ = [
    "EMBEDDED_SPEC",
    "SHORTCUTS",
    "ProviderFactory",
    "get_model",
    "parse_model_args",
    "provider",
    "providers",
]
