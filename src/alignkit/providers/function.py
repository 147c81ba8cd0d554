"""A plain Python function as a model: ``fn(prompt_text) -> answer_text``, sync or async.

For guards and scans over code that is not an alignkit model (an existing chatbot function, a RAG
pipeline). The function receives the last user message; its return value is the answer.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from alignkit.core.completion import Completion
from alignkit.core.config import GenerateConfig
from alignkit.core.errors import ConfigError
from alignkit.core.messages import Message, last_user_text
from alignkit.core.model import Model, ModelBase


class CallableModel(ModelBase):
    """A plain function from prompt text to answer text (sync or async), as a :class:`Model`."""

    provider = "callable"

    def __init__(self, fn: Callable[[str], Any]) -> None:
        super().__init__(getattr(fn, "__name__", "function"))
        self.fn = fn

    async def _generate_batch(self, prompts: list[tuple[Message, ...]], config: GenerateConfig) -> list[Completion]:
        async def one(msgs: tuple[Message, ...]) -> Completion:
            out = self.fn(last_user_text(msgs))
            if inspect.isawaitable(out):
                out = await out
            return Completion.of(str(out), self.info.spec)

        return list(await asyncio.gather(*(one(p) for p in prompts)))


def as_model(llm: Model | Callable[..., Any]) -> Model:
    """A model from what library callers hand over: a model, or a callable from prompt text to answer.

    Model strings are resolved at the edges (the CLI, spec files, the gateway) with
    :func:`alignkit.providers.get_model`; library functions never guess what a string means."""
    if isinstance(llm, Model):
        return llm
    if isinstance(llm, str):
        raise ConfigError(
            f"got the model string {llm!r} where a model is expected; resolve it first: alignkit.get_model({llm!r})"
        )
    if callable(llm):
        return CallableModel(llm)
    raise ConfigError(f"expected an alignkit model or a callable; got {type(llm).__name__}")
