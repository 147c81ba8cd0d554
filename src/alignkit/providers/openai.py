"""Any OpenAI-compatible chat endpoint: ``openai/<model>`` (vLLM, llama.cpp server, Ollama, hosted APIs).

Async over httpx, with at most ``max_concurrency`` requests in flight per event loop (counted across
every call, not per batch), a timeout per request, and retries with exponential backoff and jitter on
408/409/429/5xx and connection errors (honouring ``Retry-After``). The API key comes from the
environment (``OPENAI_API_KEY`` unless ``api_key_env`` names another variable), is sent only as a bearer
header and never appears in ``info``, reports or errors: every error is built through
:meth:`OpenAIModel._redact`, which removes the key (and its URL and base64 encodings, credential headers
and a password in ``base_url``) even when a server echoes the request back, and the key is masked for
the process (:func:`alignkit.core.scrub.mask`) so the store, reports and logs drop it too. ``transport``
and ``sleep`` are injectable for tests. Connections: httpcore's pool does work per request and answer
that grows with the square of its connection count (each connection is checked, and for each idle one
every other is listed), so one pool of 256 spends milliseconds per request, more than the request on
loopback. Requests in flight are spread over httpx clients of :data:`LANE_WIDTH` connections each.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import ssl
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx

from alignkit.core.completion import Choice, Completion, FinishReason, Usage
from alignkit.core.config import GenerateConfig
from alignkit.core.errors import ConfigError, ProviderError, ProviderHTTPError
from alignkit.core.messages import Message, Prompt, to_messages
from alignkit.core.model import ModelBase
from alignkit.core.scrub import mask, redact
from alignkit.providers import provider

DEFAULT_BASE_URL = "https://api.openai.com/v1"
RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})
AUTH_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "api-key"})  # values masked
MAX_RETRY_AFTER_S = 120.0  # a server asking for longer than this is treated as down, not slow
DEFAULT_MAX_CONCURRENCY = 64  # what a hosted API or a local server takes without queueing or rate limits
LANE_WIDTH = 8  # connections per httpx client: httpcore's per-request pool work grows with its square
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
        max_concurrency: int | None = None,  # requests in flight per event loop; None: 64, which a scan may raise
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        config: GenerateConfig | None = None,
    ) -> None:
        base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url must start with http:// or https://; got {base_url!r}")
        if timeout <= 0 or max_retries < 0 or (max_concurrency is not None and max_concurrency < 1):
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
        self._endpoint = self._redact(f"{base_url}/chat/completions")  # for errors; redacted once, not per request
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        # A limit the caller chose is a safeguard (a rate-limited API) that no scheduler may raise.
        self.concurrency_fixed = max_concurrency is not None
        self._max_concurrency = max_concurrency or DEFAULT_MAX_CONCURRENCY
        self._transport = transport
        self._sleep = sleep
        self._headers = {"Content-Type": "application/json", **(headers or {})}
        if key:
            self._headers["Authorization"] = f"Bearer {key}"
        self._tls: ssl.SSLContext | None = None
        # Connections per event loop: a pool cannot be shared across loops.
        self._lanes_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Lanes] = weakref.WeakKeyDictionary()

    @property
    def max_concurrency(self) -> int:
        """Requests in flight at most, per event loop."""
        return self._max_concurrency

    def allow_concurrency(self, n: int) -> bool:
        """Let a scheduler keep ``n`` requests in flight: the limit is raised to ``n`` unless the caller set
        ``max_concurrency`` (then it stands, and False says so). Never lowers it."""
        if n > self._max_concurrency and not self.concurrency_fixed:
            self._max_concurrency = n
        return self._max_concurrency >= n

    def _redact(self, text: str) -> str:
        """``text`` without this model's credentials or anything shaped like one: every error goes through here."""
        return redact(text, self._secrets)

    def _new_client(self, connections: int) -> httpx.AsyncClient:
        if self._tls is None:  # one context for every client: httpx builds one per client otherwise (40 ms each)
            self._tls = httpx.create_ssl_context()
        return httpx.AsyncClient(
            verify=self._tls,
            base_url=self.base_url,
            headers=self._headers,
            timeout=self.timeout,
            transport=self._transport,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )

    def _lanes(self) -> _Lanes:
        """This event loop's connections (made on first use, widened when the limit was raised)."""
        loop = asyncio.get_running_loop()
        lanes = self._lanes_by_loop.get(loop)
        if lanes is None or lanes.closed:
            # An injected transport keeps its own pool: one client, whatever the limit.
            width = self._max_concurrency if self._transport is not None else LANE_WIDTH
            lanes = self._lanes_by_loop[loop] = _Lanes(self._new_client, self._max_concurrency, width)
        lanes.widen(self._max_concurrency)
        return lanes

    @property
    def in_flight(self) -> int:
        """Requests in flight now, on the running event loop (0 outside one)."""
        try:
            lanes = self._lanes_by_loop.get(asyncio.get_running_loop())
        except RuntimeError:
            return 0
        return lanes.in_flight if lanes is not None else 0

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
        # The lanes hold requests to the limit; gathering them all at once keeps every free slot filled.
        results = await asyncio.gather(*(self._one(p, config) for p in prompts), return_exceptions=True)
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
        url = self._endpoint
        last = "no attempt made"
        for attempt in range(self.max_retries + 1):
            retry_after: float | None = None
            try:
                async with self._lanes().lease() as client:
                    resp = await client.post("/chat/completions", json=body)
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
        url = self._endpoint
        try:
            async with self._lanes().lease() as client, client.stream("POST", "/chat/completions", json=body) as resp:
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
        lanes = self._lanes_by_loop.pop(loop, None)
        if lanes is not None:
            await lanes.aclose()

    async def _release_loop_resources(self) -> None:
        await self.aclose()


class _Lanes:
    """One event loop's connections: at most ``limit`` requests in flight (a semaphore, raised by
    :meth:`widen`), each on the least busy of several httpx clients of ``width`` connections (a client is
    added when every one is full). A client never has more requests than connections, so none waits in
    httpx's pool, and each pool stays small (see the module docstring)."""

    def __init__(self, make: Callable[[int], httpx.AsyncClient], limit: int, width: int) -> None:
        self._make, self.limit, self.width = make, limit, width
        self._slots = asyncio.Semaphore(limit)
        self.clients: list[httpx.AsyncClient] = []
        self.busy: list[int] = []  # requests in flight on each client
        self.in_flight = 0
        self.closed = False

    def widen(self, limit: int) -> None:
        """Allow ``limit`` requests in flight (never fewer than now)."""
        for _ in range(limit - self.limit):
            self._slots.release()
        self.limit = max(self.limit, limit)

    @asynccontextmanager
    async def lease(self) -> AsyncIterator[httpx.AsyncClient]:
        """A client with a free connection, held for one request."""
        async with self._slots:
            i = min(range(len(self.busy)), key=self.busy.__getitem__, default=-1)
            if i < 0 or self.busy[i] >= self.width:
                self.clients.append(self._make(self.width))
                self.busy.append(0)
                i = len(self.clients) - 1
            self.busy[i] += 1
            self.in_flight += 1
            try:
                yield self.clients[i]
            finally:
                self.busy[i] -= 1
                self.in_flight -= 1

    async def aclose(self) -> None:
        self.closed = True
        for client in self.clients:
            await client.aclose()


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
