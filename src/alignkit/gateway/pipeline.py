"""The request path between the HTTP layer and the upstream: hardening, the guard, and the record.

For one chat request :func:`run` (or :func:`stream` for SSE):

1. **hardening** (:func:`harden`): the route's safety system prompt goes first, and untrusted content
   (``tool`` messages) is wrapped in ``<untrusted>`` tags (spotlighting), so the model can tell data from
   instructions (the system prompt tells it never to obey what is inside);
2. **the guard**: the input rail on the last user message, the upstream call (through
   :class:`~alignkit.gateway.upstream.Resilient`), the output rail on the answer, with the route's
   on-fail actions (refrain, fix, escalate to the review queue, ...);
3. **the record** (:func:`save`): the exchange (messages and answer with PII and secrets redacted) and one
   audit row per validator verdict, in one transaction, *before* the response is sent, so an
   acknowledged response always has its audit trail, even after a kill -9.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from alignkit.core.config import GenerateConfig
from alignkit.core.messages import Message
from alignkit.core.records import Verdict
from alignkit.core.sqlite import Database
from alignkit.gateway.config import SAFETY_SYSTEM_PROMPT, RouteConfig
from alignkit.gateway.db import SQL
from alignkit.gateway.events import GuardDecision
from alignkit.gateway.redact import REDACTOR
from alignkit.gateway.schema import new_id
from alignkit.gateway.upstream import RequestContext, Upstream
from alignkit.guard.outcome import ActionRecord

BLOCKING = ("refrain", "exception", "escalate", "reask->refrain")


@dataclass
class Result:
    """What one guarded call produced."""

    text: str
    finish_reason: str
    blocked: bool = False  # a guard replaced the request or the answer with a refusal / holding message
    escalated: bool = False
    refused_by_exception: bool = False  # an `exception` action: the client gets 400, not an answer
    decisions: list[GuardDecision] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def decision(self) -> str:
        """One word for the x-alignkit-decision header: pass, fixed, blocked or escalated."""
        if self.escalated:
            return "escalated"
        if self.blocked or self.refused_by_exception:
            return "blocked"
        return "fixed" if any(d.action for d in self.decisions) else "pass"


def harden(route: RouteConfig, messages: Sequence[Message]) -> list[Message]:
    """The route's system prompt first, then the client's messages with untrusted content spotlighted."""
    out: list[Message] = []
    if route.system_prompt:
        text = SAFETY_SYSTEM_PROMPT if route.system_prompt == "default" else route.system_prompt
        out.append(Message("system", text))
    for m in messages:
        if route.spotlight and m.role == "tool":
            m = Message(m.role, spotlight(m.content), m.name, m.tool_call_id)
        out.append(m)
    return out


def spotlight(text: str) -> str:
    """``text`` as marked data; tags inside it cannot close the marking early."""
    inner = text.replace("<untrusted>", "<\u200buntrusted>").replace("</untrusted>", "<\u200b/untrusted>")
    return f"<untrusted>\n{inner}\n</untrusted>"


def decisions(
    ctx: RequestContext, rail: str, verdicts: Sequence[Verdict], actions: Sequence[ActionRecord]
) -> list[GuardDecision]:
    """One :class:`GuardDecision` per verdict of a rail, with the action that ran for it."""
    ran = {a.validator: a.action for a in actions if a.on == rail}
    out = []
    for v in verdicts:
        name = v.detector.split("(")[0]
        category = v.label or (max(v.categories, key=v.categories.__getitem__) if v.categories else None)
        out.append(
            GuardDecision(
                ctx.request_id,
                ctx.key_id,
                ctx.model,
                rail,
                name,
                float(v.score),
                bool(v.flagged),
                ran.get(name) if v.flagged else None,
                category,
            )
        )
    return out


async def run(up: Upstream, messages: list[Message], gen: GenerateConfig, ctx: RequestContext) -> Result:
    """One guarded (or bare) non-streaming call."""
    if up.guard is None:
        answer = await up.model.agenerate(messages, gen)
        return Result(
            answer.text,
            answer.finish_reason,
            prompt_tokens=answer.usage.prompt_tokens,
            completion_tokens=answer.usage.completion_tokens,
        )
    outcome = (await up.guard.acall_batch(up.model, [messages], config=gen, raise_on_exception=False))[0]
    found = decisions(ctx, "input", outcome.input_verdicts, outcome.actions)
    found += decisions(ctx, "output", outcome.output_verdicts, outcome.actions)
    stopped = [a for a in outcome.actions if a.action in BLOCKING]
    return Result(
        outcome.text,
        "content_filter" if stopped else "stop",
        blocked=bool(stopped),
        escalated=outcome.escalated,
        refused_by_exception=any(a.action == "exception" for a in outcome.actions),
        decisions=found,
        prompt_tokens=estimate_tokens(m.content for m in messages),
        completion_tokens=estimate_tokens([outcome.raw_output or ""]),
    )


async def stream(
    up: Upstream, messages: list[Message], gen: GenerateConfig, ctx: RequestContext, result: Result
) -> AsyncIterator[str]:
    """The answer's text as it may be shown, validated as it flows; ``result`` is filled as it goes."""
    if up.guard is not None:
        last = max((i for i, m in enumerate(messages) if m.role == "user"), default=None)
        if last is not None:
            res = (await up.guard.avalidate_batch([messages[last].content], "input", raise_on_exception=False))[0]
            result.decisions += decisions(ctx, "input", res.verdicts, res.actions)
            result.escalated = any(a.action == "escalate" for a in res.actions)
            result.refused_by_exception = any(a.action == "exception" for a in res.actions)
            if res.stopped:
                result.blocked, result.finish_reason, result.text = True, "content_filter", res.text
                yield res.text
                return
            if res.text != messages[last].content:
                messages = [*messages[:last], Message("user", res.text), *messages[last + 1 :]]
    result.prompt_tokens = estimate_tokens(m.content for m in messages)
    finish: str = "stop"
    if up.model.streams:  # the upstream's own stream: each piece is checked as it arrives
        pieces: AsyncIterator[str] = up.model.astream(messages, gen)
    else:  # a local model answers whole; the answer is then streamed (and checked) in pieces
        answer = await up.model.agenerate(messages, gen)
        finish, pieces = answer.finish_reason, _aiter(chunks(answer.text))
    shown: list[str] = []
    validated = up.guard.astream(pieces, context=messages) if up.guard is not None else pieces
    async for piece in validated:
        shown.append(piece)
        yield piece
    out = getattr(validated, "result", None)
    if out is not None:
        result.decisions += decisions(ctx, "output", out.verdicts, out.actions)
        stopped = [a for a in out.actions if a.action in BLOCKING or a.action.endswith("->refrain")]
        result.blocked = result.blocked or bool(stopped)
        result.escalated = result.escalated or any(a.action == "escalate" for a in out.actions)
    result.text = "".join(shown)
    result.completion_tokens = estimate_tokens([result.text])
    result.finish_reason = "content_filter" if result.blocked else finish


