"""The OpenAI-compatible endpoints: ``/v1/chat/completions`` (SSE streaming and not), ``/v1/completions``,
``/v1/models`` and the check-only ``/v1/moderations``.

Every answer carries the guard's decision: the ``x-alignkit-decision`` header (pass, fixed, blocked,
escalated), ``x-alignkit-flagged`` (the validators that flagged), ``x-request-id``, and an ``alignkit``
object in the body (in the last chunk of a stream) with each validator's score and action. A blocked
request gets HTTP 200 with the refusal as the answer and ``finish_reason: "content_filter"``, as hosted
APIs do; an ``exception`` action gets HTTP 400 (code ``content_filter``). Parameters the gateway cannot
honour (tools, n > 1, logprobs, response formats) get 400 naming them, never a silent skip.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from alignkit.core.config import GenerateConfig
from alignkit.core.messages import Message
from alignkit.gateway import pipeline, responses
from alignkit.gateway.auth import ApiError, require
from alignkit.gateway.events import RequestDone
from alignkit.gateway.keys import ApiKey
from alignkit.gateway.limits import Lease, RateLimited
from alignkit.gateway.schema import new_id
from alignkit.gateway.upstream import CURRENT, RequestContext, Upstream, UpstreamError

IGNORED = frozenset({"user", "metadata", "store", "service_tier", "seed", "frequency_penalty", "presence_penalty"})
MAX_MESSAGES = 1000
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class TextPart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["text"]
    text: str


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")  # clients echo fields such as "refusal": null back
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart] | None = None
    name: str | None = None
    tool_call_id: str | None = None

    def to_message(self) -> Message:
        text = self.content if isinstance(self.content, str) else "".join(p.text for p in self.content or [])
        role = "system" if self.role == "developer" else self.role
        return Message(role, text, self.name, self.tool_call_id)


class Sampling(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    stop: str | list[str] | None = None
    n: int = Field(default=1, ge=1, le=1)

    def unsupported(self) -> list[str]:
        return sorted(k for k in (self.model_extra or {}) if k not in IGNORED)

    def config(self, up: Upstream) -> GenerateConfig:
        asked = self.max_completion_tokens or self.max_tokens or up.route.max_tokens
        if asked > up.route.max_tokens:
            raise ApiError(
                400, f"max_tokens {asked} is over this model's limit of {up.route.max_tokens}", param="max_tokens"
            )
        stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop) if self.stop else None
        return GenerateConfig(temperature=self.temperature, top_p=self.top_p, max_tokens=asked, stop=stop)


class ChatRequest(Sampling):
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=MAX_MESSAGES)


class CompletionRequest(Sampling):
    prompt: str | list[str]


class ModerationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: str | list[str]
    model: str | None = None


async def _user(request: Request) -> ApiKey | None:
    return await require(request.app.state.gateway, "user")(request)


UserKey = Annotated[ApiKey | None, Depends(_user)]
"""The caller's key, which must have the ``user`` scope (None with ``auth: none``)."""


def router(gw: Any) -> APIRouter:
    r = APIRouter()

    @r.get("/v1/models")
    async def models(key: UserKey) -> dict[str, Any]:
        data = [
            {"id": name, "object": "model", "created": int(gw.started), "owned_by": "alignkit"}
            for name in gw.upstreams.names()
            if key is None or key.may_call(name)
        ]
        return {"object": "list", "data": data}

    @r.post("/v1/chat/completions", response_model=None)
    async def chat(body: ChatRequest, request: Request, key: UserKey) -> Any:
        return await _serve(gw, request, key, body, [m.to_message() for m in body.messages], "chat")

    @r.post("/v1/completions", response_model=None)
    async def completions(body: CompletionRequest, request: Request, key: UserKey) -> Any:
        prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
        if len(prompts) != 1:
            raise ApiError(400, "prompt: send one prompt per request", param="prompt")
        return await _serve(gw, request, key, body, [Message("user", prompts[0])], "text")

    @r.post("/v1/moderations")
    async def moderations(body: ModerationRequest, key: UserKey) -> dict[str, Any]:
        texts = [body.input] if isinstance(body.input, str) else body.input
        if not 1 <= len(texts) <= 64:
            raise ApiError(400, "input: send 1 to 64 texts", param="input")
        up = _route(gw, key, body.model) if body.model else None
        guard = up.guard if up is not None else gw.moderation_guard
        if guard is None:
            raise ApiError(400, f"model {body.model!r} has no guard to moderate with", param="model")
        results = await asyncio.to_thread(_moderate, guard, texts)
        return {"id": new_id("modr-"), "model": guard.name, "results": results}

    return r


