"""A stand-in OpenAI-compatible chat endpoint that answers every request after a fixed delay.

For throughput benchmarks of scanners: with the model's latency fixed at ``--delay`` seconds and no
compute behind it, a client keeping C requests in flight can reach at most C / delay requests per
second, so what a scanner achieves below that bound is its own overhead. Standard library only
(asyncio's protocol layer, HTTP/1.1 with keep-alive), loopback only, and it exits by itself after ``--max-seconds``.

    python bench/fixed_delay_server.py --delay 0.5     # prints "PORT <n>" once listening

Endpoints: ``POST /v1/chat/completions`` (a fixed refusal, ``n`` choices), ``GET /v1/models``, and for
the benchmark ``GET /stats`` (requests served, the first arrival and last answer, the spread of the
arrivals, how late the latest answer left after it fell due, the rate over the
middle three quarters of the answers, the most in flight, a digest of the user prompts seen) and
``POST /stats/reset``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import time
from typing import Any

REFUSAL = "I'm sorry, but I can't help with that."
MAX_BODY = 8 * 2**20  # a request body larger than this is refused (the stand-in has no use for it)


class Stats:
    """What the server saw since the last reset; times are this process's monotonic clock."""

    def __init__(self) -> None:
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.first_arrival: float | None = None
        self.last_arrival: float | None = None
        self.last_answer: float | None = None
        self.most_late = 0.0  # the longest an answer left after it fell due (the stand-in's own lag)
        self.answer_times: list[float] = []
        self.prompt_hashes: list[str] = []

    def to_dict(self) -> dict[str, Any]:
        window = (
            self.last_answer - self.first_arrival
            if self.first_arrival is not None and self.last_answer is not None
            else None
        )
        t, n = sorted(self.answer_times), len(self.answer_times)
        lo, hi = n // 8, n - n // 8  # the middle three quarters of the answers: ramp-up and tail left out
        return {
            "requests": self.requests,
            "max_in_flight": self.max_in_flight,
            "window_s": window,
            "arrival_spread_s": (
                self.last_arrival - self.first_arrival
                if self.first_arrival is not None and self.last_arrival is not None
                else None
            ),
            "most_late_s": self.most_late,
            "steady_rate": (hi - lo) / (t[hi] - t[lo]) if n >= 8 and t[hi] > t[lo] else None,
            # order-free digest of the user prompts: two clients sent the same prompts iff these match
            "prompts_digest": hashlib.sha256("\n".join(sorted(self.prompt_hashes)).encode()).hexdigest(),
            "distinct_prompts": len(set(self.prompt_hashes)),
        }


def last_user_text(body: dict[str, Any]) -> str:
    for m in reversed(body.get("messages") or []):
        if m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, list):  # content parts
                return "".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


def completion(body: dict[str, Any]) -> dict[str, Any]:
    n = max(1, int(body.get("n") or 1))
    return {
        "id": f"chatcmpl-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "fixed-delay"),
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": REFUSAL}, "finish_reason": "stop"}
            for i in range(n)
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 10, "total_tokens": 11},
    }


class Server(asyncio.Protocol):
    """One connection, HTTP/1.1 with keep-alive, on asyncio's transport/protocol layer (no stream reader
    or task per request: a request costs the stand-in tens of microseconds, so at hundreds of requests a
    second it is not what a scanner waits for). Requests on a connection are answered in order."""

    def __init__(self, app: App) -> None:
        self.app, self.buffer = app, b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            try:
                lines = self.buffer[:end].decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
                length = int(headers.get("content-length", "0"))
            except ValueError:
                self.send(400, {"error": {"message": "bad request"}}, close=True)
                return
            if length > MAX_BODY:
                self.send(413, {"error": {"message": "request too large"}}, close=True)
                return
            if len(self.buffer) < end + 4 + length:
                return  # the body is still coming
            raw, self.buffer = self.buffer[end + 4 : end + 4 + length], self.buffer[end + 4 + length :]
            close = headers.get("connection", "").lower() == "close"
            self.app.route(self, method, path.split("?", 1)[0].rstrip("/"), raw, close)

    def send(self, status: int, payload: dict[str, Any], *, close: bool) -> None:
        self.write(encode(status, payload, close=close), close=close)

    def write(self, reply: bytes, *, close: bool) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(reply)
        if close:
            self.transport.close()


def encode(status: int, payload: dict[str, Any], *, close: bool) -> bytes:
    """An HTTP/1.1 response with a JSON body."""
    data = json.dumps(payload).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 413: "Payload Too Large"}.get(status, "Error")
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
    )
    return head.encode() + data


class App:
    """The routes, the delay and the statistics, shared by every connection."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.stats = Stats()
        self.loop = asyncio.get_running_loop()

    def route(self, conn: Server, method: str, path: str, raw: bytes, close: bool) -> None:
        if method == "POST" and path in ("/v1/chat/completions", "/chat/completions"):
            now = time.monotonic()
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                conn.send(400, {"error": {"message": "body is not JSON"}}, close=close)
                return
            s = self.stats
            s.first_arrival = now if s.first_arrival is None else min(s.first_arrival, now)
            s.last_arrival = now if s.last_arrival is None else max(s.last_arrival, now)
            s.in_flight += 1
            s.max_in_flight = max(s.max_in_flight, s.in_flight)
            # Everything but the write is done now, so answers that fall due together go out together.
            digest = hashlib.sha256(last_user_text(body).encode()).hexdigest()
            reply = encode(200, completion(body), close=close)
            self.loop.call_later(self.delay, self.answer, conn, s, digest, reply, close, now + self.delay)
        elif method == "GET" and path in ("/v1/models", "/models"):
            conn.send(
                200,
                {"object": "list", "data": [{"id": "fixed-delay", "object": "model", "owned_by": "bench"}]},
                close=close,
            )
        elif method == "GET" and path == "/stats":
            conn.send(200, self.stats.to_dict(), close=close)
        elif method == "POST" and path == "/stats/reset":
            self.stats = Stats()
            conn.send(200, {"ok": True}, close=close)
        else:
            conn.send(404, {"error": {"message": f"no route {method} {path}"}}, close=close)

    def answer(self, conn: Server, s: Stats, digest: str, reply: bytes, close: bool, due: float) -> None:
        """A chat completion's answer, ``delay`` seconds after it arrived (built then; written now)."""
        s.in_flight -= 1
        s.requests += 1
        s.last_answer = time.monotonic()
        s.most_late = max(s.most_late, s.last_answer - due)
        s.answer_times.append(s.last_answer)
        s.prompt_hashes.append(digest)
        conn.write(reply, close=close)


async def serve(delay: float, port: int, max_seconds: float) -> None:
    app = App(delay)
    server = await asyncio.get_running_loop().create_server(lambda: Server(app), "127.0.0.1", port, backlog=1024)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await asyncio.sleep(max_seconds)  # bounded: never outlives a forgotten benchmark


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--delay", type=float, default=0.5, help="seconds before each answer")
    ap.add_argument("--port", type=int, default=0, help="0: a free port, printed on stdout")
    ap.add_argument("--max-seconds", type=float, default=1800.0, help="exit after this long")
    a = ap.parse_args()
    asyncio.run(serve(a.delay, a.port, a.max_seconds))


if __name__ == "__main__":
    main()
