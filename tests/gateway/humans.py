"""Shared by the review, feedback and reviewer-page tests: a gateway with keys of each scope, and
exchanges and escalations seeded the way the request path writes them."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alignkit.gateway.app import Gateway
from alignkit.gateway.config import GatewayConfig
from alignkit.gateway.db import SQL
from alignkit.gateway.schema import new_id

HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'


@dataclass
class Keys:
    user: str
    user_id: str
    other: str  # a second user key
    reviewer: str
    reviewer_id: str
    admin: str


def make_gateway(tmp_path: Path, **config: Any) -> Gateway:
    base = {
        "auth": "keys",
        "database": str(tmp_path / "g.sqlite"),
        "models": [{"name": "m", "model": "mock/echo", "guard": None}],
    }
    return Gateway(GatewayConfig.model_validate({**base, **config}))


def make_keys(gw: Gateway) -> Keys:
    user_rec, user = gw.keys.create("ursula", ["user"])
    _, other = gw.keys.create("oscar", ["user"])
    rev_rec, reviewer = gw.keys.create("rita", ["reviewer"])
    _, admin = gw.keys.create("ada", ["admin"])
    return Keys(user, user_rec.key_id, other, reviewer, rev_rec.key_id, admin)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def seed_exchange(
    db: SQL, key_id: str | None, question: str, answer: str, *, model: str = "m", response_id: str | None = None
) -> str:
    """An exchange row as the request path stores it; returns its response id."""
    rid = response_id or new_id("chatcmpl-")
    messages = [{"role": "system", "content": "Be safe."}, {"role": "user", "content": question}]
    db.write(
        "INSERT INTO exchanges (response_id, request_id, at, key_id, model, messages, answer, blocked, escalated) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0)",
        (rid, new_id("req_"), time.time(), key_id, model, json.dumps(messages), answer),
    )
    return rid


def seed_review(
    gw: Gateway, question: str = "How do I pick a lock?", answer: str | None = "Step one: ...", **kw: Any
) -> str:
    args: dict[str, Any] = {
        "request_id": new_id("req_"),
        "response_id": new_id("chatcmpl-"),
        "model": "m",
        "rail": "output" if answer is not None else "input",
        "validator": "harmful_answer",
        "reason": "instructions for a crime",
        "messages": [{"role": "user", "content": question}],
        "answer": answer,
    }
    return gw.reviews.enqueue(**{**args, **kw})
