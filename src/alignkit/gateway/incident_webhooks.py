"""Telling people about incidents: a JSON POST to every configured webhook when an incident is opened,
acknowledged or resolved, sent from a background thread so that no request ever waits for it.

Each POST carries::

    {"event": "incident.opened", "incident": {id, trigger, severity, title, status, owner, runbook, ...},
     "message": "what happened", "text": "[sev1] opened: Upstream outage: big", "sent_at": 1767225600.0}

(``text`` is what Slack- and Mattermost-style incoming webhooks display) with the headers
``X-Alignkit-Event``, ``X-Alignkit-Delivery`` (one id per message and URL, the same on every retry,
so a receiver can drop duplicates) and ``X-Alignkit-Timestamp``. With ``webhook_secret_env`` set,
``X-Alignkit-Signature: sha256=<hex>`` is the HMAC-SHA256, keyed with the secret, of
``"<timestamp>." + body``; a receiver recomputes it (:func:`verify_signature`) and rejects stale
timestamps, so a captured request cannot be replayed later.

A failed attempt (connection error, timeout, 429 or 5xx) is retried ``webhook_retries`` times with
doubling waits; other answers (4xx, redirects, which are not followed) fail at once. The result of
every delivery goes into the incident's timeline (``kind: webhook``) and failures into the log; both
name the URL by scheme and host only, because webhook URLs often carry their token in the path.

:class:`Worker` is the background thread: one asyncio loop that runs the deliveries (concurrently:
a dead URL delays no other) and the incident triggers' store work.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import hmac
import inspect
import json
import logging
import os
import threading
import time
import urllib.parse
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import httpx

from alignkit.core.errors import ConfigError
from alignkit.core.scrub import mask, scrub
from alignkit.gateway.config import IncidentConfig
from alignkit.gateway.incident_store import Incident, IncidentStore
from alignkit.gateway.schema import new_id

__all__ = ["Webhooks", "Worker", "sign", "verify_signature", "webhook_secret", "webhooks_for"]

log = logging.getLogger("alignkit.gateway.incidents")

SIGNATURE_HEADER = "X-Alignkit-Signature"
TIMESTAMP_HEADER = "X-Alignkit-Timestamp"
MAX_BACKOFF_S = 8.0


class Worker:
    """A daemon thread running one asyncio loop. :meth:`submit` hands it a job (a coroutine function)
    from any thread without waiting; :meth:`close` waits, bounded, for the jobs in flight."""

    def __init__(self, name: str = "alignkit-incidents") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._jobs: set[concurrent.futures.Future[Any]] = set()
        self._closed = False

    def _start(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:  # called under the lock
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._run, args=(self._loop,), name=self.name, daemon=True)
            self._thread.start()
        return self._loop

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            loop.close()

    def submit(self, job: Callable[[], Awaitable[Any]], what: str = "job") -> bool:
        """Run ``job()`` on the worker's loop; False (and a log line) once the worker is closed."""
        with self._lock:
            if self._closed:
                log.warning("incidents: %s dropped: the gateway is shutting down", what)
                return False
            future = asyncio.run_coroutine_threadsafe(_logged(job, what), self._start())
            self._jobs.add(future)
        future.add_done_callback(self._done)
        return True

    def _done(self, future: concurrent.futures.Future[Any]) -> None:
        with self._lock:
            self._jobs.discard(future)

    def every(self, interval_s: float, fn: Callable[[], Any], what: str) -> None:
        """Call ``fn()`` on the worker every ``interval_s`` seconds until it closes (not a tracked job).
        A bound method is held weakly: once its object is gone (a gateway dropped without ``aclose``),
        the worker stops instead of calling into a closed store forever."""
        ref: Callable[[], Callable[[], Any] | None] = weakref.WeakMethod(fn) if inspect.ismethod(fn) else (lambda: fn)

        async def repeat() -> None:
            while True:
                await asyncio.sleep(interval_s)
                target = ref()
                if target is None:
                    asyncio.get_running_loop().stop()
                    return
                await _logged(_as_coroutine(target), what)
                del target

        with self._lock:
            if not self._closed:
                asyncio.run_coroutine_threadsafe(repeat(), self._start())

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no job is in flight (jobs that submit jobs included); False on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._lock:
                jobs = list(self._jobs)
            if not jobs:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            concurrent.futures.wait(jobs, timeout=left)

    def close(self, drain_s: float) -> int:
        """Refuse new jobs, wait up to ``drain_s`` for those in flight, cancel the rest and stop the
        thread. Returns how many jobs were given up."""
        with self._lock:
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return 0
        self.wait_idle(drain_s)
        with self._lock:
            left = len(self._jobs)
        asyncio.run_coroutine_threadsafe(_shutdown(), loop)
        thread.join(timeout=5.0)
        if left:
            log.warning("incidents: %d webhook deliveries or trigger jobs given up at shutdown", left)
        return left


