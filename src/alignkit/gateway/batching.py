"""Requests to a local model answered together: one forward pass for many clients.

A local model (``hf/``, the embedded default) answers a batch of prompts in about the time it takes for
one, but a server gets them one request at a time. :class:`Coalescer` queues the prompts of concurrent
requests and hands them to the model in batches: while the model works on one batch, the requests that
arrive wait and go together in the next (up to ``max_batch`` prompts sharing one generation config). A
request that arrives when the model is idle waits ``wait_s`` (a few milliseconds) for company.

A request whose caller gives up (a timeout, a client that went away) is dropped from the queue if it has
not been sent yet; a failed batch fails each of its requests with the error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from alignkit.core.completion import Completion
from alignkit.core.config import GenerateConfig
from alignkit.core.messages import Message
from alignkit.core.model import Model


@dataclass
class _Waiting:
    prompts: list[tuple[Message, ...]]
    future: asyncio.Future[list[Completion]]


class Coalescer:
    """Batches the concurrent calls to ``model`` (see the module docstring)."""

    def __init__(self, model: Model, *, max_batch: int = 8, wait_s: float = 0.005) -> None:
        self.model, self.max_batch, self.wait_s = model, max(1, max_batch), wait_s
        self._queues: dict[GenerateConfig, list[_Waiting]] = {}
        self._worker: asyncio.Task[None] | None = None
        self.batches: list[int] = []  # prompts per batch sent (the last 1,000), for tests and metrics

    async def generate(self, prompts: Sequence[tuple[Message, ...]], config: GenerateConfig) -> list[Completion]:
        future: asyncio.Future[list[Completion]] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(config, []).append(_Waiting(list(prompts), future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work())
        return await future

    async def _work(self) -> None:
        await asyncio.sleep(self.wait_s)  # let the requests that arrive together go together
        while self._queues:
            config = next(iter(self._queues))
            queue = self._queues[config]
            batch: list[_Waiting] = []
            size = 0
            while queue and (not batch or size + len(queue[0].prompts) <= self.max_batch):
                waiting = queue.pop(0)
                if not waiting.future.done():  # its caller gave up: drop it
                    batch.append(waiting)
                    size += len(waiting.prompts)
            if not queue:
                del self._queues[config]
            if batch:
                await self._send(batch, config)

    async def _send(self, batch: list[_Waiting], config: GenerateConfig) -> None:
        prompts = [p for w in batch for p in w.prompts]
        self.batches = [*self.batches[-999:], len(prompts)]
        try:
            out = await self.model.agenerate_batch(prompts, config, on_error="record")
        except Exception as e:  # the model failed as a whole: every request in the batch learns why
            for w in batch:
                if not w.future.done():
                    w.future.set_exception(e)
            return
        at = 0
        for w in batch:
            part, at = out[at : at + len(w.prompts)], at + len(w.prompts)
            if not w.future.done():
                w.future.set_result(part)
