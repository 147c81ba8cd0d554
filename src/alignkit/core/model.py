"""The ``Model`` protocol: anything that answers prompts.

Providers (mock, hf, embedded, openai, ...) implement it, and so do wrappers such as a guarded model,
so the red-team scanner, the gateway and the trainers work with any of them without knowing which.
The protocol is async at heart (``agenerate_batch``); ``generate`` and ``generate_batch`` are sync
conveniences that also work inside a running event loop (a notebook).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, TypeVar, runtime_checkable

from alignkit.core.completion import Completion
from alignkit.core.config import GenerateConfig
from alignkit.core.errors import ProviderError
from alignkit.core.messages import Message, Prompt, to_messages

T = TypeVar("T")
OnError = Literal["raise", "record"]


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What a model is, so every report can say exactly what produced it and replay it."""

    provider: str  # registry name of the provider, e.g. "hf"
    name: str  # model name within the provider, e.g. "./checkpoints/policy"
    args: Mapping[str, Any] = field(default_factory=dict)  # JSON-able constructor arguments

    @property
    def spec(self) -> str:
        """The string that resolves to this model again: ``provider/name``."""
        return f"{self.provider}/{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "name": self.name, "spec": self.spec, "args": dict(self.args)}


@runtime_checkable
class Model(Protocol):
    """Anything that answers prompts. See :class:`ModelBase` for the usual way to implement it."""

    @property
    def info(self) -> ModelInfo: ...

    async def agenerate_batch(
        self,
        prompts: Sequence[Prompt],
        config: GenerateConfig | None = None,
        *,
        on_error: OnError = "raise",
        **overrides: Any,
    ) -> list[Completion]: ...

    async def agenerate(self, prompt: Prompt, config: GenerateConfig | None = None, **overrides: Any) -> Completion: ...

    def generate(self, prompt: Prompt, config: GenerateConfig | None = None, **overrides: Any) -> Completion: ...

    def generate_batch(
        self,
        prompts: Sequence[Prompt],
        config: GenerateConfig | None = None,
        *,
        on_error: OnError = "raise",
        **overrides: Any,
    ) -> list[Completion]: ...


def run_sync(awaitable: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even when an event loop is already running here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(awaitable)
    # Inside a running loop (Jupyter, an async web handler calling sync code): use a private loop in a
    # worker thread rather than failing with "asyncio.run() cannot be called from a running event loop".
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, awaitable).result()


async def gather_limited(awaitables: Sequence[Awaitable[T]], limit: int) -> list[T | BaseException]:
    """Await all, at most ``limit`` at a time, keeping order; exceptions are returned, not raised."""
    sem = asyncio.Semaphore(max(1, limit))

    async def one(a: Awaitable[T]) -> T:
        async with sem:
            return await a

    return list(await asyncio.gather(*(one(a) for a in awaitables), return_exceptions=True))


class ModelBase(ABC):
    """Base class for providers: implement :meth:`_generate_batch`; the rest comes from here.

    Subclasses set :attr:`provider` and pass their JSON-able constructor arguments to ``__init__`` so
    that :attr:`info` records them.
    """

    provider: ClassVar[str] = "custom"
    #: True when answering a batch in one call is much cheaper than one call per prompt (local models);
    #: schedulers then send chunks instead of a sliding window of single requests.
    native_batching: bool = False

    def __init__(self, name: str, *, config: GenerateConfig | None = None, **args: Any) -> None:
        self._info = ModelInfo(self.provider, name, {k: v for k, v in args.items() if v is not None})
        self.default_config = config or GenerateConfig()

    @property
    def info(self) -> ModelInfo:
        return self._info

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._info.spec}>"

    @abstractmethod
    async def _generate_batch(self, prompts: list[tuple[Message, ...]], config: GenerateConfig) -> list[Completion]:
        """Answer each normalized prompt, in order. May return ``Completion.failed`` for single items."""

    async def agenerate_batch(
        self,
        prompts: Sequence[Prompt],
        config: GenerateConfig | None = None,
        *,
        on_error: OnError = "raise",
        **overrides: Any,
    ) -> list[Completion]:
        """Answer many prompts. ``on_error="record"`` turns failures into ``Completion.failed`` entries
        (``ok`` is False) instead of raising, so one bad prompt does not lose a whole batch."""
        if isinstance(prompts, str):
            raise TypeError("agenerate_batch takes a list of prompts; use agenerate for one prompt")
        msgs = [to_messages(p) for p in prompts]
        cfg = self.default_config.merge(config, **overrides)
        if not msgs:
            return []
        start = time.perf_counter()
        try:
            out = await self._generate_batch(msgs, cfg)
        except ProviderError as e:
            if on_error == "raise":
                raise
            return [Completion.failed(self._info.spec, e) for _ in msgs]
        if len(out) != len(msgs):
            raise ProviderError(f"{self._info.spec} returned {len(out)} answers for {len(msgs)} prompts")
        if on_error == "raise":
            for c in out:
                if not c.ok:
                    if c.exception is not None:
                        raise c.exception
                    raise ProviderError(f"{self._info.spec} failed: {c.error}")
        elapsed = time.perf_counter() - start
        return [c if c.latency_s is not None else _with_latency(c, elapsed) for c in out]

    async def agenerate(self, prompt: Prompt, config: GenerateConfig | None = None, **overrides: Any) -> Completion:
        """Answer one prompt."""
        return (await self.agenerate_batch([prompt], config, **overrides))[0]

    def generate(self, prompt: Prompt, config: GenerateConfig | None = None, **overrides: Any) -> Completion:
        """Answer one prompt (sync)."""
        return self._run_sync(self.agenerate(prompt, config, **overrides))

    def generate_batch(
        self,
        prompts: Sequence[Prompt],
        config: GenerateConfig | None = None,
        *,
        on_error: OnError = "raise",
        **overrides: Any,
    ) -> list[Completion]:
        """Answer many prompts (sync)."""
        return self._run_sync(self.agenerate_batch(prompts, config, on_error=on_error, **overrides))

    def _run_sync(self, coro: Coroutine[Any, Any, T]) -> T:
        async def run() -> T:
            try:
                return await coro
            finally:
                await self._release_loop_resources()

        return run_sync(run())

    async def _release_loop_resources(self) -> None:
        """Release what is bound to the current event loop (connection pools) before a sync call's
        private loop closes. Providers with such resources override it."""

    async def aclose(self) -> None:
        """Release connections or memory. Safe to call more than once."""

    def close(self) -> None:
        run_sync(self.aclose())

    def __enter__(self) -> ModelBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> ModelBase:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _with_latency(c: Completion, seconds: float) -> Completion:
    return dataclasses.replace(c, latency_s=seconds)
