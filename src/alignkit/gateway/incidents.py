"""Incident response: triggers open incidents, people acknowledge and resolve them, webhooks tell the
team, and each incident keeps a timeline for the postmortem.

    incidents = Incidents(db, config.incidents, events)   # subscribes the triggers, starts the worker
    app.include_router(router(gateway))                   # /v1/incidents (admin keys)
    await incidents.aclose()                              # waits (bounded) for webhooks in flight

The parts: :mod:`.incident_store` (incidents, transitions, timelines), :mod:`.incident_triggers`
(jailbreak spikes, harmful answers, review backlog, upstream outages), :mod:`.incident_webhooks`
(signed JSON POSTs from a background thread). ``alignkit incidents`` works on the same store.

The API, every endpoint for keys with the ``admin`` scope:

- ``GET /v1/incidents?status=open|acknowledged|resolved|active|all&limit=100``: newest first;
- ``GET /v1/incidents/{id}``: one incident with its ``timeline``;
- ``POST /v1/incidents`` ``{"severity": "sev2", "title": "...", "owner": ..., "note": ...}``: open one by hand;
- ``POST /v1/incidents/{id}/ack`` ``{"note": ..., "owner": ...}`` and ``/resolve`` ``{"note": ...}``:
  409 when the status does not allow it (acknowledging a resolved incident, resolving one twice).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

import httpx
from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from alignkit.gateway.auth import ApiError, key_id, require
from alignkit.gateway.config import IncidentConfig
from alignkit.gateway.db import SQL
from alignkit.gateway.events import Events
from alignkit.gateway.incident_store import (
    LIST_FILTERS,
    MAX_LIST,
    MAX_NOTE_CHARS,
    MAX_TIMELINE,
    MAX_TITLE_CHARS,
    Incident,
    IncidentError,
    IncidentNotFound,
    IncidentStore,
    TransitionError,
)
from alignkit.gateway.incident_triggers import Triggers
from alignkit.gateway.incident_webhooks import Worker, webhooks_for
from alignkit.gateway.keys import ApiKey

if TYPE_CHECKING:
    from alignkit.gateway.app import Gateway

__all__ = ["Incidents", "router"]


class Incidents:
    """The gateway's incident response: the store, the triggers subscribed to ``events``, the webhooks
    and the worker thread they run on. ``transport``, ``backoff_s`` and ``clock`` are test seams."""

    def __init__(
        self,
        db: SQL,
        config: IncidentConfig,
        events: Events,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff_s: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db, self.config, self.events = db, config, events
        self.store = IncidentStore(db, runbook=config.runbook, owner=config.owner, clock=clock)
        self.worker = Worker()
        self.webhooks = webhooks_for(config, self.worker, self.store, transport, backoff_s)
        self.triggers = Triggers(db, self.store, config, events, self.worker, self.webhooks)

    def open(
        self, *, severity: str, title: str, actor: str | None, owner: str | None = None, note: str | None = None
    ) -> Incident:
        """Open an incident by hand (webhooks told)."""
        with self.webhooks.sequence:
            incident = self.store.open(severity=severity, title=title, actor=actor, owner=owner, note=note)
            self.webhooks.notify("opened", incident, note)
        return incident

    def acknowledge(
        self, incident_id: str, *, actor: str | None, note: str | None = None, owner: str | None = None
    ) -> Incident:
        with self.webhooks.sequence:
            incident = self.store.acknowledge(incident_id, actor=actor, note=note, owner=owner)
            self.webhooks.notify("acknowledged", incident, note)
        return incident

    def resolve(self, incident_id: str, *, actor: str | None, note: str | None = None) -> Incident:
        with self.webhooks.sequence:
            incident = self.store.resolve(incident_id, actor=actor, note=note)
            self.webhooks.notify("resolved", incident, note)
        return incident

    def wait_idle(self, timeout_s: float = 10.0) -> bool:
        """Wait for the triggers' store work and the webhooks in flight (tests, shutdown)."""
        return self.worker.wait_idle(timeout_s)

    async def aclose(self) -> None:
        """Wait up to ``webhook_drain_s`` for deliveries in flight, then stop the worker."""
        await asyncio.to_thread(self.worker.close, self.config.webhook_drain_s)


# -- the API ------------------------------------------------------------------------------------------
class NewIncident(BaseModel):
    model_config = ConfigDict(extra="forbid")
    severity: Literal["sev1", "sev2", "sev3", "sev4"]
    title: str = Field(min_length=1, max_length=MAX_TITLE_CHARS)
    owner: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=MAX_NOTE_CHARS)


class AckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=MAX_NOTE_CHARS)
    owner: str | None = Field(default=None, max_length=200)


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: str | None = Field(default=None, max_length=MAX_NOTE_CHARS)


IncidentId = Annotated[str, Path(min_length=1, max_length=100)]


def _actor(key: ApiKey | None) -> str:
    return key_id(key) or "local"  # auth: none (loopback): the machine's own user


async def _call(fn: Callable[..., Incident], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Run a store call off the event loop; its errors as API errors (404, 409, 400)."""
    try:
        incident = await asyncio.to_thread(fn, *args, **kwargs)
    except IncidentNotFound as e:
        raise ApiError(404, str(e), code="incident_not_found") from None
    except TransitionError as e:
        raise ApiError(409, str(e), code="invalid_transition") from None
    except IncidentError as e:
        raise ApiError(400, str(e)) from None
    return incident.to_dict()


def router(gw: Gateway) -> APIRouter:
    api = APIRouter()
    admin = Depends(require(gw, "admin"))

    @api.get("/v1/incidents")
    async def list_incidents(
        status: str = "all", limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 100, key: ApiKey | None = admin
    ) -> dict[str, Any]:
        if status not in LIST_FILTERS:
            raise ApiError(400, f"status must be one of {', '.join(LIST_FILTERS)}", param="status")
        found = await asyncio.to_thread(gw.incidents.store.list, status, limit)
        return {"object": "list", "data": [i.to_dict() for i in found]}

    @api.get("/v1/incidents/{incident_id}")
    async def show_incident(incident_id: IncidentId, key: ApiKey | None = admin) -> dict[str, Any]:
        store = gw.incidents.store
        incident = await _call(store.get, incident_id)
        timeline = await asyncio.to_thread(store.timeline, incident_id, MAX_TIMELINE)
        return {**incident, "timeline": [t.to_dict() for t in timeline]}

    @api.post("/v1/incidents", status_code=201)
    async def open_incident(body: NewIncident, key: ApiKey | None = admin) -> dict[str, Any]:
        return await _call(
            gw.incidents.open,
            severity=body.severity,
            title=body.title,
            actor=_actor(key),
            owner=body.owner,
            note=body.note,
        )

    @api.post("/v1/incidents/{incident_id}/ack")
    async def ack_incident(
        incident_id: IncidentId, body: AckIn | None = None, key: ApiKey | None = admin
    ) -> dict[str, Any]:
        ack = body or AckIn()
        return await _call(gw.incidents.acknowledge, incident_id, actor=_actor(key), note=ack.note, owner=ack.owner)

    @api.post("/v1/incidents/{incident_id}/resolve")
    async def resolve_incident(
        incident_id: IncidentId, body: ResolveIn | None = None, key: ApiKey | None = admin
    ) -> dict[str, Any]:
        return await _call(gw.incidents.resolve, incident_id, actor=_actor(key), note=(body or ResolveIn()).note)

    return api
