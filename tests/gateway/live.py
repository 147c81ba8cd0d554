"""A gateway app served by a real uvicorn server on a free loopback port, in a thread (for the official
openai client, browsers and anything else that needs real HTTP)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def live_server(app: Any, *, lifespan: str = "on") -> Iterator[str]:
    """Serve ``app``; yields its base URL (``http://127.0.0.1:PORT``). Stops the server on exit.

    A gateway app is served as ``alignkit serve`` serves it (:func:`alignkit.gateway.server.uvicorn_config`:
    header deadlines, bounded connections)."""
    import uvicorn

    from alignkit.gateway.server import uvicorn_config

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    gw = getattr(getattr(app, "state", None), "gateway", None)
    if gw is not None:
        config = uvicorn_config(app, gw.config, lifespan=lifespan)
    else:
        config = uvicorn.Config(app, log_level="warning", lifespan=lifespan)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started and time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
