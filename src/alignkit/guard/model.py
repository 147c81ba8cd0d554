"""A guarded model is a model: the red-team scanner and the gateway use it like any other."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any

from alignkit.core.completion import Choice, Completion
from alignkit.core.config import GenerateConfig
from alignkit.core.errors import ConfigError
from alignkit.core.messages import Message, last_user_text
from alignkit.core.model import Model, ModelBase
from alignkit.guard.guard import Guard


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


def as_model(llm: Model | str | Callable[..., Any]) -> Model:
    """Accept what ``guard(llm, prompt)`` accepts: a model, a model string or a callable."""
    if isinstance(llm, Model):
        return llm
    if isinstance(llm, str):
        from alignkit.providers import get_model

        return get_model(llm)
    if callable(llm):
        return CallableModel(llm)
    raise ConfigError(f"llm must be an alignkit model, a model string or a callable; got {type(llm).__name__}")


class GuardedModel(ModelBase):
    """``inner`` behind ``guard``. Blocked or refused requests come back as answers with finish reason
    ``content_filter`` (never as errors), and each completion's metadata carries the guard's outcome."""

    provider = "guarded"

    def __init__(self, inner: Model, guard: Guard) -> None:
        super().__init__(inner.info.spec, guard=guard.describe())
        self.inner, self.guard = inner, guard
        self.native_batching = bool(getattr(inner, "native_batching", False))

    async def _generate_batch(self, prompts: list[tuple[Message, ...]], config: GenerateConfig) -> list[Completion]:
        outcomes = await self.guard.acall_batch(self.inner, list(prompts), config=config, raise_on_exception=False)
        out = []
        for o in outcomes:
            intervened = o.blocked or any(a.action != "noop" for a in o.actions)
            out.append(
                Completion(
                    (Choice(o.text, "content_filter" if intervened else "stop"),),
                    self.info.spec,
                    metadata={"guard": o.to_dict()},
                )
            )
        return out
