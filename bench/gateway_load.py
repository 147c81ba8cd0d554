"""The load generator and the stub upstream of ``bench_gateway.py``, each run as its own process.

    python bench/gateway_load.py stub --port 8100                 # the stub upstream, until stopped
    python bench/gateway_load.py load --port 8000 --prompts-file p.json --concurrency 64 --requests 1000

The load generator is a minimal HTTP/1.1 keep-alive client on asyncio (one connection per concurrent
request), so that its own cost per request stays far below the servers'. It prints one JSON line: the
latency of every timed request, the errors, the gateway's decisions, and the CPU that the watched
processes (the server, the stub) spent during the timed phase. Standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fixed_delay_server as fds  # beside this file

ANSWER_MARK = b"(stub answer)"  # in every answer of the stub: a response without it is an error


# -- what is sent and answered: every text new, as in real traffic ---------------------------------------
# The detectors and the gateway's redactor memoize recent texts; a benchmark that repeats its prompts (or
# an upstream that repeats its answer) would time memo hits instead of the work a new message costs.


def unique(prompt: str, k: int) -> str:
    """The ``k``-th request's user message: a benign instruction made unique."""
    return f"{prompt} Please keep the answer under {k} words."


def stub_answer(prompt: str) -> str:
    """The stub's answer to a prompt: as new as the prompt, harmless, about 40 words."""
    return (
        f"Here is a short answer to your message ({prompt}). Start with the basics, check each step against "
        f"what you expect, and ask again if anything is unclear. (stub answer)"
    )


def request_bytes(prompts: list[str], port: int, key: str | None, start: int, count: int) -> list[bytes]:
    """Requests ``start`` .. ``start + count - 1`` of the sequence every server gets, as HTTP/1.1 bytes."""
    auth = f"Authorization: Bearer {key}\r\n" if key else ""
    out = []
    for k in range(start, start + count):
        body = {"model": "stub", "messages": [{"role": "user", "content": unique(prompts[k % len(prompts)], k)}]}
        data = json.dumps({**body, "max_tokens": 64}).encode()
        head = f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        out.append(f"{head}{auth}Content-Length: {len(data)}\r\n\r\n".encode() + data)
    return out


def serve_stub(args: argparse.Namespace) -> None:
    """``bench/fixed_delay_server.py`` with no delay, answering each prompt with :func:`stub_answer`."""

    def completion(body: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = fds_completion(body)
        out["choices"][0]["message"]["content"] = stub_answer(fds.last_user_text(body))
        return out

    fds_completion = fds.completion
    fds.completion = completion  # the stand-in's answer, per prompt
    asyncio.run(fds.serve(0.0, args.port, args.max_seconds))


# -- the load generator ---------------------------------------------------------------------------------


async def read_response(reader: asyncio.StreamReader) -> tuple[int, str | None, bytes]:
    """One HTTP/1.1 response: status, the x-alignkit-decision header, body (content-length or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, chunked, decision = 0, False, None
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"x-alignkit-decision":
            decision = value.strip().decode()
    if not chunked:
        return status, decision, await reader.readexactly(length)
    parts = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
        parts.append(await reader.readexactly(size + 2))
        if size == 0:
            return status, decision, b"".join(p[:-2] for p in parts)


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    decisions: dict[str, int] = field(default_factory=dict)
    next: int = 0


async def connection(port: int, requests: list[bytes], deadline: float, tally: Tally, record: bool) -> None:
    """One keep-alive connection sending requests one after another until none are left or time is up."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**20)
    try:
        while tally.next < len(requests) and time.perf_counter() < deadline:
            data = requests[tally.next]
            tally.next += 1
            start = time.perf_counter()
            writer.write(data)
            status, decision, body = await read_response(reader)
            elapsed = time.perf_counter() - start
            if status != 200 or ANSWER_MARK not in body:
                tally.errors += 1
                continue
            if record:
                tally.latencies.append(elapsed)
                if decision is not None:
                    tally.decisions[decision] = tally.decisions.get(decision, 0) + 1
    finally:
        writer.close()


def thread_cpu_seconds(pid: int) -> float:
    """User + system CPU of the main thread of ``pid`` (the event loop's, for uvicorn)."""
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes and their descendants (every thread), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = fields
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0.0, list(pids)
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += (int(stats[pid][11]) + int(stats[pid][12])) / tick  # utime, stime
            todo += children.get(pid, [])
    return total


async def load(args: argparse.Namespace, prompts: list[str]) -> dict[str, Any]:
    warmup = request_bytes(prompts, args.port, args.key, args.offset, args.warmup)
    requests = request_bytes(prompts, args.port, args.key, args.offset + args.warmup, args.requests)
    # Warm-up on a first set of connections (the server's pools fill), then the timed phase.
    warm = Tally()
    end = time.perf_counter() + args.max_seconds
    await asyncio.gather(*(connection(args.port, warmup, end, warm, False) for _ in range(args.concurrency)))
    tally = Tally()
    watched = [int(p) for p in args.pids.split(",") if p]
    cpu0, own0 = [cpu_seconds([p]) for p in watched], resource.getrusage(resource.RUSAGE_SELF)
    main0 = thread_cpu_seconds(watched[0])
    if args.signal_pid:  # a profiled server: profile the timed phase only
        os.kill(args.signal_pid, signal.SIGUSR1)
    start = time.perf_counter()
    deadline = start + args.max_seconds
    await asyncio.gather(*(connection(args.port, requests, deadline, tally, True) for _ in range(args.concurrency)))
    wall = time.perf_counter() - start
    cpu1, own1 = [cpu_seconds([p]) for p in watched], resource.getrusage(resource.RUSAGE_SELF)
    main1 = thread_cpu_seconds(watched[0])
    if args.signal_pid:
        os.kill(args.signal_pid, signal.SIGUSR2)
    return {
        "latencies_ms": [round(x * 1000, 4) for x in tally.latencies],
        "errors": tally.errors + warm.errors,
        "decisions": tally.decisions,
        "wall_s": wall,
        "truncated": len(tally.latencies) + tally.errors < args.requests,
        "cpu_s": [b - a for a, b in zip(cpu0, cpu1, strict=True)],
        "main_thread_cpu_s": main1 - main0,
        "loadgen_cpu_s": own1.ru_utime + own1.ru_stime - own0.ru_utime - own0.ru_stime,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["stub", "load"])
    ap.add_argument("--port", type=int, required=True, help="the stub's port, or the server's to load")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="the stub's lifetime, or a timed phase's bound")
    ap.add_argument("--prompts-file", help="a JSON list of prompts, sent in turn (each made new)")
    ap.add_argument("--offset", type=int, default=1, help="the number of the first request (every text is new)")
    ap.add_argument("--concurrency", type=int, default=1, help="connections, each with one request in flight")
    ap.add_argument("--requests", type=int, default=1000, help="timed requests")
    ap.add_argument("--warmup", type=int, default=50, help="requests before the timed phase")
    ap.add_argument("--pids", default="", help="processes whose CPU to read around the timed phase (server first)")
    ap.add_argument("--key", default=None, help="a bearer key to send")
    ap.add_argument("--signal-pid", type=int, default=None, help="sent SIGUSR1/SIGUSR2 around the timed phase")
    args = ap.parse_args()
    if args.mode == "stub":
        serve_stub(args)
    else:
        print(json.dumps(asyncio.run(load(args, json.loads(Path(args.prompts_file).read_text())))))


if __name__ == "__main__":
    main()
