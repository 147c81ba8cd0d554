"""First-token log-probabilities (``GenerateConfig.top_logprobs``) from the mock, OpenAI-compatible and
hf providers."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import httpx
import pytest

from alignkit.core import Choice, Completion, GenerateConfig
from alignkit.providers.mock import MockModel, scripted
from alignkit.providers.openai import OpenAIModel
from tests.conftest import needs_torch


def test_config_bounds_and_default_none() -> None:
    assert GenerateConfig().top_logprobs is None
    assert GenerateConfig().merge(top_logprobs=5).top_logprobs == 5
    with pytest.raises(ValueError, match="top_logprobs"):
        GenerateConfig(top_logprobs=0)
    assert Completion.of("x", "m").top_logprobs is None
    assert Choice("x").top_logprobs is None


def test_mock_returns_logprobs_only_when_asked_and_keeps_the_top_k() -> None:
    lp = {"A": math.log(0.6), "B": math.log(0.3), "C": math.log(0.1)}
    m = MockModel.from_callable(lambda p: ("A", lp))
    assert m.generate("q").top_logprobs is None  # not asked for
    assert m.generate("q").text == "A"
    top = m.generate("q", top_logprobs=2).top_logprobs
    assert top == {"A": pytest.approx(math.log(0.6)), "B": pytest.approx(math.log(0.3))}
    s = scripted([("B", {"B": -0.1}), "plain"])
    assert s.generate("q", top_logprobs=5).top_logprobs == {"B": -0.1}
    assert s.generate("q", top_logprobs=5).top_logprobs is None  # a plain string carries none


def test_openai_requests_and_parses_first_token_logprobs() -> None:
    seen: list[dict[str, Any]] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(json.loads(req.content))
        choice = {
            "index": 0,
            "message": {"role": "assistant", "content": "A"},
            "finish_reason": "stop",
            "logprobs": {
                "content": [
                    {
                        "token": "A",
                        "logprob": -0.2,
                        "top_logprobs": [{"token": "A", "logprob": -0.2}, {"token": "B", "logprob": -1.9}],
                    },
                    {"token": ".", "logprob": -0.01, "top_logprobs": []},
                ]
            },
        }
        return httpx.Response(200, json={"choices": [choice], "usage": {}})

    m = OpenAIModel("gpt-test", base_url="http://llm.test/v1", transport=httpx.MockTransport(handler))
    c = m.generate("which?", top_logprobs=2, max_tokens=1)
    assert seen[0]["logprobs"] is True and seen[0]["top_logprobs"] == 2
    assert c.top_logprobs == {"A": -0.2, "B": -1.9}
    # Without the option the body has no logprobs keys, and a response without them parses as None.
    m.generate("which?")
    assert "logprobs" not in seen[1] and "top_logprobs" not in seen[1]


def test_openai_without_logprobs_in_the_response_gives_none() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        body = {"choices": [{"index": 0, "message": {"content": "B"}, "finish_reason": "stop", "logprobs": None}]}
        return httpx.Response(200, json=body)

    m = OpenAIModel("gpt-test", base_url="http://llm.test/v1", transport=httpx.MockTransport(handler))
    assert m.generate("which?", top_logprobs=3).top_logprobs is None


@needs_torch
def test_hf_first_token_logprobs_match_the_greedy_token(tiny_model_dir: Path) -> None:
    from alignkit import get_model

    m = get_model(f"hf/{tiny_model_dir}", batch_size=2)
    cfg = GenerateConfig(max_tokens=3, top_logprobs=4, n=2, temperature=1.0, seed=0)
    plain = m.generate_batch(["the quick brown", "what is the capital"], max_tokens=3)
    out = m.generate_batch(["the quick brown", "what is the capital"], max_tokens=3, top_logprobs=4)
    for c, p in zip(out, plain, strict=True):
        assert c.text == p.text  # asking for log-probabilities changes nothing else
        top = c.top_logprobs
        assert top is not None and 1 <= len(top) <= 4
        assert all(v <= 0 for v in top.values())
        assert sum(math.exp(v) for v in top.values()) <= 1.0 + 1e-6
        greedy_first = max(top, key=lambda t: top[t])
        assert c.text.startswith(greedy_first) or greedy_first.strip() == ""
    sampled = m.generate("the quick", cfg)
    assert len(sampled.choices) == 2 and all(ch.top_logprobs for ch in sampled.choices)
