"""What happens in the gateway, as events: one request path emits them, and each concern that watches
traffic (metrics, the audit log, incident triggers) subscribes instead of being called by name.

The request path (:mod:`alignkit.gateway.openai_api`) emits; :class:`Events` calls every subscriber of
the event's type in order. A subscriber that raises is logged and does not stop the request or the other
subscribers: an outage of the incident webhook must not turn into an outage of the model.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

log = logging.getLogger("alignkit.gateway")

Stage = Literal["auth", "limits", "input_guard", "upstream", "output_guard", "total"]


@dataclass(frozen=True, slots=True)
class GuardDecision:
    """One validator's verdict on one request's input or output. Never holds the text itself."""

    request_id: str
    key_id: str | None
    model: str
    rail: str  # "input" | "output"
    validator: str
    score: float
    flagged: bool
    action: str | None  # the on-fail action that ran ("fix", "refrain", "escalate", ...); None if not flagged
    category: str | None = None  # the verdict's label or top category, when it has one
    at: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class RequestDone:
    """A request finished (whatever its status)."""

    request_id: str
    key_id: str | None
    model: str | None
    endpoint: str  # "/v1/chat/completions", ...
    status: int  # HTTP status sent
    blocked: bool  # a guard stopped the request or its answer
    escalated: bool
    stream: bool
    prompt_tokens: int
    completion_tokens: int
    stages_s: dict[str, float]  # seconds per Stage that ran
    at: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class UpstreamFailure:
    """A call to an upstream model failed (after its retries) or was refused by an open circuit breaker."""

    request_id: str
    model: str
    kind: str  # "timeout" | "error" | "circuit_open"
    detail: str  # scrubbed of keys
    at: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class BreakerChanged:
    """An upstream's circuit breaker opened or closed."""

    model: str
    state: str  # "open" | "half_open" | "closed"
    at: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class Escalated:
    """A validator escalated a conversation to human review."""

    review_id: str
    request_id: str
    model: str
    validator: str
    at: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class ReviewDecided:
    """A reviewer approved, edited or rejected an escalated conversation."""

    review_id: str
    decision: str  # "approved" | "edited" | "rejected"
    reviewer: str | None  # key id
    harmful: bool  # the reviewer confirmed the answer (or request) harmful
    at: float = field(default_factory=time.time)


@dataclass(frozen=True, slots=True)
class FeedbackReceived:
    response_id: str
    rating: int | None
    at: float = field(default_factory=time.time)


E = TypeVar("E")


class Events:
    """Subscribers by event type; :meth:`emit` calls each in order and logs (never raises) their errors."""

    def __init__(self) -> None:
        self._subs: dict[type, list[Callable[[Any], Any]]] = defaultdict(list)

    def subscribe(self, kind: type[E], fn: Callable[[E], Any]) -> None:
        self._subs[kind].append(fn)

    def emit(self, event: object) -> None:
        for fn in self._subs.get(type(event), ()):
            try:
                fn(event)
            except Exception:  # a watcher's failure must not fail the request
                log.exception("gateway: a subscriber of %s failed", type(event).__name__)
