"""A guarded model is a model: the red-team scanner and the gateway use it like any other."""

from __future__ import annotations

from alignkit.core.completion import Choice, Completion
from alignkit.core.config import GenerateConfig
from alignkit.core.messages import Message
from alignkit.core.model import Model, ModelBase
from alignkit.guard.guard import BaseGuard


class GuardedModel(ModelBase):
    """``inner`` behind ``guard``. Blocked or refused requests come back as answers with finish reason
    ``content_filter`` (never as errors), and each completion's metadata carries the guard's outcome."""

    provider = "guarded"

    def __init__(self, inner: Model, guard: BaseGuard) -> None:
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
