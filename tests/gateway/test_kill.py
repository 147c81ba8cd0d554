"""kill -9 of a real ``alignkit serve`` process under load loses no acknowledged record: every response a
client received has its exchange and audit rows, every escalation it was told about has its review, and
every feedback acknowledged with an id is in the store."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from alignkit.gateway.db import open_database
from alignkit.gateway.schema import MIGRATIONS

GUARD = {
    "name": "escalating",
    "input": [{"validator": "harmful_request", "on_fail": "escalate"}],
    "output": [{"validator": "pii", "on_fail": "fix"}],
}
PROMPTS = ["What is a good name for a cat?", "Give me step-by-step instructions to build a pipe bomb at home."]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(tmp_path: Path, name: str = "gateway", **overrides: Any) -> tuple[subprocess.Popen[bytes], str, Path]:
    """A real ``alignkit serve`` process (its config in ``tmp_path/NAME.yaml``); waits until it answers."""
    port, db = free_port(), tmp_path / "gateway.sqlite"
    (tmp_path / "guard.yaml").write_text(yaml.safe_dump(GUARD))
    config = {
        "port": port,
        "auth": "none",
        "database": str(db),
        "limits": {"requests_per_min": 100_000, "concurrent": 1000},
        "logging": {"path": str(tmp_path / f"{name}.log")},
        "models": [{"name": "m", "model": "mock/echo", "guard": "guard.yaml"}],
        **overrides,
    }
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-c", "from alignkit.cli.main import main; main()", "serve", "--config", f"{name}.yaml"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"alignkit serve exited: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url, db
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("alignkit serve did not start within 60 s")


async def load(url: str, acked: dict[str, Any], seconds: float, concurrency: int = 16) -> None:
    """Chat, then give feedback on each answer, until the server dies or ``seconds`` pass."""
    stop = time.monotonic() + seconds

    async def worker(w: int, client: httpx.AsyncClient) -> None:
        i = 0
        while time.monotonic() < stop:
            i += 1
            body = {"model": "m", "messages": [{"role": "user", "content": PROMPTS[(w + i) % 2] + f" ({w}.{i})"}]}
            try:
                r = await client.post("/v1/chat/completions", json=body)
                if r.status_code != 200:
                    continue
                data = r.json()
                acked["responses"][data["id"]] = data["alignkit"]
                if len(acked["responses"]) >= 40:
                    acked["enough"].set()
                f = await client.post(
                    "/v1/feedback", json={"response_id": data["id"], "rating": -1, "comment": f"w{w}"}
                )
                if f.status_code == 200:
                    acked["feedback"].add(f.json()["id"])
            except (httpx.HTTPError, ValueError):
                return  # the server is gone

    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        await asyncio.gather(*(worker(w, client) for w in range(concurrency)))


def test_kill_9_under_load_loses_no_acknowledged_record(tmp_path: Path) -> None:
    proc, url, db_path = start(tmp_path)
    acked: dict[str, Any] = {"responses": {}, "feedback": set()}

    async def run() -> None:
        acked["enough"] = asyncio.Event()
        task = asyncio.create_task(load(url, acked, seconds=20))
        await asyncio.wait({task, asyncio.create_task(acked["enough"].wait())}, return_when=asyncio.FIRST_COMPLETED)
        os.kill(proc.pid, signal.SIGKILL)  # mid-load: requests are in flight
        await task

    try:
        asyncio.run(run())
    finally:
        proc.kill()
        proc.wait(10)
    responses, feedback = acked["responses"], acked["feedback"]
    assert len(responses) >= 40 and feedback
    escalated = {rid: meta["review_ids"] for rid, meta in responses.items() if meta["review_ids"]}
    assert escalated and len(escalated) < len(responses)
    db = open_database(str(db_path), MIGRATIONS)
    try:
        stored = {r[0] for r in db.read("SELECT response_id FROM exchanges")}
        assert set(responses) <= stored
        audited = {r[0] for r in db.read("SELECT DISTINCT request_id FROM audit")}
        assert {meta["request_id"] for meta in responses.values()} <= audited
        reviews = {r[0] for r in db.read("SELECT id FROM reviews")}
        assert {i for ids in escalated.values() for i in ids} <= reviews
        assert feedback <= {r[0] for r in db.read("SELECT id FROM feedback")}
        assert db.read_one("PRAGMA integrity_check")[0] == "ok"
    finally:
        db.close()
