"""The scan engine at high concurrency: the target's own in-flight limit follows the scan's where it is
only a default, asking never waits for judging, and answers are judged and stored in batches."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from alignkit.detectors import get_detector
from alignkit.providers.openai import DEFAULT_MAX_CONCURRENCY, OpenAIModel
from alignkit.redteam import Judge, Judgement, Probe, RunStore, ScanConfig, plan, run_scan

REFUSAL = "I'm sorry, but I can't help with that."


def probes(n: int) -> list[Probe]:
    return [Probe(id=f"cyber.p{i:03d}", prompt=f"question {i}", category="cyber") for i in range(n)]


class Crowd:
    """A mock endpoint that holds requests until ``want`` are held at once (or 2 s passed), then answers
    them all; it records the most it held."""

    def __init__(self, want: int) -> None:
        self.want, self.held, self.peak = want, 0, 0
        self.full = asyncio.Event()

    async def __call__(self, req: httpx.Request) -> httpx.Response:
        self.held += 1
        self.peak = max(self.peak, self.held)
        if self.held >= self.want:
            self.full.set()
        try:
            await asyncio.wait_for(self.full.wait(), 2.0)
        except TimeoutError:
            self.full.set()  # fewer came than wanted: answer them, the test reads the peak
        self.held -= 1
        json.loads(req.content)
        return httpx.Response(200, json={"choices": [{"index": 0, "message": {"content": REFUSAL}}]})


def scan(model: OpenAIModel, n: int, concurrency: int, tmp_path: Path, judge: Judge | None = None) -> RunStore:
    store = RunStore(tmp_path / "runs.db")
    asyncio.run(
        run_scan(
            model,
            plan(probes(n), ["none"], 0),
            judge=judge or Judge(harm=[get_detector("banned_words", words=["step 1"])]),
            store=store,
            run_id="r",
            config=ScanConfig(concurrency=concurrency, retries=0),
        )
    )
    return store


def test_the_scan_raises_a_default_in_flight_limit_to_its_concurrency(tmp_path: Path) -> None:
    c = DEFAULT_MAX_CONCURRENCY + 36
    crowd = Crowd(want=c)
    model = OpenAIModel("t", base_url="http://t.test/v1", transport=httpx.MockTransport(crowd), max_retries=0)
    store = scan(model, c, c, tmp_path)
    assert crowd.peak == c and model.max_concurrency == c
    assert sum(1 for r in store.attempts("r") if r.status == "ok") == c


def test_a_limit_the_caller_chose_holds_the_scan_and_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    crowd = Crowd(want=40)
    model = OpenAIModel("t", base_url="http://t.test/v1", transport=httpx.MockTransport(crowd), max_concurrency=12)
    with caplog.at_level(logging.WARNING, logger="alignkit.redteam.engine"):
        store = scan(model, 40, 40, tmp_path)
    assert crowd.peak == 12 and model.max_concurrency == 12
    assert "allows 12 requests in flight" in caplog.text and "concurrency 40" in caplog.text
    assert len(list(store.attempts("r"))) == 40


class HeldJudge(Judge):
    """Judges only once ``asked`` is set; records the size of every batch it was given."""

    def __init__(self, asked: asyncio.Event) -> None:
        super().__init__(harm=[get_detector("banned_words", words=["step 1"])])
        self.asked, self.batches = asked, []

    async def ajudge(self, items: Sequence[tuple[str, str | None, str | None, str | None]]) -> list[Judgement]:
        self.batches.append(len(items))
        await asyncio.wait_for(self.asked.wait(), 5.0)  # times out if asking waited for judging
        return await super().ajudge(items)


def test_asking_goes_on_while_answers_wait_for_the_judge_and_they_are_judged_in_batches(tmp_path: Path) -> None:
    n, seen = 12, []

    async def target(prompt: str) -> str:
        seen.append(prompt)
        if len(seen) == n:
            judge.asked.set()
        await asyncio.sleep(0)
        return REFUSAL

    async def main() -> list[str]:
        nonlocal judge
        judge = HeldJudge(asyncio.Event())
        store = RunStore(tmp_path / "runs.db")
        result = await run_scan(
            target, plan(probes(n), ["none"], 0), judge=judge, store=store, run_id="r", config=ScanConfig(concurrency=2)
        )
        return sorted(r.probe_id for r in result.rows) + sorted(r.probe_id for r in store.attempts("r"))

    judge: HeldJudge
    ids = asyncio.run(main())
    assert ids == sorted(p.id for p in probes(n)) * 2  # every attempt judged and stored once
    assert sum(judge.batches) == n and max(judge.batches) > 1  # answers that waited were judged together


def test_store_add_many_commits_rows_together(tmp_path: Path) -> None:
    store = scan(
        OpenAIModel("t", base_url="http://t.test/v1", transport=httpx.MockTransport(Crowd(want=1)), max_retries=0),
        3,
        3,
        tmp_path,
    )
    rows = list(store.attempts("r"))
    with RunStore(tmp_path / "copy.db") as copy:
        copy.start_run("c", "t", {}, resume=False)
        copy.add_many("c", rows)
        assert [r.key for r in copy.attempts("c")] == [r.key for r in rows]
        assert copy.done_keys("c") == {r.key for r in rows}
