"""User feedback on a response: thumbs, a comment and a corrected answer, kept for training.

    store = FeedbackStore(db, events)
    app.include_router(router(gateway))   # POST /v1/feedback

``POST /v1/feedback`` (scope ``user``) takes ``{"response_id", "rating": 1|-1|null, "comment",
"correction"}`` (``"thumbs": "up"|"down"`` may stand in for ``rating``) and answers with the feedback's
id once the row is committed. The response must be one the gateway kept (``exchanges``) and, unless
the key is an admin's, one this key received: any other id is a 404, so a key cannot probe for other
users' response ids. :mod:`alignkit.gateway.exports` turns the rows into preference pairs and
labelling-app items.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from alignkit.core.errors import ConfigError
from alignkit.gateway.auth import ApiError, key_id, require
from alignkit.gateway.db import SQL
from alignkit.gateway.events import Events, FeedbackReceived
from alignkit.gateway.keys import ApiKey
from alignkit.gateway.reviews import clean
from alignkit.gateway.schema import new_id

if TYPE_CHECKING:
    from alignkit.gateway.app import Gateway

MAX_COMMENT_CHARS = 4_000  # a paragraph or two; longer text belongs in a correction
MAX_CORRECTION_CHARS = 32_000  # a whole rewritten answer (several thousand tokens)
THUMBS = {"up": 1, "down": -1}


@dataclass(frozen=True, slots=True)
class Feedback:
    id: str
    response_id: str
    at: float
    key_id: str | None
    rating: int | None  # 1 up, -1 down, None no rating
    comment: str | None
    correction: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "feedback",
            "response_id": self.response_id,
            "created": self.at,
            "rating": self.rating,
            "comment": self.comment,
            "correction": self.correction,
        }


class UnknownResponse(ConfigError):
    """No kept response with that id (for this key)."""


class FeedbackStore:
    """The ``feedback`` table."""

    def __init__(self, db: SQL, events: Events) -> None:
        self.db, self.events = db, events

    def record(
        self,
        response_id: str,
        *,
        key: ApiKey | None,
        rating: int | None = None,
        comment: str | None = None,
        correction: str | None = None,
    ) -> Feedback:
        """Check the response is the key's (any key's for admins and ``auth: none``), commit the row,
        return it; emits nothing. UnknownResponse when the response is unknown or someone else's."""
        if rating not in (1, -1, None):
            raise ConfigError(f"rating must be 1, -1 or None; got {rating!r}")
        if rating is None and not comment and not correction:
            raise ConfigError("feedback needs a rating, a comment or a correction")
        row = self.db.read_one("SELECT key_id FROM exchanges WHERE response_id = ?", (response_id,))
        if row is None or not (key is None or key.allows("admin") or row[0] == key.key_id):
            raise UnknownResponse(
                f"no response {response_id[:80]!r} for this key: give the id of a response this key received "
                "(the `id` of its chat completion)"
            )
        fb = Feedback(new_id("fb-"), response_id, time.time(), key_id(key), rating, clean(comment), clean(correction))
        self.db.write(
            "INSERT INTO feedback (id, response_id, at, key_id, rating, comment, correction) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (fb.id, fb.response_id, fb.at, fb.key_id, fb.rating, fb.comment, fb.correction),
        )
        return fb

    def add(self, response_id: str, **kwargs: Any) -> Feedback:
        """:meth:`record`, then emit FeedbackReceived."""
        fb = self.record(response_id, **kwargs)
        self.events.emit(FeedbackReceived(fb.response_id, fb.rating, at=fb.at))
        return fb

    def for_response(self, response_id: str) -> list[Feedback]:
        rows = self.db.read(
            "SELECT id, response_id, at, key_id, rating, comment, correction FROM feedback "
            "WHERE response_id = ? ORDER BY id",
            (response_id,),
        )
        return [Feedback(r[0], r[1], float(r[2]), *r[3:]) for r in rows]


class FeedbackIn(BaseModel):
    """Feedback as a client sends it."""

    model_config = ConfigDict(extra="forbid")

    response_id: str = Field(min_length=1, max_length=200)
    rating: Literal[1, -1] | None = None
    thumbs: Literal["up", "down"] | None = None
    comment: str | None = Field(default=None, max_length=MAX_COMMENT_CHARS)
    correction: str | None = Field(default=None, max_length=MAX_CORRECTION_CHARS)


def router(gw: Gateway) -> APIRouter:
    api = APIRouter()
    user = require(gw, "user")
    store: FeedbackStore = gw.feedback

    @api.post("/v1/feedback")
    async def feedback(body: FeedbackIn, key: ApiKey | None = Depends(user)) -> dict[str, Any]:  # noqa: B008
        rating: int | None = body.rating
        if body.thumbs is not None:
            if rating is not None and rating != THUMBS[body.thumbs]:
                raise ApiError(400, f"rating {rating} contradicts thumbs {body.thumbs!r}; send one", param="thumbs")
            rating = THUMBS[body.thumbs]
        comment = (body.comment or "").strip() or None
        correction = (body.correction or "").strip() or None
        if rating is None and comment is None and correction is None:
            raise ApiError(400, "send a rating (1 or -1, or thumbs up/down), a comment or a correction")
        try:
            fb = await asyncio.to_thread(
                store.record, body.response_id, key=key, rating=rating, comment=comment, correction=correction
            )
        except UnknownResponse as e:
            raise ApiError(404, str(e), code="response_not_found", param="response_id") from None
        gw.events.emit(FeedbackReceived(fb.response_id, fb.rating, at=fb.at))  # on the event loop, after the commit
        return fb.to_dict()

    return api
