"""A small OpenAI-compatible chat server on loopback, backed by any alignkit model: the peer the
``openai/`` provider is tested against over real HTTP.

``echo_status`` makes it a hostile peer: every request is answered with that error status and a body
that echoes the credentials it got (the Authorization header, the bare key, the key URL-encoded and as
``Basic base64(user:key)``), as a JSON error (``echo_format="json"``) or plain text (``"text"``).
``delay`` (seconds) slows every answer down. A request with ``"stream": true`` is answered as server-sent
events, a word a chunk, ``stream_delay`` seconds apart."""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from alignkit.core.config import GenerateConfig
from alignkit.core.model import Model


class OpenAICompatServer:
    def __init__(
        self,
        model: Model,
        *,
        api_key: str | None = None,
        echo_status: int | None = None,
        echo_format: str = "json",
        delay: float = 0.0,
        stream_delay: float = 0.0,
    ) -> None:
        self.model = model
        self.stream_delay = stream_delay
        self.api_key = api_key
        self.echo_status, self.echo_format, self.delay = echo_status, echo_format, delay
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, model: str, text: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                words = [w + " " for w in text.split(" ")]
                words[-1] = words[-1][:-1]
                for i, piece in enumerate([*words, None]):
                    delta = {"content": piece} if piece is not None else {}
                    finish = None if piece is not None else "stop"
                    chunk = {
                        "id": "chatcmpl-test",
                        "object": "chat.completion.chunk",
                        "model": model,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                    }
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.flush()
                    if i and server.stream_delay:
                        time.sleep(server.stream_delay)
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

            def _echo_credentials(self) -> None:
                auth = self.headers.get("Authorization") or ""
                key = auth.removeprefix("Bearer ")
                basic = base64.b64encode(f"someuser:{key}".encode()).decode()
                text = (
                    f"invalid credentials. Authorization: {auth}; key={key}; "
                    f"url={urllib.parse.quote(key, safe='')}; basic=Basic {basic}; headers={dict(self.headers)}"
                )
                assert server.echo_status is not None
                if server.echo_format == "json":
                    self._send(server.echo_status, {"error": {"message": text, "authorization": auth}})
                    return
                data = text.encode()
                self.send_response(server.echo_status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                if server.delay:
                    time.sleep(server.delay)
                if server.echo_status is not None:
                    self.rfile.read(int(self.headers.get("Content-Length") or 0))
                    self._echo_credentials()
                    return
                if self.path.rstrip("/") != "/v1/chat/completions":
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
                    return
                if server.api_key and self.headers.get("Authorization") != f"Bearer {server.api_key}":
                    self._send(401, {"error": {"message": "invalid api key"}})
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                config = GenerateConfig(
                    temperature=body.get("temperature"),
                    max_tokens=body.get("max_tokens"),
                    stop=body.get("stop"),
                    seed=body.get("seed"),
                    n=body.get("n"),
                )
                c = server.model.generate(body["messages"], config)
                if body.get("stream"):
                    self._stream(body["model"], c.text)
                    return
                self._send(
                    200,
                    {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "model": body["model"],
                        "choices": [
                            {
                                "index": i,
                                "message": {"role": "assistant", "content": ch.text},
                                "finish_reason": ch.finish_reason,
                            }
                            for i, ch in enumerate(c.choices)
                        ],
                        "usage": {
                            "prompt_tokens": c.usage.prompt_tokens,
                            "completion_tokens": c.usage.completion_tokens,
                            "total_tokens": c.usage.total_tokens,
                        },
                    },
                )

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> OpenAICompatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
