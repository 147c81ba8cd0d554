"""The gateway under hostile and heavy traffic: slow clients get 408, malformed requests 4xx, a bounded
loopback load is answered in full with every audit record, and the server keeps serving throughout."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path
from typing import Any

import httpx

from alignkit.gateway.app import Gateway, create_app
from alignkit.gateway.config import GatewayConfig
from tests.gateway.live import live_server


def make(tmp_path: Path, **config: Any) -> Gateway:
    base = {
        "auth": "none",
        "database": str(tmp_path / "g.sqlite"),
        "models": [{"name": "m", "model": "mock/echo"}],
        "limits": {"requests_per_min": 100_000, "concurrent": 1000},
        "header_timeout_s": 0.5,
        "body_timeout_s": 0.5,
    }
    return Gateway(GatewayConfig.model_validate({**base, **config}))


def raw(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=5)


def read_all(sock: socket.socket) -> bytes:
    """What the server sent before it closed (a reset after an early answer to an unread request is a close)."""
    out = b""
    try:
        while chunk := sock.recv(4096):
            out += chunk
    except ConnectionResetError:
        pass
    return out


def ok(url: str) -> bool:
    body = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}
    return httpx.post(f"{url}/v1/chat/completions", json=body, timeout=10).status_code == 200


def test_slow_loris_headers_and_slow_bodies_get_408_while_others_are_served(tmp_path: Path) -> None:
    with live_server(create_app(make(tmp_path))) as url:
        loris = [raw(url) for _ in range(20)]
        for s in loris:
            s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        slow_body = raw(url)
        slow_body.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            b'content-length: 100\r\n\r\n{"model"'
        )
        start = time.monotonic()
        assert ok(url)  # served while twenty clients dribble their headers
        for s in loris:
            s.sendall(b"X-Slow: 1\r\n")  # still inside the deadline: not reset by this byte
        answers = [read_all(s) for s in loris]
        assert all(a.startswith(b"HTTP/1.1 408") for a in answers), answers[0][:80]
        assert b" 408 " in read_all(slow_body)
        assert time.monotonic() - start < 5
        assert ok(url)


def test_malformed_requests_get_4xx_and_the_server_keeps_serving(tmp_path: Path) -> None:
    with live_server(create_app(make(tmp_path))) as url:
        garbage = raw(url)
        garbage.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n")
        assert read_all(garbage).startswith(b"HTTP/1.1 400")
        huge_header = raw(url)
        huge_header.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: " + b"a" * 200_000 + b"\r\n\r\n")
        assert read_all(huge_header)[:12] in (b"HTTP/1.1 400", b"HTTP/1.1 431", b"")
        for body in (b"[]", b"null", b'{"model": 5}', b'{"model": "m", "messages": "hi"}', b"\xff\xfe"):
            r = httpx.post(f"{url}/v1/chat/completions", content=body, headers={"content-type": "application/json"})
            assert r.status_code == 400, (body, r.text)
            assert r.json()["error"]["message"]
        assert ok(url)


def test_bounded_loopback_load_is_answered_in_full_with_its_audit_trail(tmp_path: Path) -> None:
    gw = make(tmp_path)
    n, concurrency = 200, 32

    async def load(url: str) -> list[httpx.Response]:
        sem = asyncio.Semaphore(concurrency)
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:

            async def one(i: int) -> httpx.Response:
                async with sem:
                    body = {"model": "m", "messages": [{"role": "user", "content": f"question {i}: what is {i} + 1?"}]}
                    return await client.post("/v1/chat/completions", json=body)

            return list(await asyncio.gather(*(one(i) for i in range(n))))

    with live_server(create_app(gw)) as url:
        responses = asyncio.run(load(url))
        assert [r.status_code for r in responses] == [200] * n
        ids = {r.json()["id"] for r in responses}
        assert len(ids) == n
        assert gw.db.read("SELECT COUNT(*) FROM exchanges")[0][0] == n
        assert gw.db.read("SELECT COUNT(DISTINCT request_id) FROM audit")[0][0] == n
        assert gw.db.read("SELECT COUNT(*) FROM audit")[0][0] == n * 6


def test_a_stream_longer_than_the_body_timeout_is_not_cut(tmp_path: Path) -> None:
    """The body deadline ends with the body: a stream that listens for the client's disconnect meanwhile
    runs as long as the model takes."""
    from alignkit.providers.mock import MockModel
    from tests.helpers.openai_server import OpenAICompatServer

    answer = " ".join(f"word{i}" for i in range(30))
    with OpenAICompatServer(MockModel("fixed", text=answer), stream_delay=0.05) as upstream:
        route = {
            "name": "m",
            "model": "openai/x",
            "args": {"base_url": upstream.base_url, "api_key": "k"},
            "guard": None,
        }
        gw = make(tmp_path, models=[route], body_timeout_s=0.5)
        with live_server(create_app(gw)) as url:
            body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
            start, text = time.monotonic(), ""
            with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=30) as r:
                for line in r.iter_lines():
                    if line.startswith("data: {"):
                        choices = json.loads(line[6:]).get("choices") or [{}]
                        text += choices[0].get("delta", {}).get("content") or ""
    assert time.monotonic() - start > 1.0 and text == answer
