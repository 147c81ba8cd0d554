"""The human review queue: conversations a validator escalated wait here for a reviewer's decision.

    queue = ReviewQueue(db, config.review, events)
    review_id = queue.enqueue(request_id=..., response_id=..., model=..., rail=..., validator=...,
                              reason=..., messages=[...redacted...], answer=held_answer_or_None)
    queue.pending_count(), queue.overdue_count()
    app.include_router(router(gateway))   # the API below and the reviewer page

A review is ``pending`` from :meth:`ReviewQueue.enqueue` (which emits :class:`~.events.Escalated`)
until one reviewer decides it (:meth:`ReviewQueue.decide`, which emits :class:`~.events.ReviewDecided`);
it is due ``review.sla_s`` seconds after it was created and overdue once that passes while pending.
A decision is written once: the update only matches a pending row, so two reviewers racing on one
review (or two gateway processes) get one decision and one 409.

API (scope ``reviewer``; admin keys have it too):

=================================  ================================================================
``GET /v1/reviews``                ``?status=pending|overdue|decided|all&limit=&after=ID``, oldest first
``GET /v1/reviews/{id}``           one review, conversation included
``POST /v1/reviews/{id}/decision`` ``{"decision": "approve"|"edit"|"reject", "final_answer", "harmful",
                                   "note"}``; ``final_answer`` only (and always) with ``edit``
``GET /review``                    the reviewer page (``static/review.*``): the key is typed in once,
                                   kept in the tab's sessionStorage and sent as a bearer header
=================================  ================================================================

The held answer is stored with PII and secrets redacted by the request path's redactor, as the
conversation and the exchange are.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal, overload

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from alignkit.core.errors import ConfigError
from alignkit.core.resources import package_file
from alignkit.gateway.auth import ApiError, key_id, require
from alignkit.gateway.config import ReviewConfig
from alignkit.gateway.db import SQL
from alignkit.gateway.events import Escalated, Events, ReviewDecided
from alignkit.gateway.keys import ApiKey
from alignkit.gateway.redact import REDACTOR
from alignkit.gateway.schema import new_id

if TYPE_CHECKING:
    from alignkit.gateway.app import Gateway

Decision = Literal["approve", "edit", "reject"]
STATUS_OF: dict[str, str] = {"approve": "approved", "edit": "edited", "reject": "rejected"}
LISTINGS = ("pending", "overdue", "decided", "all")
MAX_FINAL_ANSWER_CHARS = 100_000  # a long answer is a few thousand tokens; more is not a reviewer's edit
MAX_NOTE_CHARS = 4_000
MAX_LIST = 500
PAGE_FILES = {"review.js": "text/javascript", "review.css": "text/css"}
PAGE_HEADERS = {
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}
_COLUMNS = (
    "id, request_id, response_id, created, due, model, rail, validator, reason, messages, answer, status, "
    "final_answer, harmful, reviewer, decided, note"
)
_INSERT = f"INSERT INTO reviews ({_COLUMNS}) VALUES ({', '.join(['?'] * 17)})"  # noqa: S608 (constant text)
_SELECT = f"SELECT {_COLUMNS} FROM reviews"  # noqa: S608 (constant text)
_WHERE = {  # each listing's fixed condition (overdue takes the time now)
    "pending": "status = 'pending'",
    "overdue": "status = 'pending' AND due < ?",
    "decided": "status <> 'pending'",
    "all": "1 = 1",
}


@dataclass(frozen=True, slots=True)
class Review:
    """One escalated conversation and, once decided, its decision."""

    id: str
    request_id: str
    response_id: str | None
    created: float
    due: float
    model: str
    rail: str  # input | output
    validator: str
    reason: str
    messages: list[dict[str, Any]]  # redacted
    answer: str | None  # the held answer (output escalations), redacted
    status: str  # pending | approved | edited | rejected
    final_answer: str | None
    harmful: bool | None
    reviewer: str | None  # key id
    decided: float | None
    note: str | None

    def overdue(self, now: float) -> bool:
        return self.status == "pending" and now > self.due

    def to_dict(self, now: float) -> dict[str, Any]:
        return {"object": "review", **asdict(self), "overdue": self.overdue(now)}


def _review(row: Any) -> Review:
    (id_, request_id, response_id, created, due, model, rail, validator, reason, messages, answer, status,
     final_answer, harmful, reviewer, decided, note) = row  # fmt: skip
    return Review(
        id_, request_id, response_id, float(created), float(due), model, rail, validator, reason,
        json.loads(messages), answer, status, final_answer, None if harmful is None else bool(harmful),
        reviewer, None if decided is None else float(decided), note,
    )  # fmt: skip


@overload
def clean(text: str) -> str: ...
@overload
def clean(text: None) -> None: ...
def clean(text: str | None) -> str | None:
    """``text`` as storable UTF-8: a lone surrogate (JSON allows ``"\\ud800"``) becomes ``?``."""
    return None if text is None else text.encode("utf-8", "replace").decode("utf-8")


class ReviewConflict(ConfigError):
    """The review was already decided."""


class ReviewQueue:
    """The ``reviews`` table: escalations in, decisions out."""

    def __init__(self, db: SQL, config: ReviewConfig, events: Events) -> None:
        self.db, self.config, self.events = db, config, events

    def enqueue(
        self,
        *,
        request_id: str,
        response_id: str | None,
        model: str,
        rail: str,
        validator: str,
        reason: str,
        messages: list[dict[str, Any]],
        answer: str | None,
    ) -> str:
        """Queue an escalated conversation (committed before it returns) and emit Escalated; its id."""
        review_id, now = new_id("rev-"), time.time()
        held = None if answer is None else REDACTOR.get()(clean(answer))
        sla, text = self.config.sla_s, json.dumps(messages)
        row = (
            review_id,
            request_id,
            response_id,
            now,
            now + sla,
            model,
            rail,
            validator,
            clean(reason[:MAX_NOTE_CHARS]),
        )
        self.db.write(_INSERT, (*row, text, held, "pending", None, None, None, None, None))
        self.events.emit(Escalated(review_id, request_id, model, validator, at=now))
        return review_id

    def get(self, review_id: str) -> Review | None:
        row = self.db.read_one(f"{_SELECT} WHERE id = ?", (review_id,))
        return _review(row) if row else None

    def list(self, status: str = "pending", *, limit: int = 50, after: str | None = None) -> list[Review]:
        """Reviews oldest first: ``pending``, ``overdue`` (pending past due), ``decided`` or ``all``;
        ``after``: the last id of the previous page."""
        if status not in LISTINGS:
            raise ConfigError(f"status must be one of {', '.join(LISTINGS)}; got {status!r}")
        args: list[Any] = [time.time()] if status == "overdue" else []
        where = _WHERE[status]
        if after is not None:  # the page after that review, in (created, id) order
            row = self.db.read_one("SELECT created FROM reviews WHERE id = ?", (after,))
            if row is None:
                raise ConfigError(f"after: no review {after!r}; pass the last_id of the previous page")
            where, args = f"{where} AND (created > ? OR (created = ? AND id > ?))", [*args, row[0], row[0], after]
        sql = f"{_SELECT} WHERE {where} ORDER BY created, id LIMIT ?"
        return [_review(r) for r in self.db.read(sql, (*args, max(1, min(limit, MAX_LIST))))]

    def pending_count(self) -> int:
        return int(self.db.read_one("SELECT COUNT(*) FROM reviews WHERE status = 'pending'")[0])

    def overdue_count(self, now: float | None = None) -> int:
        """Pending reviews past their SLA."""
        sql = "SELECT COUNT(*) FROM reviews WHERE status = 'pending' AND due < ?"
        return int(self.db.read_one(sql, (time.time() if now is None else now,))[0])

    def record_decision(
        self,
        review_id: str,
        decision: str,
        *,
        reviewer: str | None,
        final_answer: str | None = None,
        harmful: bool = False,
        note: str | None = None,
    ) -> Review:
        """Write a decision once (without emitting); KeyError: no such review, ReviewConflict: decided."""
        if decision not in STATUS_OF:
            raise ConfigError(f"decision must be one of {', '.join(STATUS_OF)}; got {decision!r}")
        if (decision == "edit") != (final_answer is not None):
            raise ConfigError("give final_answer with decision 'edit', and only then (approve sends the held answer)")
        changed = self.db.write(
            "UPDATE reviews SET status = ?, final_answer = CASE WHEN ? = 'approve' THEN answer ELSE ? END, "
            "harmful = ?, reviewer = ?, decided = ?, note = ? WHERE id = ? AND status = 'pending'",
            (
                STATUS_OF[decision],
                decision,
                clean(final_answer),
                int(harmful),
                reviewer,
                time.time(),
                clean(note),
                review_id,
            ),
        )
        review = self.get(review_id)
        if review is None:
            raise KeyError(review_id)
        if not changed:
            raise ReviewConflict(f"review {review_id} is already decided ({review.status}); reload the queue")
        return review

    def decide(self, review_id: str, decision: str, **kwargs: Any) -> Review:
        """:meth:`record_decision`, then emit ReviewDecided."""
        review = self.record_decision(review_id, decision, **kwargs)
        self.events.emit(decided_event(review))
        return review


def decided_event(review: Review) -> ReviewDecided:
    return ReviewDecided(
        review.id, review.status, review.reviewer, bool(review.harmful), at=review.decided or time.time()
    )


class DecisionIn(BaseModel):
    """A reviewer's decision as the page (or any client) sends it."""

    model_config = ConfigDict(extra="forbid")

    decision: Decision
    final_answer: str | None = Field(default=None, max_length=MAX_FINAL_ANSWER_CHARS)
    harmful: bool = False
    note: str | None = Field(default=None, max_length=MAX_NOTE_CHARS)