async def _logged(job: Callable[[], Awaitable[Any]], what: str) -> Any:
    try:
        return await job()
    except asyncio.CancelledError:
        raise
    except Exception:  # a job's failure is logged; the worker goes on
        log.exception("incidents: %s failed", what)
        return None


def _as_coroutine(fn: Callable[[], Any]) -> Callable[[], Awaitable[Any]]:
    async def run() -> Any:
        return fn()

    return run


async def _shutdown() -> None:
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    asyncio.get_running_loop().stop()


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The ``X-Alignkit-Signature`` value: ``sha256=`` and the HMAC-SHA256 of ``timestamp.body``."""
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(
    secret: bytes, timestamp: str, body: bytes, signature: str, *, tolerance_s: float = 300.0, now: float | None = None
) -> bool:
    """What a receiver checks: the signature matches (constant-time) and the timestamp is recent."""
    try:
        age = abs((time.time() if now is None else now) - float(timestamp))
    except ValueError:
        return False
    return age <= tolerance_s and hmac.compare_digest(sign(secret, timestamp, body), signature)


def target(url: str) -> str:
    """A webhook URL as logs and timelines show it: scheme and host only (the path may hold a token)."""
    parts = urllib.parse.urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/…"


Recorder = Callable[[str, Mapping[str, Any]], None]
"""Called with an incident id and a delivery's result, on the worker thread."""


