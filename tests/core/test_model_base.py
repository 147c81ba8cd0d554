from __future__ import annotations

import asyncio

import pytest

from alignkit.core import Completion, GenerateConfig, Message, Model, ModelBase, ProviderError
from alignkit.core.completion import Choice
from alignkit.providers.mock import MockModel


class Upper(ModelBase):
    provider = "test"

    def __init__(self) -> None:
        super().__init__("upper", config=GenerateConfig(max_tokens=5), flavour="loud")
        self.seen: list[GenerateConfig] = []

    async def _generate_batch(self, prompts: list[tuple[Message, ...]], config: GenerateConfig) -> list[Completion]:
        self.seen.append(config)
        return [Completion.of(p[-1].content.upper(), self.info.spec) for p in prompts]


def test_subclass_gets_sync_async_and_batch() -> None:
    m = Upper()
    assert isinstance(m, Model)
    assert m.generate("abc").text == "ABC"
    assert [c.text for c in m.generate_batch(["a", "b"])] == ["A", "B"]
    assert asyncio.run(m.agenerate("x")).text == "X"
    assert m.info.spec == "test/upper" and m.info.args == {"flavour": "loud"}
    c = m.generate("abc")
    assert c.latency_s is not None and c.latency_s >= 0


def test_config_layers_default_then_call_then_overrides() -> None:
    m = Upper()
    m.generate("a", GenerateConfig(temperature=0.5), seed=7)
    assert m.seen[-1] == GenerateConfig(max_tokens=5, temperature=0.5, seed=7)


def test_sync_call_works_inside_a_running_loop() -> None:
    async def inside() -> str:
        return Upper().generate("nested").text  # what a notebook cell does

    assert asyncio.run(inside()) == "NESTED"


def test_batch_rejects_a_bare_string() -> None:
    with pytest.raises(TypeError, match="list of prompts"):
        Upper().generate_batch("abc")


def test_on_error_raise_or_record() -> None:
    class Half(ModelBase):
        provider = "test"

        async def _generate_batch(self, prompts: list[tuple[Message, ...]], config: GenerateConfig) -> list[Completion]:
            return [
                Completion.of("ok", "t") if i % 2 == 0 else Completion.failed("t", "bad item")
                for i in range(len(prompts))
            ]

    m = Half("half")
    with pytest.raises(ProviderError, match="bad item"):
        m.generate_batch(["a", "b"])
    out = m.generate_batch(["a", "b", "c"], on_error="record")
    assert [c.ok for c in out] == [True, False, True]
    err = MockModel("error")
    assert not err.generate_batch(["x"], on_error="record")[0].ok


def test_wrong_answer_count_is_caught() -> None:
    class Short(ModelBase):
        async def _generate_batch(self, prompts: list[tuple[Message, ...]], config: GenerateConfig) -> list[Completion]:
            return [Completion((Choice("x"),), "t")]

    with pytest.raises(ProviderError, match="returned 1 answers for 2 prompts"):
        Short("s").generate_batch(["a", "b"])
