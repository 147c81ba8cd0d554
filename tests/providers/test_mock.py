from __future__ import annotations

import asyncio
import time

import pytest

from alignkit import get_model
from alignkit.core import ConfigError, GenerateConfig, ProviderError
from alignkit.providers import parse_model_args
from alignkit.providers.mock import COMPLIANCE, REFUSAL, MockModel, scripted


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("mock/echo", "hello world"), ("mock/refuse", REFUSAL), ("mock/comply", COMPLIANCE), ("mock/empty", "")],
)
def test_kinds(spec: str, expected: str) -> None:
    assert get_model(spec).generate("hello world").text == expected


def test_fixed_and_callable() -> None:
    assert get_model("mock/fixed", text="nope").generate("x").text == "nope"
    m = MockModel.from_callable(lambda p: p[::-1])
    assert m.generate("abc").text == "cba"
    assert m.calls[0][0].content == "abc"


def test_scripted_sequence_enqueue_and_exhaustion() -> None:
    m = scripted(["one", "two"])
    assert [c.text for c in m.generate_batch(["a", "b"])] == ["one", "two"]
    with pytest.raises(ProviderError, match="ran out of responses"):
        m.generate("c")
    m.enqueue("three")
    assert m.generate("d").text == "three"
    cyc = scripted(["x", "y"], cycle=True)
    assert [cyc.generate("p").text for _ in range(5)] == ["x", "y", "x", "y", "x"]


def test_error_kind_raises() -> None:
    with pytest.raises(ProviderError, match="always fails"):
        get_model("mock/error").generate("x")


def test_generation_config_is_honoured() -> None:
    m = get_model("mock/echo")
    c = m.generate("one two three four five", max_tokens=2)
    assert c.text == "one two" and c.finish_reason == "length"
    assert m.generate("say STOP now", stop=["STOP"]).text == "say "
    c = m.generate("x", GenerateConfig(n=3))
    assert [ch.text for ch in c.choices] == ["x", "x", "x"]
    assert c.usage.prompt_tokens == 1 and c.usage.completion_tokens == 3


def test_delay_runs_concurrently_in_a_batch() -> None:
    m = MockModel("echo", delay=0.2)
    start = time.perf_counter()
    out = asyncio.run(m.agenerate_batch([str(i) for i in range(10)]))
    assert [c.text for c in out] == [str(i) for i in range(10)]
    assert time.perf_counter() - start < 1.5  # ten 0.2 s calls overlap instead of taking 2 s


def test_bad_arguments_are_clear() -> None:
    with pytest.raises(ConfigError, match="unknown mock model 'echoo'; choose one of"):
        get_model("mock/echoo")
    with pytest.raises(ConfigError, match="does not take that argument"):
        get_model("mock/echo", temperature_typo=1)
    with pytest.raises(ConfigError, match=r"provider/name"):
        get_model("echo")
    with pytest.raises(ConfigError, match=r"use MockModel\.from_callable"):
        get_model("mock/callable")


def test_parse_model_args() -> None:
    assert parse_model_args(["a=1", "b=true", "c=hello", "d=[1,2]", "e=http://x:1/v1"]) == {
        "a": 1,
        "b": True,
        "c": "hello",
        "d": [1, 2],
        "e": "http://x:1/v1",
    }
    with pytest.raises(ConfigError, match="key=value"):
        parse_model_args(["novalue"])


def test_get_model_passes_models_through() -> None:
    m = MockModel("echo")
    assert get_model(m) is m
