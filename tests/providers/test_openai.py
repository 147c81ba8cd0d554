from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from alignkit import get_model
from alignkit.core import ConfigError, GenerateConfig, ProviderError, ProviderHTTPError
from alignkit.providers.mock import MockModel
from alignkit.providers.openai import OpenAIModel
from tests.helpers.openai_server import OpenAICompatServer

BASE = "http://llm.test/v1"


def ok_body(text: str = "hi there", finish: str = "stop") -> dict[str, Any]:
    return {
        "id": "c1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2},
    }


class Recorder:
    """An injectable sleep that records the backoff delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def model(handler: Any, **kw: Any) -> tuple[OpenAIModel, Recorder]:
    sleep = Recorder()
    m = OpenAIModel("gpt-test", base_url=BASE, transport=httpx.MockTransport(handler), sleep=sleep, **kw)
    return m, sleep


def test_request_body_and_response_parsing() -> None:
    seen: list[dict[str, Any]] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(json.loads(req.content))
        assert req.url == httpx.URL(f"{BASE}/chat/completions")
        return httpx.Response(200, json=ok_body("Paris.", "length"))

    m, _ = model(handler)
    c = m.generate(
        [{"role": "system", "content": "brief"}, {"role": "user", "content": "capital?"}],
        GenerateConfig(temperature=0.2, top_p=0.9, max_tokens=7, seed=1, n=1, stop=["\n"]),
    )
    assert (c.text, c.finish_reason, c.usage.prompt_tokens, c.usage.completion_tokens) == (
        "Paris.",
        "length",
        5,
        2,
    )
    assert seen[0] == {
        "model": "gpt-test",
        "messages": [{"role": "system", "content": "brief"}, {"role": "user", "content": "capital?"}],
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 7,
        "seed": 1,
        "n": 1,
        "stop": ["\n"],
    }
    assert c.metadata == {"id": "c1"}


def test_retries_429_and_5xx_with_backoff_then_succeeds() -> None:
    statuses = iter([429, 503, 500, 200])

    def handler(req: httpx.Request) -> httpx.Response:
        s = next(statuses)
        if s == 429:
            return httpx.Response(429, headers={"Retry-After": "3"}, json={"error": {"message": "slow down"}})
        return httpx.Response(s, json=ok_body() if s == 200 else {"error": {"message": "oops"}})

    m, sleep = model(handler, backoff_base=1.0, backoff_max=30.0)
    assert m.generate("x").text == "hi there"
    assert sleep.delays[0] == 3.0  # Retry-After honoured
    assert 1.0 <= sleep.delays[1] <= 2.0 and 2.0 <= sleep.delays[2] <= 4.0  # exponential, jittered


def test_gives_up_after_max_retries_with_the_last_error() -> None:
    calls = 0

    def handler(req: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(502, text="bad gateway")

    m, sleep = model(handler, max_retries=2)
    with pytest.raises(ProviderError, match="failed after 3 attempts; last: HTTP 502: bad gateway"):
        m.generate("x")
    assert calls == 3 and len(sleep.delays) == 2


def test_client_errors_are_not_retried_and_keep_the_servers_message() -> None:
    calls = 0

    def handler(req: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(400, json={"error": {"message": "model 'gpt-test' does not exist"}})

    m, _ = model(handler)
    with pytest.raises(ProviderHTTPError, match="HTTP 400: model 'gpt-test' does not exist") as e:
        m.generate("x")
    assert e.value.status == 400 and calls == 1


def test_timeouts_and_connection_errors_are_retried() -> None:
    attempts = iter([httpx.ReadTimeout("slow"), httpx.ConnectError("refused"), None])

    def handler(req: httpx.Request) -> httpx.Response:
        exc = next(attempts)
        if exc is not None:
            raise exc
        return httpx.Response(200, json=ok_body())

    m, sleep = model(handler)
    assert m.generate("x").ok and len(sleep.delays) == 2

    def always_timeout(req: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow")

    m2, _ = model(always_timeout, max_retries=1, timeout=5)
    with pytest.raises(ProviderError, match="timed out after 5"):
        m2.generate("x")


def test_api_key_from_environment_is_sent_but_never_recorded(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-test-SECRET-123"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    auth: list[str | None] = []

    def handler(req: httpx.Request) -> httpx.Response:
        auth.append(req.headers.get("authorization"))
        return httpx.Response(401, json={"error": {"message": "invalid key"}})

    m, _ = model(handler)
    with pytest.raises(ProviderHTTPError) as e:
        m.generate("x")
    assert auth == [f"Bearer {secret}"]
    assert secret not in str(e.value) and secret not in json.dumps(m.info.to_dict()) and secret not in repr(m)
    monkeypatch.setenv("MY_KEY", "other")
    m2, _ = model(handler, api_key_env="MY_KEY")
    with pytest.raises(ProviderHTTPError):
        m2.generate("x")
    assert auth[-1] == "Bearer other"


def test_malformed_responses_are_errors_not_answers() -> None:
    bodies = iter([{"nope": 1}, {"choices": []}, "not json"])

    def handler(req: httpx.Request) -> httpx.Response:
        b = next(bodies)
        return httpx.Response(200, text=b) if isinstance(b, str) else httpx.Response(200, json=b)

    m, _ = model(handler, max_retries=0)
    for fragment in ("not an OpenAI chat completion", "no choices", "not an OpenAI chat completion"):
        with pytest.raises(ProviderError, match=fragment):
            m.generate("x")


def test_batch_keeps_order_records_failures_and_limits_concurrency() -> None:
    in_flight = 0
    peak = 0

    async def handler(req: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        text = json.loads(req.content)["messages"][-1]["content"]
        if text == "bad":
            return httpx.Response(400, json={"error": {"message": "rejected"}})
        return httpx.Response(200, json=ok_body(text.upper()))

    m, _ = model(handler, max_concurrency=3)
    prompts = [f"p{i}" for i in range(12)] + ["bad"]
    out = m.generate_batch(prompts, on_error="record")
    assert [c.text for c in out[:12]] == [f"P{i}" for i in range(12)]
    assert not out[12].ok and "rejected" in (out[12].error or "")
    assert peak == 3
    with pytest.raises(ProviderError, match="rejected"):
        m.generate_batch(prompts)


def test_configuration_errors() -> None:
    with pytest.raises(ConfigError, match="must start with http"):
        OpenAIModel("m", base_url="localhost:8000")
    with pytest.raises(ConfigError):
        OpenAIModel("m", base_url=BASE, max_concurrency=0)


def test_base_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9999/v1/")
    assert get_model("openai/x").info.args["base_url"] == "http://127.0.0.1:9999/v1"


def test_against_a_real_loopback_server(openai_server: OpenAICompatServer) -> None:
    m = get_model("openai/echo-model", base_url=openai_server.base_url)
    assert m.generate("ping over real HTTP").text == "ping over real HTTP"
    out = m.generate_batch([f"q{i}" for i in range(20)])
    assert [c.text for c in out] == [f"q{i}" for i in range(20)]
    assert openai_server.requests[0]["model"] == "echo-model"


def test_loopback_server_with_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    with OpenAICompatServer(MockModel("fixed", text="authorised"), api_key="k-123") as server:
        monkeypatch.setenv("OPENAI_API_KEY", "k-123")
        assert get_model("openai/m", base_url=server.base_url).generate("x").text == "authorised"
        monkeypatch.setenv("OPENAI_API_KEY", "wrong")
        with pytest.raises(ProviderHTTPError, match="401"):
            get_model("openai/m", base_url=server.base_url).generate("x")


def test_connection_refused_is_a_clear_error() -> None:
    m = get_model("openai/m", base_url="http://127.0.0.1:9/v1", max_retries=0, timeout=2)
    with pytest.raises(ProviderError, match="connection failed"):
        m.generate("x")