async def _aiter(items: Sequence[str]) -> AsyncIterator[str]:
    for item in items:
        yield item


def chunks(text: str, size: int = 16) -> list[str]:
    """A finished answer as stream pieces (word-aligned, about ``size`` characters)."""
    out, current = [], ""
    for word in text.split(" "):
        current = f"{current} {word}" if current else word
        if len(current) >= size:
            out.append(current + " ")
            current = ""
    if current:
        out.append(current)
    elif out:
        out[-1] = out[-1][:-1]
    return out


def estimate_tokens(texts: Any) -> int:
    """About four characters a token: what limits reserve before an upstream reports usage."""
    return sum(len(t) for t in texts) // 4 + 1


async def record(db: SQL, ctx: RequestContext, result: Result, *, store_text: bool) -> None:
    """:func:`save`, on the event loop's thread for SQLite (a local commit costs less than a thread hop)
    and on a worker thread for a database across the network."""
    if isinstance(db, Database):
        save(db, ctx, result, store_text=store_text)
    else:
        await asyncio.to_thread(save, db, ctx, result, store_text=store_text)


def save(db: SQL, ctx: RequestContext, result: Result, *, store_text: bool) -> None:
    """The exchange and its audit rows, in one transaction (call before the response is sent). The stored
    text is redacted here; an answer the output rail already redacted (pii and secrets ran with ``fix``)
    is not redacted twice."""
    now = time.time()
    messages = json.dumps(ctx.messages if store_text else [])
    answer = "" if not store_text else result.text if _already_redacted(result) else REDACTOR.get()(result.text)
    with db.transaction() as conn:
        if ctx.response_id is not None:
            conn.execute(
                "INSERT INTO exchanges (response_id, request_id, at, key_id, model, messages, answer, blocked, "
                "escalated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    ctx.response_id,
                    ctx.request_id,
                    now,
                    ctx.key_id,
                    ctx.model,
                    messages,
                    answer,
                    int(result.blocked),
                    int(result.escalated),
                ),
            )
        if result.decisions:
            conn.executemany(
                "INSERT INTO audit (id, at, request_id, key_id, model, rail, validator, category, score, flagged, "
                "action) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        new_id("aud_"),
                        d.at,
                        d.request_id,
                        d.key_id,
                        d.model,
                        d.rail,
                        d.validator,
                        d.category,
                        d.score,
                        int(d.flagged),
                        d.action,
                    )
                    for d in result.decisions
                ],
            )


def _already_redacted(result: Result) -> bool:
    """The output rail checked the answer for PII and secrets and fixed what it found."""
    seen = {d.validator: d for d in result.decisions if d.rail == "output" and d.validator in ("pii", "secrets")}
    return len(seen) == 2 and all(not d.flagged or d.action == "fix" for d in seen.values())
