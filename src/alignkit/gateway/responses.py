"""The OpenAI response shapes the gateway sends: completions, stream chunks, and the ``alignkit``
decision object (headers and body) that tells a client what the guard did."""

from __future__ import annotations

import json
import time
from typing import Any

from alignkit.gateway.pipeline import Result
from alignkit.gateway.upstream import RequestContext


def decision_headers(ctx: RequestContext, result: Result) -> dict[str, str]:
    flagged = sorted({d.validator for d in result.decisions if d.flagged})
    headers = {"x-request-id": ctx.request_id, "x-alignkit-decision": result.decision}
    if flagged:
        headers["x-alignkit-flagged"] = ",".join(flagged)
    return headers


def meta(ctx: RequestContext, result: Result) -> dict[str, Any]:
    return {
        "request_id": ctx.request_id,
        "decision": result.decision,
        "review_ids": ctx.review_ids,
        "checks": [
            {
                "rail": d.rail,
                "validator": d.validator,
                "score": round(d.score, 4),
                "flagged": d.flagged,
                "action": d.action,
            }
            for d in result.decisions
        ],
    }


def usage(result: Result) -> dict[str, int]:
    p, c = result.prompt_tokens, result.completion_tokens
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def body(ctx: RequestContext, result: Result, kind: str, model: str) -> dict[str, Any]:
    created = int(time.time())
    if kind == "chat":
        choice: dict[str, Any] = {
            "index": 0,
            "message": {"role": "assistant", "content": result.text},
            "finish_reason": result.finish_reason,
            "logprobs": None,
        }
        obj = "chat.completion"
    else:
        choice = {"index": 0, "text": result.text, "finish_reason": result.finish_reason, "logprobs": None}
        obj = "text_completion"
    return {
        "id": ctx.response_id,
        "object": obj,
        "created": created,
        "model": model,
        "choices": [choice],
        "usage": usage(result),
        "alignkit": meta(ctx, result),
    }


def chunk(ctx: RequestContext, kind: str, model: str, text: str | None, finish: str | None) -> dict[str, Any]:
    if kind == "chat":
        delta: dict[str, Any] = (
            {} if text is None else {"content": text} if text or finish else {"role": "assistant", "content": ""}
        )
        choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        obj = "chat.completion.chunk"
    else:
        choice = {"index": 0, "text": text or "", "finish_reason": finish, "logprobs": None}
        obj = "text_completion"
    return {"id": ctx.response_id, "object": obj, "created": int(time.time()), "model": model, "choices": [choice]}


def sse(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, separators=(',', ':'))}\n\n"
