"""The openai/ provider's in-flight limit: counted across every call on an event loop, raised by a
scheduler only where the caller left it at its default, and spread over small connection pools."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from alignkit.core import ConfigError
from alignkit.providers.openai import DEFAULT_MAX_CONCURRENCY, LANE_WIDTH, OpenAIModel, _Lanes
from tests.helpers.openai_server import OpenAICompatServer

BASE = "http://llm.test/v1"


class Gate:
    """A mock endpoint that holds every request until ``release`` and records the most held at once."""

    def __init__(self) -> None:
        self.held = self.peak = 0
        self.open = asyncio.Event()

    async def __call__(self, req: httpx.Request) -> httpx.Response:
        self.held += 1
        self.peak = max(self.peak, self.held)
        await self.open.wait()
        self.held -= 1
        text = json.loads(req.content)["messages"][-1]["content"]
        return httpx.Response(200, json={"choices": [{"index": 0, "message": {"content": text}}]})


async def held_at_once(model: OpenAIModel, gate: Gate, calls: int) -> tuple[int, list[str]]:
    """Start ``calls`` single-prompt calls at once; the most the endpoint held, and the answers."""
    tasks = [asyncio.create_task(model.agenerate(f"p{i}")) for i in range(calls)]
    for _ in range(50):  # let every call reach the endpoint or the limit
        await asyncio.sleep(0)
    held = gate.held
    gate.open.set()
    return held, [c.text for c in await asyncio.gather(*tasks)]


def test_the_limit_holds_across_separate_calls_not_only_within_a_batch() -> None:
    gate = Gate()
    model = OpenAIModel("m", base_url=BASE, transport=httpx.MockTransport(gate), max_concurrency=3)

    async def main() -> tuple[int, list[str]]:
        return await held_at_once(model, gate, 10)

    held, answers = asyncio.run(main())
    assert held == 3 and gate.peak == 3
    assert answers == [f"p{i}" for i in range(10)]


def test_a_default_limit_may_be_raised_a_chosen_one_stands() -> None:
    default = OpenAIModel("m", base_url=BASE)
    assert default.max_concurrency == DEFAULT_MAX_CONCURRENCY and not default.concurrency_fixed
    assert default.allow_concurrency(256) and default.max_concurrency == 256
    assert default.allow_concurrency(8) and default.max_concurrency == 256  # never lowered
    chosen = OpenAIModel("m", base_url=BASE, max_concurrency=16)
    assert not chosen.allow_concurrency(32) and chosen.max_concurrency == 16
    assert chosen.allow_concurrency(16)
    assert "max_concurrency" not in default.info.args and chosen.info.args["max_concurrency"] == 16
    with pytest.raises(ConfigError):
        OpenAIModel("m", base_url=BASE, max_concurrency=0)


def test_raising_the_limit_lets_more_requests_in_on_a_loop_already_in_use() -> None:
    gate = Gate()
    model = OpenAIModel("m", base_url=BASE, transport=httpx.MockTransport(gate))

    async def main() -> tuple[int, int]:
        model.allow_concurrency(2)  # a no-op: already above
        first, _ = await held_at_once(model, gate, 80)
        gate.open = asyncio.Event()
        model.allow_concurrency(100)
        second, _ = await held_at_once(model, gate, 120)
        return first, second

    assert asyncio.run(main()) == (DEFAULT_MAX_CONCURRENCY, 100)


def test_requests_in_flight_are_spread_over_small_connection_pools() -> None:
    made: list[int] = []

    def make(connections: int) -> httpx.AsyncClient:
        made.append(connections)
        return httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200)))

    async def main() -> tuple[list[int], list[int], int]:
        lanes = _Lanes(make, limit=2 * LANE_WIDTH + 3, width=LANE_WIDTH)
        release = asyncio.Event()
        peak: list[int] = []

        async def hold() -> None:
            async with lanes.lease():
                if lanes.in_flight == lanes.limit:
                    peak.extend(lanes.busy)
                await release.wait()

        tasks = [asyncio.create_task(hold()) for _ in range(lanes.limit + 5)]  # 5 more than the limit
        for _ in range(20):
            await asyncio.sleep(0)
        waiting = sum(not t.done() for t in tasks) - lanes.in_flight
        release.set()
        await asyncio.gather(*tasks)
        await lanes.aclose()
        return peak, lanes.busy, waiting

    peak, after, waiting = asyncio.run(main())
    assert made == [LANE_WIDTH] * 3  # a client is added only when every one is full
    assert sorted(peak) == [3, LANE_WIDTH, LANE_WIDTH] and after == [0, 0, 0]
    assert waiting == 5  # the ones over the limit waited for a slot


def test_a_real_server_answers_a_batch_wider_than_one_pool(openai_server: OpenAICompatServer) -> None:
    openai_server.delay = 0.05  # the threaded test server holds each answer, so requests overlap
    n = 2 * LANE_WIDTH + 3
    model = OpenAIModel("echo", base_url=openai_server.base_url, max_concurrency=n)
    out = model.generate_batch([f"q{i}" for i in range(n)])
    assert [c.text for c in out] == [f"q{i}" for i in range(n)]


def test_in_flight_reads_zero_when_idle_and_counts_while_busy() -> None:
    gate = Gate()
    model = OpenAIModel("m", base_url=BASE, transport=httpx.MockTransport(gate), max_concurrency=4)

    async def main() -> tuple[int, int, int]:
        before = model.in_flight
        task = asyncio.create_task(model.agenerate_batch(["a", "b", "c"]))
        for _ in range(20):
            await asyncio.sleep(0)
        during = model.in_flight
        gate.open.set()
        await task
        return before, during, model.in_flight

    assert asyncio.run(main()) == (0, 3, 0)
    assert model.in_flight == 0  # outside any event loop
