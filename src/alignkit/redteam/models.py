"""What red-team code accepts as a model: a :class:`~alignkit.core.model.Model`, or a plain function from
prompt text to answer text (sync or async). Never a model string: strings become models at the edges
(the CLI, spec loaders, a server), which call :func:`alignkit.providers.get_model` and pass the model in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

from alignkit.core.errors import ConfigError
from alignkit.core.model import Model
from alignkit.providers.function import as_model as wrap_callable

ModelLike: TypeAlias = Model | Callable[[str], Any]
"""A model, or a function ``fn(prompt) -> answer`` (sync or async) that becomes one."""


def as_model(model: ModelLike, role: str = "model") -> Model:
    """``model`` as a :class:`Model` (a function is wrapped); a string is a ConfigError naming ``role``
    and saying how to resolve it."""
    if isinstance(model, str):
        raise ConfigError(
            f"the {role} must be a model or a function, not the string {model!r}: "
            f"resolve it first with alignkit.get_model({model!r})"
        )
    return wrap_callable(model)
