"""Serving the gateway: uvicorn, with the time limits a server facing clients needs.

uvicorn closes idle keep-alive connections, but a client that sends its request headers one byte at a
time (slow loris) holds a connection for as long as it likes. :class:`DeadlineH11` gives every request
``header_timeout_s`` from its first byte (or from the connection, or from the previous response) to
finish its headers; past it the client gets ``408`` and the connection is closed. The body has its own
limit in :class:`alignkit.gateway.app.BodyLimit` (size) and ``body_timeout_s`` (time between its
chunks). ``limit_concurrency`` answers 503 beyond that many connections at once instead of queueing
without bound.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from alignkit.gateway.config import GatewayConfig

TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\ncontent-length: 16\r\nconnection: close\r\n\r\n"
    b"request timeout\n"
)


class DeadlineH11(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's headers."""

    header_timeout_s = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(self.header_timeout_s, self._expired, self.cycle)

    def _expired(self, cycle: Any) -> None:
        self._deadline = None
        if self.cycle is cycle and not self.transport.is_closing():  # no new request since the deadline was armed
            self.transport.write(TIMEOUT_RESPONSE)
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        before = self.cycle
        super().data_received(data)
        if self.cycle is not before and self._deadline is not None:  # a request's headers are complete
            self._deadline.cancel()
            self._deadline = None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request on this connection gets its own deadline

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        super().connection_lost(exc)


def uvicorn_config(app: Any, config: GatewayConfig, **overrides: Any) -> uvicorn.Config:
    """uvicorn's settings for the gateway: the deadline protocol, bounded connections, quiet access log
    (the gateway writes its own JSON request log)."""
    DeadlineH11.header_timeout_s = config.header_timeout_s
    settings: dict[str, Any] = {
        "host": config.host,
        "port": config.port,
        "http": DeadlineH11,
        "log_level": "warning",
        "access_log": False,
        "limit_concurrency": config.max_connections,
        "timeout_keep_alive": 5,
        "timeout_graceful_shutdown": 10,
        "server_header": False,
    }
    return uvicorn.Config(app, **{**settings, **overrides})


def run(app: Any, config: GatewayConfig) -> None:
    """Serve until interrupted."""
    uvicorn.Server(uvicorn_config(app, config)).run()