def _moderate(guard: Any, texts: list[str]) -> list[dict[str, Any]]:
    """Every validator of both rails on each text, check only (no action runs)."""
    seen, validators = set(), []
    for v in guard.validators:
        if v.name not in seen:
            seen.add(v.name)
            validators.append(v)
    columns = [v.detector.detect_batch(texts) for v in validators]
    out = []
    for i in range(len(texts)):
        flags, scores = {}, {}
        for v, col in zip(validators, columns, strict=True):
            verdict = col[i]
            flags[v.name], scores[v.name] = bool(verdict.flagged), round(float(verdict.score), 6)
            for cat, s in verdict.categories.items():
                flags[f"{v.name}/{cat}"], scores[f"{v.name}/{cat}"] = bool(verdict.flagged and s >= 0.5), round(s, 6)
        out.append({"flagged": any(flags.values()), "categories": flags, "category_scores": scores})
    return out


def _route(gw: Any, key: ApiKey | None, model: str) -> Upstream:
    up: Upstream | None = gw.upstreams.get(model)
    if up is None:
        raise ApiError(
            404, f"model {model!r} does not exist; GET /v1/models lists them", code="model_not_found", param="model"
        )
    if key is not None and not key.may_call(model):
        raise ApiError(403, f"this key may not call {model!r}", "permission_error", "model_not_allowed", param="model")
    return up


async def _serve(
    gw: Any, request: Request, key: ApiKey | None, body: Sampling, messages: list[Message], kind: str
) -> Any:
    t0 = time.perf_counter()
    sent = request.headers.get("x-request-id", "")
    request_id = sent if REQUEST_ID.fullmatch(sent) else new_id("req_")  # a client's own id, when it is a plain token
    request.state.request_id = request_id
    if body.unsupported():
        raise ApiError(
            400, f"not supported by this gateway: {', '.join(body.unsupported())}", param=body.unsupported()[0]
        )
    up = _route(gw, key, body.model)
    gen = body.config(up)
    hardened = pipeline.harden(up.route, messages)
    prefix = "chatcmpl-" if kind == "chat" else "cmpl-"
    ctx = RequestContext(request_id, up.route.name, None if key is None else key.key_id, messages, new_id(prefix))
    stages: dict[str, float] = {}  # auth ran before (a dependency); its cost is in the total only
    lease = await _acquire(gw, key, up, hardened, gen, request_id, stages)
    CURRENT.set(ctx)
    if body.stream:  # the stream releases the lease when it ends
        return _streaming(gw, up, hardened, gen, ctx, lease, kind, body, stages, t0)
    used = 0
    try:
        try:
            result = await pipeline.run(up, hardened, gen, ctx)
        except UpstreamError as e:
            _done(gw, ctx, request.url.path, e.status, None, False, stages, t0)
            headers = {"retry-after": str(max(1, round(e.retry_after_s)))} if e.retry_after_s else {}
            raise ApiError(e.status, str(e), "upstream_error", e.kind, headers=headers) from None
        used = result.prompt_tokens + result.completion_tokens
        await pipeline.record(gw.db, ctx, result, store_text=gw.config.store_text)
    finally:
        await lease.release(used)
    _stages(stages, ctx, t0)
    headers = {**lease.headers, **responses.decision_headers(ctx, result)}
    if result.refused_by_exception:
        _done(gw, ctx, request.url.path, 400, result, False, stages, t0)
        err = ApiError(400, "the request or its answer failed a safety check", code="content_filter", headers=headers)
        return err.response(request_id)
    _done(gw, ctx, request.url.path, 200, result, False, stages, t0)
    return JSONResponse(responses.body(ctx, result, kind, body.model), headers=headers)


