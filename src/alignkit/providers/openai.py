"""Any OpenAI-compatible chat endpoint: ``openai/<model>`` (vLLM, llama.cpp server, Ollama, hosted APIs).

Async over httpx, with at most ``max_concurrency`` requests in flight, a timeout per request, and
retries with exponential backoff and jitter on 408/409/429/5xx and connection errors (honouring
``Retry-After``). The API key comes from the environment (``OPENAI_API_KEY`` unless ``api_key_env``
names another variable), is sent only as a bearer header and never appears in ``info``, reports or
errors: every error is built through :meth:`OpenAIModel._redact`, which removes the key (and its URL and
base64 encodings, credential headers and a password in ``base_url``) even when a server echoes the
request back, and the key is masked for the process (:func:`alignkit.core.scrub.mask`) so the store,
reports and logs drop it too. ``transport`` and ``sleep`` are injectable for tests.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import httpx

from alignkit.core.completion import Choice, Completion, FinishReason, Usage
from alignkit.core.config import GenerateConfig
from alignkit.core.errors import ConfigError, ProviderError, ProviderHTTPError
from alignkit.core.messages import Message, Prompt, to_messages
from alignkit.core.model import ModelBase, gather_limited
from alignkit.core.scrub import mask, redact
from alignkit.providers import provider

DEFAULT_BASE_URL = "https://api.openai.com/v1"
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
AUTH_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "api-key"})  # values masked
MAX_RETRY_AFTER_S = 120.0  # a server asking for longer than this is treated as down, not slow
_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "content_filter": "content_filter",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
}


class OpenAIModel(ModelBase):
    """A chat model behind an OpenAI-compatible ``/chat/completions`` endpoint."""

    provider = "openai"

    def __init__(
        self,
        name: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
        max_retries: int = 5,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_concurrency: int = 64,  # requests in flight per event loop; also sizes the connection pool
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        config: GenerateConfig | None = None,
    ) -> None:
        base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url must start with http:// or https://; got {base_url!r}")
        if timeout <= 0 or max_retries < 0 or max_concurrency < 1:
            raise ConfigError("timeout must be > 0, max_retries >= 0 and max_concurrency >= 1")
        key = api_key if api_key is not None else os.environ.get(api_key_env)
        url = httpx.URL(base_url)
        auth_values = [v for k, v in (headers or {}).items() if k.lower() in AUTH_HEADERS]
        self._secrets = tuple(s for s in (key, url.password, *auth_values) if s)
        for secret in self._secrets:
            mask(secret)
        # Record what reproduces the model, never the key (nor a password in the URL).
        super().__init__(
            name,
            config=config,
            base_url=self._redact(base_url),
            timeout=timeout,
            max_retries=max_retries,
            max_concurrency=max_concurrency,
        )
        self.base_url = base_url
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_concurrency = max_concurrency
        self._transport = transport
        self._sleep = sleep
        self._headers = {"Content-Type": "application/json", **(headers or {})}
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        # One connection pool per event loop: a pool cannot be shared across loops.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
            weakref.WeakKeyDictionary()
        )

    def _redact(self, text: str) -> str:
        """``text`` without this model's credentials or anything shaped like one: every error goes through here."""
        return redact(text, self._secrets)

    def _client(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None or client.is_closed:
            limits = httpx.Limits(max_connections=self.max_concurrency, max_keepalive_connections=self.max_concurrency)
            client = httpx.AsyncClient(
                base_url=self.base_url,
                headers=self._headers,
                timeout=self.timeout,
                transport=self._transport,
                limits=limits,
            )
            self._clients[loop] = client
        return client

    def request_body(self, messages: tuple[Message, ...], config: GenerateConfig) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.info.name, "messages": [m.to_dict() for m in messages]}
        for key, value in (
            ("temperature", config.temperature),
            ("top_p", config.top_p),
            ("max_tokens", config.max_tokens),
            ("seed", config.seed),
            ("n", config.n),
            ("stop", list(config.stop) if config.stop else None),
        ):
            if value is not None:
                body[key] = value
        if config.top_logprobs is not None:
            body["logprobs"] = True
            body["top_logprobs"] = config.top_logprobs
        return body

    async def _generate_batch(self, prompts: list[tuple[Message, ...]], config: GenerateConfig) -> list[Completion]:
        if len(prompts) == 1:  # one request (a server's usual call): no task group to schedule
            try:
                return [await self._one(prompts[0], config)]
            except ProviderError as e:
                return [Completion.failed(self.info.spec, e)]
        results = await gather_limited([self._one(p, config) for p in prompts], self.max_concurrency)
        out: list[Completion] = []
        for r in results:
            if isinstance(r, ProviderError):
                out.append(Completion.failed(self.info.spec, r))
            elif isinstance(r, BaseException):
                raise r
            else:
                out.append(r)
        return out

    async def _one(self, messages: tuple[Message, ...], config: GenerateConfig) -> Completion:
        body = self.request_body(messages, config)
        url = self._redact(f"{self.base_url}/chat/completions")
        last = "no attempt made"
        for attempt in range(self.max_retries + 1):
            retry_after: float | None = None
            try:
                resp = await self._client().post("/chat/completions", json=body)
            except httpx.TimeoutException:
                last = f"timed out after {self.timeout} s"
            except httpx.TransportError as e:
                last = f"connection failed ({type(e).__name__})"
            else:
                if resp.status_code < 400:
                    return self._parse(resp)
                message = self._redact(_error_message(resp))
                if resp.status_code not in RETRY_STATUSES:
                    raise ProviderHTTPError(resp.status_code, message, url)
                last = f"HTTP {resp.status_code}: {message}"
                retry_after = _retry_after(resp)
            if attempt < self.max_retries:
                await self._sleep(self._backoff(attempt, retry_after))
        raise ProviderError(self._redact(f"{url} failed after {self.max_retries + 1} attempts; last: {last}"))

    async def astream(
        self, prompt: Prompt, config: GenerateConfig | None = None, **overrides: Any
    ) -> AsyncIterator[str]:
        """The answer's text as the server streams it (``"stream": true``, server-sent events), piece by
        piece. Not retried: a stream that failed may have been partly shown. Errors are redacted."""
        body = {
            **self.request_body(to_messages(prompt), self.default_config.merge(config, **overrides)),
            "stream": True,
        }
        body.pop("n", None)
        url = self._redact(f"{self.base_url}/chat/completions")
        try:
            async with self._client().stream("POST", "/chat/completions", json=body) as resp:
                if resp.status_code >= 400:
                    await resp.aread()
                    raise ProviderHTTPError(resp.status_code, self._redact(_error_message(resp)), url)
                async for line in resp.aiter_lines():
                    data = line[5:].strip() if line.startswith("data:") else ""
                    if data == "[DONE]":
                        return
                    piece = _delta(data, lambda e: self._redact(f"{url} sent a stream chunk that is not JSON ({e})"))
                    if piece:
                        yield piece
        except httpx.TimeoutException:
            raise ProviderError(f"{url} timed out after {self.timeout} s while streaming") from None
        except httpx.TransportError as e:
            raise ProviderError(f"{url}: connection failed while streaming ({type(e).__name__})") from None

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return float(min(retry_after, MAX_RETRY_AFTER_S))
        # Full jitter keeps many clients that failed together from retrying together.
        cap = min(self.backoff_max, self.backoff_base * 2.0**attempt)
        return float(random.uniform(0.5, 1.0) * cap)  # noqa: S311 (jitter, not cryptography)

    def _parse(self, resp: httpx.Response) -> Completion:
        try:
            data = resp.json()
            choices = tuple(
                Choice(
                    (c.get("message") or {}).get("content") or "",
                    _FINISH.get(c.get("finish_reason") or "stop", "stop"),
                    _first_token_logprobs(c.get("logprobs")),
                )
                for c in sorted(data["choices"], key=lambda c: c.get("index", 0))
            )
            usage = data.get("usage") or {}
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ProviderError(
                self._redact(
                    f"{self.base_url} sent a response that is not an OpenAI chat completion ({type(e).__name__}: {e})"
                )
            ) from None
        if not choices:
            raise ProviderError(self._redact(f"{self.base_url} sent a chat completion with no choices"))
        return Completion(
            choices,
            self.info.spec,
            Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)),
            metadata={"id": data.get("id")} if data.get("id") else {},
        )

    async def aclose(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        client = self._clients.pop(loop, None)
        if client is not None:
            await client.aclose()

    async def _release_loop_resources(self) -> None:
        await self.aclose()


def _first_token_logprobs(logprobs: Any) -> dict[str, float] | None:
    """``{token: logprob}`` of the first generated token from a chat completion choice's ``logprobs``
    (``{"content": [{"token", "logprob", "top_logprobs": [{"token", "logprob"}, ...]}, ...]}``), or None
    when the server sent none. The sampled token is included even when it is not among the top ones."""
    if not isinstance(logprobs, dict):
        return None
    content = logprobs.get("content")
    if not isinstance(content, list) or not content or not isinstance(content[0], dict):
        return None
    first = content[0]
    out: dict[str, float] = {}
    for item in [*(first.get("top_logprobs") or []), first]:
        if isinstance(item, dict) and isinstance(item.get("token"), str) and item.get("logprob") is not None:
            out.setdefault(item["token"], float(item["logprob"]))
    return out or None


def _delta(data: str, describe: Callable[[str], str]) -> str | None:
    """The text of one streamed chat chunk (``choices[0].delta.content``); None for keep-alives and
    chunks without text (the role, the finish reason, usage)."""
    if not data:
        return None
    try:
        chunk = json.loads(data)
        choices = chunk.get("choices") or []
        return (choices[0].get("delta") or {}).get("content") if choices else None
    except (ValueError, AttributeError, IndexError, TypeError) as e:
        raise ProviderError(describe(type(e).__name__)) from None


def _error_message(resp: httpx.Response) -> str:
    """The server's own error message, shortened (callers redact it: a server may echo the request)."""
    try:
        data = resp.json()
        err = data.get("error", data) if isinstance(data, dict) else data
        msg = err.get("message", err) if isinstance(err, dict) else err
        text = str(msg)
    except ValueError:
        text = resp.text
    return text[:500] or resp.reason_phrase


def _retry_after(resp: httpx.Response) -> float | None:
    raw = resp.headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


@provider(
    "openai",
    aliases=("openai-compatible", "vllm"),
    description="any OpenAI-compatible chat endpoint (base_url=...)",
)
def openai(name: str, *, config: GenerateConfig | None = None, **args: Any) -> OpenAIModel:
    """Any OpenAI-compatible chat endpoint (vLLM, llama.cpp server, Ollama, hosted)."""
    return OpenAIModel(name, config=config, **args)
