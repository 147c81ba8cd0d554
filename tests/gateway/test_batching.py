"""Concurrent requests to a local model are answered in batches (one forward pass for many clients)."""

from __future__ import annotations

import asyncio

import pytest

from alignkit.core.completion import Completion
from alignkit.core.config import GenerateConfig
from alignkit.core.errors import ProviderError
from alignkit.core.messages import Message
from alignkit.core.model import ModelBase
from alignkit.gateway.batching import Coalescer


class Batched(ModelBase):
    """Answers each prompt with its text; records the size of every batch; one batch at a time."""

    provider = "test"
    native_batching = True

    def __init__(self, fail_on: str | None = None) -> None:
        super().__init__("batched")
        self.sizes: list[int] = []
        self.fail_on = fail_on

    async def _generate_batch(self, prompts: list[tuple[Message, ...]], config: GenerateConfig) -> list[Completion]:
        self.sizes.append(len(prompts))
        await asyncio.sleep(0.05)  # the forward pass
        if self.fail_on and any(p[-1].content == self.fail_on for p in prompts):
            raise ProviderError("out of memory")
        return [Completion.of(p[-1].content, "test/batched") for p in prompts]


def ask(c: Coalescer, text: str, config: GenerateConfig | None = None) -> asyncio.Future[list[Completion]]:
    return asyncio.ensure_future(c.generate([(Message("user", text),)], config or GenerateConfig()))


def test_concurrent_requests_share_forward_passes_and_each_gets_its_own_answer() -> None:
    model = Batched()

    async def run() -> list[str]:
        c = Coalescer(model, max_batch=8)
        calls = [ask(c, f"q{i}") for i in range(20)]
        return [(await f)[0].text for f in calls]

    assert asyncio.run(run()) == [f"q{i}" for i in range(20)]
    assert model.sizes == [8, 8, 4]


def test_different_generation_configs_are_never_mixed() -> None:
    model = Batched()

    async def run() -> None:
        c = Coalescer(model, max_batch=8)
        short, long = GenerateConfig(max_tokens=4), GenerateConfig(max_tokens=64)
        calls = [ask(c, f"q{i}", short if i % 2 else long) for i in range(6)]
        await asyncio.gather(*calls)

    asyncio.run(run())
    assert sorted(model.sizes) == [3, 3]


def test_a_failed_batch_fails_its_requests_and_the_next_batch_still_runs() -> None:
    """The model's error comes back as failed completions (the gateway's upstream wrapper raises it)."""
    model = Batched(fail_on="boom")

    async def run() -> tuple[list[list[Completion]], str]:
        c = Coalescer(model, max_batch=2)
        first = [ask(c, "boom"), ask(c, "fine")]
        later = ask(c, "after")
        results = list(await asyncio.gather(*first))
        return results, (await later)[0].text

    results, after = asyncio.run(run())
    assert all(not r[0].ok and "out of memory" in (r[0].error or "") for r in results) and after == "after"


def test_a_caller_that_gives_up_is_dropped_before_its_batch_is_sent() -> None:
    model = Batched()

    async def run() -> None:
        c = Coalescer(model, max_batch=1)
        first = ask(c, "first")
        gone = ask(c, "gone")
        await asyncio.sleep(0.01)
        gone.cancel()
        await first
        await asyncio.sleep(0.1)

    asyncio.run(run())
    assert model.sizes == [1]


@pytest.mark.parametrize("n", [1, 3])
def test_the_gateway_batches_a_local_model(n: int) -> None:
    from alignkit.gateway.config import RouteConfig
    from alignkit.gateway.events import Events
    from alignkit.gateway.upstream import Resilient

    model = Batched()
    up = Resilient(model, RouteConfig(name="m", model="x"), Events())

    async def run() -> list[str]:
        answers = await asyncio.gather(*(up.agenerate(f"q{i}") for i in range(n * 8)))
        return [a.text for a in answers]

    assert asyncio.run(run()) == [f"q{i}" for i in range(n * 8)]
    assert sum(model.sizes) == n * 8 and len(model.sizes) < n * 8