async def _acquire(
    gw: Any,
    key: ApiKey | None,
    up: Upstream,
    messages: list[Message],
    gen: GenerateConfig,
    request_id: str,
    stages: dict[str, float],
) -> Lease:
    start = time.perf_counter()
    tokens = pipeline.estimate_tokens(m.content for m in messages) + (gen.max_tokens or 0)
    key_limits = (key.limits if key is not None and key.limits is not None else None) or gw.config.limits
    try:
        lease: Lease = await gw.limiter.acquire(
            None if key is None else key.key_id, key_limits, up.route.name, up.route.limits, tokens
        )
    except RateLimited as e:  # 429 over a limit, 400 a request no limit can ever admit, 503 limiter down
        kind = {429: "rate_limit_error", 400: "invalid_request_error"}.get(e.status, "server_error")
        raise ApiError(e.status, str(e), kind, e.code, headers=e.headers) from None
    stages["limits"] = time.perf_counter() - start
    return lease


def _stages(stages: dict[str, float], ctx: RequestContext, t0: float) -> None:
    """Stage times: the upstream's own time, the guard before its first call and after its last."""
    end = time.perf_counter()
    guard_start = t0 + stages.get("auth", 0.0) + stages.get("limits", 0.0)
    if ctx.first_call is not None:
        stages["input_guard"] = max(0.0, ctx.first_call - guard_start)
        stages["upstream"] = ctx.upstream_s
        stages["output_guard"] = max(0.0, end - (ctx.last_return or end))
    else:  # stopped before the upstream: it was all input guard
        stages["input_guard"] = max(0.0, end - guard_start)
    stages["total"] = end - t0


def _done(
    gw: Any,
    ctx: RequestContext,
    endpoint: str,
    status: int,
    result: pipeline.Result | None,
    stream: bool,
    stages: dict[str, float],
    t0: float,
) -> None:
    if "total" not in stages:
        stages["total"] = time.perf_counter() - t0
    if result is not None:
        for d in result.decisions:
            gw.events.emit(d)
    gw.events.emit(
        RequestDone(
            ctx.request_id,
            ctx.key_id,
            ctx.model,
            endpoint,
            status,
            bool(result and (result.blocked or result.refused_by_exception)),
            bool(result and result.escalated),
            stream,
            result.prompt_tokens if result else 0,
            result.completion_tokens if result else 0,
            dict(stages),
        )
    )


def _streaming(
    gw: Any,
    up: Upstream,
    messages: list[Message],
    gen: GenerateConfig,
    ctx: RequestContext,
    lease: Lease,
    kind: str,
    body: Sampling,
    stages: dict[str, float],
    t0: float,
) -> StreamingResponse:
    endpoint = "/v1/chat/completions" if kind == "chat" else "/v1/completions"
    include_usage = bool((body.stream_options or {}).get("include_usage"))

    async def events() -> AsyncIterator[str]:
        result = pipeline.Result("", "stop")
        status = 200
        CURRENT.set(ctx)
        if kind == "chat":
            yield responses.sse(
                responses.chunk(ctx, kind, body.model, "", None)
            )  # the role comes first, as OpenAI sends it
        try:
            async for piece in pipeline.stream(up, messages, gen, ctx, result):
                yield responses.sse(responses.chunk(ctx, kind, body.model, piece, None))
        except UpstreamError as e:
            status = e.status
            yield responses.sse({"error": {"message": str(e), "type": "upstream_error", "code": e.kind}})
        finally:  # shielded: a client that goes away mid-stream still gets its record, and frees its slot

            async def finish() -> None:
                await lease.release(result.prompt_tokens + result.completion_tokens)
                if status == 200:
                    await pipeline.record(gw.db, ctx, result, store_text=gw.config.store_text)

            await asyncio.shield(finish())
            _stages(stages, ctx, t0)
            _done(gw, ctx, endpoint, status, result if status == 200 else None, True, stages, t0)
        if status == 200:
            last = responses.chunk(ctx, kind, body.model, "", result.finish_reason)
            last["alignkit"] = responses.meta(ctx, result)
            yield responses.sse(last)
            if include_usage:
                tail = responses.chunk(ctx, kind, body.model, None, None)
                tail["choices"], tail["usage"] = [], responses.usage(result)
                yield responses.sse(tail)
        yield "data: [DONE]\n\n"

    headers = {**lease.headers, "x-request-id": ctx.request_id, "cache-control": "no-cache"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