def page_text(name: str) -> str:
    """A file of the reviewer page, from the installed package."""
    path = package_file("alignkit", f"gateway/static/{name}")
    if path is None:
        raise ConfigError(f"the reviewer page's {name} is missing from the alignkit install; reinstall alignkit")
    return path.read_text(encoding="utf-8")


def router(gw: Gateway) -> APIRouter:
    """The review API and the reviewer page."""
    api = APIRouter()
    reviewer = require(gw, "reviewer")
    queue: ReviewQueue = gw.reviews
    page = {name: page_text(name) for name in ("review.html", *PAGE_FILES)}  # a broken install fails at start

    @api.get("/review", include_in_schema=False)
    async def review_page() -> HTMLResponse:
        return HTMLResponse(page["review.html"], headers=PAGE_HEADERS)

    @api.get("/review/static/{name}", include_in_schema=False)
    async def review_static(name: str) -> Response:
        if name not in PAGE_FILES:
            raise ApiError(404, "no such file", code="not_found")
        return Response(page[name], media_type=PAGE_FILES[name], headers=PAGE_HEADERS)

    @api.get("/v1/reviews")
    async def list_reviews(
        key: ApiKey | None = Depends(reviewer),  # noqa: B008 (FastAPI dependency)
        status: str = "pending",
        limit: int = Query(default=50, ge=1, le=MAX_LIST),
        after: str | None = Query(default=None, max_length=64),
    ) -> Response:
        if status not in LISTINGS:
            raise ApiError(400, f"status must be one of {', '.join(LISTINGS)}", param="status")

        def read() -> tuple[list[Review], int, int]:
            return queue.list(status, limit=limit, after=after), queue.pending_count(), queue.overdue_count()

        try:
            reviews, pending, overdue = await asyncio.to_thread(read)
        except ConfigError as e:
            raise ApiError(400, str(e), param="after") from None
        now = time.time()
        body = {
            "object": "list",
            "data": [r.to_dict(now) for r in reviews],
            "now": now,
            "pending": pending,
            "overdue": overdue,
            "has_more": len(reviews) == limit,
            "last_id": reviews[-1].id if reviews else None,
        }
        return _json(body)

    @api.get("/v1/reviews/{review_id}")
    async def get_review(review_id: str, key: ApiKey | None = Depends(reviewer)) -> Response:  # noqa: B008
        review = await asyncio.to_thread(queue.get, review_id)
        if review is None:
            raise ApiError(404, f"no review {review_id[:80]!r}", code="not_found", param="review_id")
        return _json(review.to_dict(time.time()))

    @api.post("/v1/reviews/{review_id}/decision")
    async def decide(review_id: str, body: DecisionIn, key: ApiKey | None = Depends(reviewer)) -> Response:  # noqa: B008
        final = body.final_answer
        if body.decision == "edit" and not (final or "").strip():
            raise ApiError(400, "an edit needs final_answer: the answer the user should get", param="final_answer")
        if body.decision != "edit" and final is not None:
            raise ApiError(400, "final_answer goes with decision 'edit' only", param="final_answer")
        try:
            review = await asyncio.to_thread(
                queue.record_decision, review_id, body.decision, reviewer=key_id(key), final_answer=final,
                harmful=body.harmful, note=(body.note or "").strip() or None,
            )  # fmt: skip
        except KeyError:
            raise ApiError(404, f"no review {review_id[:80]!r}", code="not_found", param="review_id") from None
        except ReviewConflict as e:
            raise ApiError(409, str(e), code="already_decided") from None
        gw.events.emit(decided_event(review))  # on the event loop, after the commit
        return _json(review.to_dict(time.time()))

    return api


def _json(body: Any) -> Response:
    """A JSON response that no cache keeps (it holds conversations)."""
    return Response(json.dumps(body), media_type="application/json", headers={"cache-control": "no-store"})