class Webhooks:
    """Deliver incident messages to ``urls`` on ``worker``; ``record(incident_id, result)`` stores each
    delivery's outcome. ``transport`` and ``backoff_s`` are the seams for tests."""

    def __init__(
        self,
        urls: Sequence[str],
        worker: Worker,
        record: Recorder,
        *,
        secret: bytes | None = None,
        timeout_s: float = 5.0,
        retries: int = 3,
        backoff_s: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.urls, self.worker, self.record = list(urls), worker, record
        self.secret, self.timeout_s, self.retries, self.backoff_s = secret, timeout_s, retries, backoff_s
        self.transport = transport
        self._order: dict[tuple[str, str], tuple[asyncio.Lock, int]] = {}  # used on the worker's loop only
        self.sequence = threading.RLock()
        """Held around a status change and its :meth:`notify`, so messages are queued in the order the
        changes were committed (an "acknowledged" right after "opened" is never queued before it)."""

    def notify(self, event: str, incident: Incident, message: str | None = None) -> None:
        """Queue ``incident.<event>`` for every URL and return at once."""
        if not self.urls:
            return
        text = f"[{incident.severity}] {event}: {incident.title}"
        payload = {
            "event": f"incident.{event}",
            "incident": incident.to_dict(),
            "message": message or incident.title,
            "text": text if not message else f"{text} ({message[:300]})",
            "sent_at": time.time(),
        }
        body = json.dumps(payload, ensure_ascii=False).encode()
        for url in self.urls:
            self.worker.submit(self._job(url, event, incident.id, body), f"webhook {event} to {target(url)}")

    def _job(self, url: str, event: str, incident_id: str, body: bytes) -> Callable[[], Awaitable[None]]:
        delivery = new_id("whd-")

        async def in_order() -> None:
            # One incident's messages reach one URL in the order they happened (a retried "opened" is
            # never overtaken by its "resolved"); other incidents and other URLs do not wait.
            key = (url, incident_id)
            lock, users = self._order.get(key) or (asyncio.Lock(), 0)
            self._order[key] = (lock, users + 1)
            try:
                async with lock:
                    await self._deliver(url, delivery, event, incident_id, body)
            finally:
                lock, users = self._order[key]
                if users == 1:
                    del self._order[key]
                else:
                    self._order[key] = (lock, users - 1)

        return in_order

    async def _deliver(self, url: str, delivery: str, event: str, incident_id: str, body: bytes) -> None:
        started, attempts, status, error = time.monotonic(), 0, None, None
        try:
            async with httpx.AsyncClient(
                transport=self.transport, timeout=self.timeout_s, follow_redirects=False
            ) as client:
                while attempts <= self.retries:
                    if attempts:
                        await asyncio.sleep(min(self.backoff_s * 2 ** (attempts - 1), MAX_BACKOFF_S))
                    attempts += 1
                    status, error = await self._attempt(client, url, delivery, event, body)
                    if error is None or not _retryable(status):
                        break
        except asyncio.CancelledError:
            error = "given up: the gateway shut down before the delivery finished"
            raise
        finally:
            ms = round((time.monotonic() - started) * 1000)
            result = {
                "event": event,
                "target": target(url),
                "delivery": delivery,
                "ok": error is None,
                "status": status,
                "attempts": attempts,
                "ms": ms,
            }
            if error is not None:
                result["error"] = error
                log.warning(
                    "incidents: webhook %s to %s failed after %d attempts: %s", event, target(url), attempts, error
                )
            self._record(incident_id, result)

    async def _attempt(
        self, client: httpx.AsyncClient, url: str, delivery: str, event: str, body: bytes
    ) -> tuple[int | None, str | None]:
        """One POST: (HTTP status or None, an error or None)."""
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "alignkit-gateway",
            "X-Alignkit-Event": f"incident.{event}",
            "X-Alignkit-Delivery": delivery,
            TIMESTAMP_HEADER: timestamp,
        }
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, timestamp, body)
        try:
            response = await client.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            return None, f"no answer within {self.timeout_s:g} s"
        except httpx.HTTPError as e:  # connection refused, reset, DNS: the message never includes the URL
            return None, f"{type(e).__name__}: {scrub(str(e).replace(url, target(url)))[:200]}"
        if 200 <= response.status_code < 300:
            return response.status_code, None
        return response.status_code, f"HTTP {response.status_code}"

    def _record(self, incident_id: str, result: Mapping[str, Any]) -> None:
        try:
            self.record(incident_id, result)
        except Exception:  # the store is gone (shutdown) or failing: the log line above still tells
            log.warning("incidents: could not record a webhook result on incident %s", incident_id, exc_info=True)


def _retryable(status: int | None) -> bool:
    """Connection errors and timeouts (no status), 429 and 5xx are worth another try."""
    return status is None or status == 429 or status >= 500


def webhook_secret(config: IncidentConfig) -> bytes | None:
    """The signing secret from ``webhook_secret_env`` (masked in every log); an error if it is unset."""
    name = config.webhook_secret_env
    if not name:
        return None
    value = os.environ.get(name, "")
    if not value:
        raise ConfigError(
            f"incidents.webhook_secret_env names {name}, but {name} is not set: export the webhook "
            "signing secret in it, or remove webhook_secret_env to send unsigned webhooks"
        )
    mask(value)
    return value.encode()


def webhooks_for(
    config: IncidentConfig,
    worker: Worker,
    store: IncidentStore,
    transport: httpx.AsyncBaseTransport | None = None,
    backoff_s: float = 0.5,
) -> Webhooks:
    """The webhooks a config names, recording each delivery in ``store`` (the server and the CLI share it)."""

    def record(incident_id: str, result: Mapping[str, Any]) -> None:
        store.record(incident_id, "webhook", "webhook", result)

    return Webhooks(
        config.webhooks,
        worker,
        record,
        secret=webhook_secret(config),
        timeout_s=config.webhook_timeout_s,
        retries=config.webhook_retries,
        backoff_s=backoff_s,
        transport=transport,
    )
