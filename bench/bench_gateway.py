"""The gateway's cost: latency added over calling the upstream directly, and the most requests/s.

Side by side in one run, against one stub upstream on loopback (``bench/fixed_delay_server.py`` with no
delay: an OpenAI-compatible ``/v1/chat/completions`` in standard-library asyncio that answers at once,
here with a short answer quoting the prompt; measured alone too):

- ``direct``: the stub itself, the baseline every "added" figure subtracts;
- (a) ``alignkit serve`` with a route ``openai/stub`` and ``guard: none``, ``system_prompt: none``;
- (b) the same with ``guard: default`` (the default validator stack on input and output);
- (c) LiteLLM's proxy (``litellm --config ... --num_workers 1``) from its own virtualenv
  (``bench/.venv-litellm``), forwarding to the same stub, no guard, no database, no master key.

With ``--extras``, variants that change one thing each: (a) on uvloop (the event loop LiteLLM's CLI
picks), (a) and (b) on uvloop and httptools (what ``uvicorn[standard]`` adds), (a) with
``store_text: false``, (a) and (c) with API keys, and the floor of alignkit's stack (a FastAPI endpoint
forwarding with httpx, nothing else). With ``--profile``, the pieces of (b)'s path timed alone and (b)
under cProfile.

Every server is its own process (uvicorn, one worker); the load generator is another (a minimal
HTTP/1.1 keep-alive client on asyncio, so its own cost per request stays far below the servers'). Every
message is new (the detectors and the redactor memoize recent texts). For each server and concurrency
level: a warm-up on the same connections, then a fixed number of requests within a time bound; the
servers are interleaved in rounds (reversed every other round) so drift in the shared machine's load
falls on all of them alike. Server CPU is read from /proc around the timed phase.

    python -m venv bench/.venv-litellm && bench/.venv-litellm/bin/pip install 'litellm[proxy]'
    bench/.venv-litellm/bin/pip install --target bench/.venv-litellm/uvloop-only uvloop==0.23.0      # --extras
    bench/.venv-litellm/bin/pip install --target bench/.venv-litellm/uvicorn-standard uvloop==0.23.0 httptools
    python bench/bench_gateway.py --extras --profile --write     # about 15 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, benign_instructions, machine, write_section
from gateway_load import ANSWER_MARK, stub_answer, unique

SCRIPT = Path(__file__).resolve()
LOAD = SCRIPT.parent / "gateway_load.py"
LITELLM_VENV = REPO / "bench" / ".venv-litellm"
UVLOOP_DIR = LITELLM_VENV / "uvloop-only"  # pip install --target ... uvloop (same version as LiteLLM's)
STANDARD_DIR = LITELLM_VENV / "uvicorn-standard"  # pip install --target ... uvloop httptools
DATA = REPO / "bench" / "data" / "gateway.json"
QUANTILES = (0.5, 0.9, 0.99)


def start_stub(tmp: Path) -> Server:
    port = free_port()
    argv = [sys.executable, str(LOAD), "stub", "--port", str(port), "--max-seconds", "3600"]
    return spawn("direct", "stub upstream, called directly", argv, tmp, port)


# -- the components of (b)'s added time, in process (its own process) ---------------------------------


def components(args: argparse.Namespace) -> dict[str, Any]:
    """Mean ms per request of each piece of the gateway's request path beyond HTTP, timed alone on new texts."""
    from alignkit.core.config import GenerateConfig
    from alignkit.core.messages import Message
    from alignkit.gateway.db import open_database
    from alignkit.gateway.pipeline import Result, decisions, save
    from alignkit.gateway.redact import Redactor
    from alignkit.gateway.schema import MIGRATIONS
    from alignkit.gateway.upstream import RequestContext
    from alignkit.guard import Guard
    from alignkit.providers.mock import MockModel

    prompts = json.loads(Path(args.prompts_file).read_text())
    guard, redactor, model = Guard.default(), Redactor(), MockModel.from_callable(stub_answer)
    gen = GenerateConfig(max_tokens=64)
    out: dict[str, list[float]] = {}

    def timed(name: str, start: float) -> None:
        out.setdefault(name, []).append((time.perf_counter() - start) * 1000)

    async def one(db: Any, k: int) -> None:
        text = unique(prompts[k % len(prompts)], k)
        answer, msgs = stub_answer(text), [Message("user", text)]
        t = time.perf_counter()
        guard.validate(text, "input")
        timed("guard input rail on a new message", t)
        t = time.perf_counter()
        guard.validate(answer, "output")
        timed("guard output rail on a new answer", t)
        t = time.perf_counter()
        redactor(text + " ")
        timed("redact a new message for storage", t)
        t = time.perf_counter()
        redactor(answer + " ")
        timed("redact a new answer for storage", t)
        text, answer, msgs = text + "  ", answer + "  ", [Message("user", text + "  ")]  # new again for the rest
        t = time.perf_counter()
        outcome = (await guard.acall_batch(model, [msgs], config=gen, raise_on_exception=False))[0]
        timed("(b) guard.acall_batch: both rails around an instant model", t)
        ctx = RequestContext(f"req_{k}", "stub", None, msgs, f"chatcmpl-{k}-a")
        t = time.perf_counter()
        save(db, ctx, Result(outcome.text, "stop"), store_text=True)
        timed("(a) record: both texts redacted, one row", t)
        ctx = RequestContext(f"req_{k}", "stub", None, [Message("user", text + " ")], f"chatcmpl-{k}-b")
        found = decisions(ctx, "input", outcome.input_verdicts, outcome.actions)
        found += decisions(ctx, "output", outcome.output_verdicts, outcome.actions)
        t = time.perf_counter()
        save(db, ctx, Result(outcome.text, "stop", decisions=found), store_text=True)
        timed(f"(b) record: the message redacted, one row and {len(found)} audit rows", t)

    async def rounds(db: Any) -> None:
        for k in range(2 * args.requests):  # the first half warms every detector and the database
            await one(db, k)
            if k == args.requests - 1:
                out.clear()

    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(str(Path(tmp) / "g.sqlite"), MIGRATIONS)
        asyncio.run(rounds(db))
        db.close()
    return {name: round(sum(v) / len(v), 4) for name, v in out.items()}


def passing(args: argparse.Namespace) -> list[int]:
    """The prompts the default guard leaves alone, on input and on the stub's answer: a blocked or fixed
    one would not time the same path as (a)."""
    from alignkit.guard import Guard

    guard = Guard.default()
    prompts = json.loads(Path(args.prompts_file).read_text())
    keep = []
    for i, p in enumerate(prompts):
        text = unique(p, 1000 + i)
        if not guard.validate(text, "input").actions and not guard.validate(stub_answer(text), "output").actions:
            keep.append(i)
    return keep


# -- servers --------------------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    label: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path
    alignkit: bool = False
    key: str | None = None  # the bearer key requests carry, when the server checks keys


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(name: str, label: str, argv: list[str], tmp: Path, port: int, env: dict[str, str] | None = None) -> Server:
    log = tmp / f"{name}.log"
    with log.open("wb") as fh:
        proc = subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, cwd=tmp)
    return Server(name, label, proc, port, log)


def start_alignkit(
    name: str,
    label: str,
    tmp: Path,
    stub: int,
    *,
    guard: str,
    store: bool = True,
    keys: bool = False,
    pythonpath: Path | None = None,
    profile_to: Path | None = None,
) -> Server:
    port = free_port()
    config = {
        "host": "127.0.0.1",
        "port": port,
        "database": str(tmp / f"{name}.sqlite"),
        "auth": "keys" if keys else "none",
        "limits": {},
        "store_text": store,
        "logging": {"path": str(tmp / f"{name}.requests.jsonl")},
        "models": [
            {
                "name": "stub",
                "model": "openai/stub",
                "guard": guard,
                "system_prompt": None,
                "args": {"base_url": f"http://127.0.0.1:{stub}/v1", "api_key": "sk-bench"},
            }
        ],
    }
    path = tmp / f"{name}.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    env = {"PYTHONPATH": str(pythonpath)} if pythonpath else {}
    key = None
    if keys:  # one user key without limits of its own (the config's limits are none)
        argv = [str(REPO / ".venv" / "bin" / "alignkit"), "keys", "create", "bench", "--config", str(path)]
        key = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=tmp).stdout.strip()
    argv = [str(REPO / ".venv" / "bin" / "alignkit"), "serve", "--config", str(path)]
    if profile_to is not None:
        argv = [str(REPO / ".venv" / "bin" / "python"), str(SCRIPT), "--worker", "serve"]
        argv += ["--config", str(path), "--out", str(profile_to)]
    server = spawn(name, label, argv, tmp, port, env)
    server.alignkit, server.key = True, key
    return server


def start_floor(tmp: Path, stub: int) -> Server:
    """A FastAPI endpoint that forwards the body with httpx and returns the answer, nothing else: what
    alignkit's HTTP stack costs before alignkit does anything (same uvicorn, same pool size)."""
    port = free_port()
    argv = [str(REPO / ".venv" / "bin" / "python"), str(SCRIPT), "--worker", "floor", "--port", str(port)]
    argv += ["--out", f"http://127.0.0.1:{stub}/v1"]
    return spawn("floor", "FastAPI + httpx forwarder alone (the stack's floor)", argv, tmp, port)


def serve_floor(args: argparse.Namespace) -> None:
    import httpx
    import uvicorn
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    app = FastAPI()
    client = httpx.AsyncClient(base_url=args.out, limits=httpx.Limits(max_connections=64, max_keepalive_connections=64))

    async def chat(request: Request) -> JSONResponse:
        answer = await client.post("/chat/completions", json=await request.json())
        return JSONResponse(answer.json())

    chat.__annotations__ = {"request": Request, "return": JSONResponse}  # names imported here, not module-wide
    app.post("/v1/chat/completions")(chat)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


def start_litellm(name: str, label: str, tmp: Path, stub: int, *, master_key: str | None = None) -> Server:
    """LiteLLM's proxy without a database; without ``master_key`` it must be told that no key is fine."""
    port = free_port()
    config = {
        "model_list": [
            {
                "model_name": "stub",
                "litellm_params": {
                    "model": "openai/stub",
                    "api_base": f"http://127.0.0.1:{stub}/v1",
                    "api_key": "sk-bench",
                },
            }
        ],
        "litellm_settings": {"num_retries": 0, "request_timeout": 120, "telemetry": False},
        "general_settings": {"master_key": master_key} if master_key else {},
    }
    path = tmp / f"{name}.yaml"
    path.write_text(json.dumps(config))
    argv = [
        str(LITELLM_VENV / "bin" / "litellm"),
        "--config",
        str(path),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--num_workers",
        "1",
    ]
    env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOG": "ERROR"}
    if not master_key:
        env["LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY"] = "true"
    server = spawn(name, label, argv, tmp, port, env)
    server.key = master_key
    return server


def wait_ready(server: Server, body: dict[str, Any], timeout: float) -> None:
    """Until one real completion comes back (the stub's answer through the server)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.proc.returncode}:\n{server.log.read_text()[-3000:]}")
        req = urllib.request.Request(
            f"http://127.0.0.1:{server.port}/v1/chat/completions",
            json.dumps(body).encode(),
            {"Content-Type": "application/json", **({"Authorization": f"Bearer {server.key}"} if server.key else {})},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                if resp.status == 200 and ANSWER_MARK in resp.read():
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{server.name} not ready after {timeout:.0f}s:\n{server.log.read_text()[-3000:]}")


def stop(server: Server) -> None:
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)  # uvicorn shuts down gracefully on it, the stub just exits
        try:
            server.proc.wait(15)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


def stage_totals(server: Server) -> dict[str, tuple[float, float]]:
    """Seconds and count per stage so far, from the gateway's histograms (``*stage_duration_seconds``)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    sums: dict[str, float] = {}
    counts: dict[str, float] = {}
    for kind, labels, value in re.findall(r"^\w*stage_duration_seconds_(sum|count)\{([^}]*)\} (\S+)$", text, re.M):
        stage = re.search(r'stage="([^"]+)"', labels)
        if stage:
            (sums if kind == "sum" else counts)[stage.group(1)] = float(value)
    return {s: (sums[s], counts.get(s, 0.0)) for s in sums}


def add_stages(into: dict[str, list[float]], before: dict[str, tuple[float, float]], server: Server) -> None:
    for stage, (total, count) in stage_totals(server).items():
        seen = into.setdefault(stage, [0.0, 0.0])
        seen[0] += total - before.get(stage, (0.0, 0.0))[0]
        seen[1] += count - before.get(stage, (0.0, 0.0))[1]


def litellm_version() -> str:
    out = subprocess.run(
        [str(LITELLM_VENV / "bin" / "python"), "-c", "import importlib.metadata as m; print(m.version('litellm'))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


# -- measuring --------------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def measure(
    server: Server,
    stub: Server,
    level: int,
    args: argparse.Namespace,
    prompts: Path,
    offset: int,
    signal_pid: int | None = None,
) -> dict[str, Any]:
    """One load run against ``server``: requests ``offset`` .. of the sequence, warm-up first."""
    n = args.requests_c1 if level == 1 else args.requests
    pids = [server.proc.pid] + ([stub.proc.pid] if stub is not server else [])
    worker = ["load", "--port", str(server.port), "--prompts-file", str(prompts), "--offset", str(offset)]
    worker += ["--concurrency", str(level), "--requests", str(n), "--warmup", str(warmup_for(level))]
    worker += ["--max-seconds", str(args.max_seconds), "--pids", ",".join(map(str, pids))]
    worker += [
        *(["--key", server.key] if server.key else []),
        *(["--signal-pid", str(signal_pid)] if signal_pid else []),
    ]
    proc = subprocess.run([sys.executable, str(LOAD), *worker], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"load worker failed on {server.name}:\n{proc.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def warmup_for(level: int) -> int:
    return max(50, 4 * level)


def summarize(runs: list[dict[str, Any]], own: bool) -> dict[str, Any]:
    """Pooled over rounds: latency quantiles (ms), requests/s, CPU ms per request."""
    lat = [x for r in runs for x in r["latencies_ms"]]
    wall = sum(r["wall_s"] for r in runs)
    decisions: dict[str, int] = {}
    for r in runs:
        for k, v in r["decisions"].items():
            decisions[k] = decisions.get(k, 0) + v
    out = {
        "requests": len(lat),
        "errors": sum(r["errors"] for r in runs),
        "truncated": any(r["truncated"] for r in runs),
        **{f"p{round(q * 100)}_ms": round(pct(lat, q), 4) for q in QUANTILES},
        "mean_ms": round(sum(lat) / len(lat), 4) if lat else None,
        "rps": round(len(lat) / wall, 1) if wall else None,
        "rps_per_round": [round(len(r["latencies_ms"]) / r["wall_s"], 1) for r in runs],
        "p50_ms_per_round": [round(pct(r["latencies_ms"], 0.5), 4) for r in runs],
        "server_cpu_ms_per_request": round(sum(r["cpu_s"][0] for r in runs) / max(1, len(lat)) * 1000, 4),
        "server_main_thread_cpu_ms_per_request": round(
            sum(r["main_thread_cpu_s"] for r in runs) / max(1, len(lat)) * 1000, 4
        ),
        "server_cpu_cores": round(sum(r["cpu_s"][0] for r in runs) / wall, 3) if wall else None,
        "loadgen_cpu_ms_per_request": round(sum(r["loadgen_cpu_s"] for r in runs) / max(1, len(lat)) * 1000, 4),
        "decisions": decisions,
    }
    if not own:  # the stub's CPU behind a gateway
        out["stub_cpu_ms_per_request"] = round(sum(r["cpu_s"][1] for r in runs) / max(1, len(lat)) * 1000, 4)
    return out


def busy_seconds() -> tuple[float, float]:
    """CPU seconds the whole machine has been busy (every core), and of those stolen by the hypervisor."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq + steal) / tick, steal / tick


def own_cpu_seconds() -> float:
    """This process and its finished children (load workers, stopped servers)."""
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def targets(args: argparse.Namespace, tmp: Path, stub: int) -> list[Server]:
    out = [
        start_alignkit("a", "(a) alignkit, no guard", tmp, stub, guard="none"),
        start_alignkit("b", "(b) alignkit, default guard in+out", tmp, stub, guard="default"),
    ]
    if not args.skip_litellm:
        out.append(start_litellm("litellm", "(c) LiteLLM proxy, no guard", tmp, stub))
    if args.extras:
        out += [
            start_alignkit(
                "a_uvloop", "(a) on uvloop, as LiteLLM runs", tmp, stub, guard="none", pythonpath=UVLOOP_DIR
            ),
            start_alignkit("a_std", "(a) on uvloop + httptools", tmp, stub, guard="none", pythonpath=STANDARD_DIR),
            start_alignkit("b_std", "(b) on uvloop + httptools", tmp, stub, guard="default", pythonpath=STANDARD_DIR),
            start_alignkit("a_nostore", "(a) with store_text: false", tmp, stub, guard="none", store=False),
            start_alignkit("a_keys", "(a) with an API key (auth: keys)", tmp, stub, guard="none", keys=True),
            start_floor(tmp, stub),
        ]
        if not args.skip_litellm:
            key = "sk-bench-" + os.urandom(16).hex()
            out.append(start_litellm("litellm_keys", "(c) with a master key", tmp, stub, master_key=key))
    return out


def run(args: argparse.Namespace, prompts: list[str]) -> dict[str, Any]:
    levels = [int(x) for x in args.levels.split(",")]
    load0, busy0, own0, t0 = os.getloadavg(), busy_seconds(), own_cpu_seconds(), time.time()
    date = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t0))
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "prompts.json").write_text(json.dumps(prompts))
        stub = start_stub(tmp)
        servers: list[Server] = [stub]
        try:
            wait_ready(stub, ready_body(prompts), 30)
            servers += targets(args, tmp, stub.port)
            for s in servers[1:]:
                wait_ready(s, ready_body(prompts), 300)
            raw: dict[str, dict[int, list[dict[str, Any]]]] = {s.name: {lv: [] for lv in levels} for s in servers}
            sent = dict.fromkeys(raw, 1)  # every server gets the same sequence of new messages
            stages: dict[str, dict[str, list[float]]] = {s.name: {} for s in servers if s.alignkit}
            for r in range(args.rounds):
                for s in servers if r % 2 == 0 else servers[::-1]:
                    for lv in levels:
                        before = stage_totals(s) if s.alignkit and lv == 1 else None  # stage times at c=1
                        raw[s.name][lv].append(measure(s, stub, lv, args, tmp / "prompts.json", sent[s.name]))
                        if before is not None:
                            add_stages(stages[s.name], before, s)
                        sent[s.name] += warmup_for(lv) + (args.requests_c1 if lv == 1 else args.requests)
                        print(
                            f"round {r + 1} {s.name} c={lv}: {summarize(raw[s.name][lv][-1:], s is stub)['p50_ms']} ms p50",
                            file=sys.stderr,
                        )
        finally:
            for s in servers:
                stop(s)
    (busy1, steal1), own, wall = busy_seconds(), own_cpu_seconds() - own0, time.time() - t0
    busy, steal = busy1 - busy0[0], steal1 - busy0[1]
    results = {
        s.name: {"label": s.label, **{f"c{lv}": summarize(raw[s.name][lv], s is stub) for lv in levels}}
        for s in servers
    }
    return {
        "levels": levels,
        "rounds": args.rounds,
        "requests": args.requests,
        "requests_c1": args.requests_c1,
        "prompts": len(prompts),
        "results": results,
        "stages_ms_c1": {k: {st: round(t / n * 1000, 4) for st, (t, n) in v.items() if n} for k, v in stages.items()},
        "litellm_version": None if args.skip_litellm else litellm_version(),
        "machine": machine(),
        "date": date,
        "loadavg_start": load0,
        "loadavg_end": os.getloadavg(),
        "wall_s": round(wall, 1),
        "other_cpu_cores": round(max(0.0, busy - steal - own) / wall, 3),
        "steal_cpu_cores": round(steal / wall, 3),
    }


# -- where (b)'s time goes --------------------------------------------------------------------------------


PACKAGES = (  # (group, substrings of the file or, for built-ins, of the function's name)
    ("idle: waiting in epoll", ("select.epoll",)),
    ("alignkit guard + detectors", ("alignkit/guard/", "alignkit/detectors/", "alignkit/classifiers/")),
    ("alignkit gateway", ("alignkit/gateway/", "prometheus_client/", "_io.TextIOWrapper", "posix.urandom")),
    ("alignkit providers/core", ("alignkit/providers/", "alignkit/core/")),
    ("httpx/httpcore/anyio (upstream client)", ("httpx/", "httpcore/", "anyio/", "getpeername", "select.poll")),
    ("fastapi/starlette/pydantic", ("fastapi/", "starlette/", "pydantic", "inspect.py", "typing.py")),
    ("uvicorn/h11 (HTTP server)", ("uvicorn/", "h11/")),
    ("socket send/recv", ("_socket.socket",)),
    ("asyncio + threads", ("asyncio/", "selectors.py", "_queue.SimpleQueue", "threading.py", "contextvars")),
    ("json", ("json/",)),
)


def serve_profiled(args: argparse.Namespace) -> None:
    """``alignkit serve`` (the same uvicorn call), with cProfile on between SIGUSR1 and SIGUSR2 (then dumped)."""
    import cProfile

    import uvicorn

    from alignkit.cli.serve import load_config
    from alignkit.gateway.app import Gateway, create_app

    config = load_config(args.config)
    prof = cProfile.Profile()
    signal.signal(signal.SIGUSR1, lambda *_: prof.enable())

    def dump(*_: Any) -> None:
        prof.disable()
        prof.dump_stats(args.out + ".tmp")
        os.replace(args.out + ".tmp", args.out)

    signal.signal(signal.SIGUSR2, dump)
    uvicorn.run(create_app(Gateway(config)), host=config.host, port=config.port, log_level="warning")


def profile(args: argparse.Namespace, prompts: list[str], level: int) -> dict[str, Any]:
    """(b) under cProfile during the timed phase at ``level`` (the event loop's thread: a PostgreSQL write
    would run in a worker thread, a SQLite one does not); own time grouped by package."""
    import pstats

    with tempfile.TemporaryDirectory(prefix="bench-gateway-prof-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "prompts.json").write_text(json.dumps(prompts))
        stub = start_stub(tmp)
        servers = [stub]
        try:
            wait_ready(stub, ready_body(prompts), 30)
            b = start_alignkit("b", "(b) under cProfile", tmp, stub.port, guard="default", profile_to=tmp / "b.prof")
            servers.append(b)
            wait_ready(b, ready_body(prompts), 300)
            result = measure(b, stub, level, args, tmp / "prompts.json", 1, signal_pid=b.proc.pid)
            end = time.monotonic() + 60
            while not (tmp / "b.prof").exists() and time.monotonic() < end:
                time.sleep(0.2)
        finally:
            for s in servers:
                stop(s)
        stats = pstats.Stats(str(tmp / "b.prof"))
    n = len(result["latencies_ms"])
    rows = stats.stats  # type: ignore[attr-defined]
    groups: dict[str, float] = {}
    for (file, _line, fn), (_cc, _nc, tt, _ct, _callers) in rows.items():
        where = file if file != "~" else fn
        group = next((g for g, keys in PACKAGES if any(k in where for k in keys)), "other")
        groups[group] = groups.get(group, 0.0) + tt
    top = sorted(rows.items(), key=lambda kv: -kv[1][2])[: args.top]
    return {
        "requests": n,
        "p50_ms_under_profiler": round(pct(result["latencies_ms"], 0.5), 4),
        "own_ms_per_request_by_package": {
            g: round(t / n * 1000, 4) for g, t in sorted(groups.items(), key=lambda kv: -kv[1])
        },
        "top_own_ms_per_request": [
            {
                "function": f"{Path(f).name}:{line}({fn})",
                "own_ms": round(v[2] / n * 1000, 4),
                "cum_ms": round(v[3] / n * 1000, 4),
                "calls_per_request": round(v[1] / n, 2),
            }
            for (f, line, fn), v in top
        ],
    }


def alignkit_worker(name: str, prompts: list[str], *extra: str) -> Any:
    """Run ``--worker NAME`` on these prompts in alignkit's virtualenv; its JSON answer."""
    with tempfile.TemporaryDirectory(prefix="bench-gateway-worker-") as tmp:
        path = Path(tmp) / "prompts.json"
        path.write_text(json.dumps(prompts))
        argv = [str(REPO / ".venv" / "bin" / "python"), str(SCRIPT), "--worker", name, "--prompts-file", str(path)]
        proc = subprocess.run([*argv, *extra], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{name} worker failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def benign_prompts(n: int) -> tuple[list[str], list[str]]:
    """The first ``n`` benign instructions less those the default guard acts on; and those left out."""
    prompts = benign_instructions(n)
    keep = set(alignkit_worker("passing", prompts))
    return [p for i, p in enumerate(prompts) if i in keep], [p for i, p in enumerate(prompts) if i not in keep]


def ready_body(prompts: list[str]) -> dict[str, Any]:
    return {"model": "stub", "messages": [{"role": "user", "content": unique(prompts[0], 0)}], "max_tokens": 64}


# -- the report -------------------------------------------------------------------------------------------


def ms(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f} ms"


def render(data: dict[str, Any], command: str) -> str:
    res, levels = data["results"], data["levels"]
    hi = max(levels)
    base = res["direct"]
    best = {k: max((v[f"c{lv}"]["rps"] or 0, lv) for lv in levels) for k, v in res.items()}
    rps_max = {k: rps for k, (rps, _) in best.items()}

    def added(k: str, lv: int, q: str) -> float:
        return float(res[k][f"c{lv}"][q] - base[f"c{lv}"][q])

    lines = [
        "## Gateway: latency added over the upstream, and the most requests/s",
        "",
        f"Command: `{command}`  \nMachine: {data['machine']}  \nDate: {data['date']}\n",
        f"One stub upstream on loopback (`bench/fixed_delay_server.py` with no delay, stdlib asyncio: it answers "
        f"each chat request at once with a 40-word answer that quotes the prompt), behind each server in its own "
        f"process. A separate load-generator process (a minimal HTTP/1.1 keep-alive client on asyncio, one "
        f"connection per concurrent request) sends the {data['prompts']} self-instruct seed instructions that need "
        f"no input{blocked_note(data)}, each made new with a request number (“... Please keep the answer under "
        f"N words.”), so that neither the messages nor the answers repeat: the detectors and the redactor memoize "
        f"recent texts, and repeated texts would time memo hits. After a warm-up, {data['requests_c1']} requests "
        f"at concurrency 1 and "
        f"{data['requests']} at each of c={', '.join(str(lv) for lv in levels if lv > 1)}, in {data['rounds']} "
        f"rounds over all servers (order reversed every other round), pooled. Added = the server's percentile "
        f"minus the stub's own at the same concurrency; most req/s = the best level; server CPU = user + system "
        f"time of the server process (all threads; in brackets its event-loop thread) per request at c={hi}.",
        "",
        f"alignkit: `alignkit serve --config` (uvicorn, one worker, on the asyncio loop and h11 that the `serve` "
        f"extra installs; SQLite WAL store, JSON request log to a file, `auth: none`, no limits; route "
        f"`openai/stub` with `system_prompt: none`). LiteLLM {data['litellm_version']} from its own virtualenv "
        f"(`bench/.venv-litellm`, `pip install 'litellm[proxy]'`): `litellm --config ... --num_workers 1` "
        f"(uvicorn, one worker, on uvloop and h11 as its CLI picks; no database; `num_retries: 0`; no master key, "
        f"allowed by `LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY`). The variants change one thing each: "
        f"uvloop (0.23, as in LiteLLM's virtualenv) or uvloop and httptools put on alignkit's path, "
        f"`store_text: false`, API keys on both; the floor is a 10-line FastAPI endpoint forwarding the body "
        f"with httpx (same uvicorn, same pool size as alignkit's upstream client) and nothing else.",
        "",
        f"Machine load: load average {data['loadavg_start'][0]:.2f} at the start, {data['loadavg_end'][0]:.2f} at the end; "
        f"other processes used {data['other_cpu_cores']:.2f} of the 2 cores on average during the {data['wall_s']:.0f} s run"
        f"{steal_note(data)}.",
        "",
    ]
    header = [
        f"| server | added p50, c=1 | added p99, c=1 | added p50, c={hi} | added p99, c={hi} | most req/s "
        "| server CPU per request (main thread) |",
        "|---|---|---|---|---|---|---|",
    ]

    def row(k: str) -> str:
        top = res[k][f"c{hi}"]
        v, cpu = (
            res[k],
            f"{top['server_cpu_ms_per_request']:.2f} ({top['server_main_thread_cpu_ms_per_request']:.2f}) ms",
        )
        if k == "direct":
            cells = [v["c1"]["p50_ms"], v["c1"]["p99_ms"], v[f"c{hi}"]["p50_ms"], v[f"c{hi}"]["p99_ms"]]
            label = "stub alone (absolute, the baseline)"
        else:
            cells = [added(k, 1, "p50_ms"), added(k, 1, "p99_ms"), added(k, hi, "p50_ms"), added(k, hi, "p99_ms")]
            label = v["label"]
        return f"| {label} | " + " | ".join(ms(c) for c in cells) + f" | {best[k][0]:.0f} (c={best[k][1]}) | {cpu} |"

    main_rows = [k for k in ("direct", "a", "b", "litellm") if k in res]
    lines += [*header, *(row(k) for k in main_rows)]
    others = [k for k in res if k not in main_rows]
    if others:
        lines += ["", "Variants, same run:", "", *header, *(row(k) for k in others)]
    lines += ["", *verdicts(data, added, rps_max), "", *breakdown(data)]
    errors = {k: v[f"c{lv}"]["errors"] for k, v in res.items() for lv in levels if v[f"c{lv}"]["errors"]}
    truncated = [k for k, v in res.items() for lv in levels if v[f"c{lv}"]["truncated"]]
    lines.append("")
    decided = {k: v[f"c{hi}"]["decisions"] for k, v in res.items() if v[f"c{hi}"]["decisions"]}
    lines.append(
        f"Errors: {errors or 'none'}; runs cut by the time bound: {truncated or 'none'}; the gateway's decisions at "
        f"c={hi}: {decided}. Raw figures: `bench/data/gateway.json`."
    )
    return "\n".join(lines)


def steal_note(data: dict[str, Any]) -> str:
    steal = data.get("steal_cpu_cores")
    return "" if steal is None else f", and the hypervisor took {steal:.2f} cores (steal time)"


def blocked_note(data: dict[str, Any]) -> str:
    blocked = data.get("blocked_prompts") or []
    if not blocked:
        return ""
    quoted = "; ".join(f"“{p}”" for p in blocked)
    return (
        f" (less {len(blocked)} that the default guard acts on, on input or on the stub's answer, false positives "
        f"left out so that (b) times the same path as (a): {quoted})"
    )


def verdicts(data: dict[str, Any], added: Any, rps_max: dict[str, float]) -> list[str]:
    res, hi = data["results"], max(data["levels"])
    out = []
    if "litellm" in res:
        for lv in (1, hi):
            a, b, c = (added(k, lv, "p50_ms") for k in ("a", "b", "litellm"))
            out.append(
                f"- c={lv}, added at p50: (a) {a:.2f} ms, (b) {b:.2f} ms, LiteLLM {c:.2f} ms: "
                f"LiteLLM adds {c / a:.1f}× as much as (a), {c / b:.1f}× as much as (b)."
            )
        ratio = rps_max["a"] / rps_max["litellm"]
        out.append(
            f"- Most req/s: (a) {rps_max['a']:.0f}, (b) {rps_max['b']:.0f}, LiteLLM {rps_max['litellm']:.0f}: "
            f"(a) serves {ratio:.2f}× LiteLLM's rate, (b) {rps_max['b'] / rps_max['litellm']:.2f}×."
        )
        faster = all(added("a", lv, "p50_ms") < added("litellm", lv, "p50_ms") for lv in (1, hi)) and ratio > 1
        out.append(
            f"- Goal (a) faster than LiteLLM (added p50 at c=1 and c={hi}, and most req/s): "
            f"{'met' if faster else 'not met'}."
        )
    spread = []
    for k in ("a", "b", "litellm"):
        if k in res:
            own, base = res[k]["c1"]["p50_ms_per_round"], res["direct"]["c1"]["p50_ms_per_round"]
            rounds = [p - b for p, b in zip(own, base, strict=True)]
            spread.append(f"{res[k]['label'].split(' ', 1)[0]} {min(rounds):.2f}–{max(rounds):.2f} ms")
    out.append(
        f"- Added p50 at c=1 round by round: {', '.join(spread)}. Absolute figures on this shared virtual machine "
        f"move between runs (other tenants, steal time); compare servers within one run, where the interleaved "
        f"rounds give each the same conditions."
    )
    if "a_keys" in res:
        gap = abs(added("a_keys", 1, "p50_ms") - added("a", 1, "p50_ms"))
        out.append(
            f"- Noise: (a) and (a) with an API key do the same work but one key lookup; their added p50 at c=1 "
            f"differ by {gap:.2f} ms in this run, a measure of this shared machine's noise."
        )
    b1 = added("b", 1, "p50_ms")
    out.append(f"- Goal (b) adds at most 3 ms at p50 (c=1): {b1:.2f} ms, {'met' if b1 <= 3.0 else 'not met'}.")
    return out


def breakdown(data: dict[str, Any]) -> list[str]:
    out = []
    if data.get("components"):
        out += [
            "The pieces of the request path beyond HTTP, each timed alone in one process on new texts (mean ms):",
            "",
            "| piece | ms |",
            "|---|---|",
        ]
        out += [f"| {k} | {v:.3f} |" for k, v in data["components"].items()]
        out.append("")
    if data.get("profile"):
        out += [*profile_table(data["profile"]), ""]
    if data.get("stages_ms_c1"):
        names = ["limits", "input_guard", "upstream", "output_guard", "total"]
        out += [
            "The gateways' own stage histograms (`/metrics`, mean ms during the timed runs at c=1; `output_guard` "
            "runs until the response and so includes the record: redaction and database write):",
            "",
            "| server | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(names),
        ]
        for k, st in data["stages_ms_c1"].items():
            out.append(
                f"| {data['results'][k]['label']} | "
                + " | ".join(f"{st.get(n, float('nan')):.3f}" for n in names)
                + " |"
            )
    return out


def profile_table(prof: dict[str, Any]) -> list[str]:
    """Share of (b)'s busy main-thread time per package under cProfile (idle epoll waits left out)."""
    levels = list(prof)
    shares = {}
    for lv, p in prof.items():
        busy = {g: t for g, t in p["own_ms_per_request_by_package"].items() if not g.startswith("idle")}
        total = sum(busy.values())
        shares[lv] = {g: t / total for g, t in busy.items()}
    groups = sorted({g for v in shares.values() for g in v}, key=lambda g: -shares[levels[-1]].get(g, 0.0))
    out = [
        "(b) under cProfile, timed phase only, share of the server's busy main-thread time by package (the "
        "profiler inflates small calls, so shares, not times):",
        "",
        "| package | " + " | ".join(f"share, {lv.replace('c', 'c=')}" for lv in levels) + " |",
        "|---|" + "---|" * len(levels),
    ]
    out += [f"| {g} | " + " | ".join(f"{shares[lv].get(g, 0.0):.0%}" for lv in levels) + " |" for g in groups]
    return out


# -- entry point --------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    servers = {"floor": serve_floor, "serve": serve_profiled}  # they run until stopped
    answers: dict[str, Callable[[argparse.Namespace], Any]] = {"passing": passing, "components": components}
    ap.add_argument("--worker", choices=[*servers, *answers], help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--prompts-file", help=argparse.SUPPRESS)
    ap.add_argument("--config", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--requests", type=int, default=1000, help="timed requests per server at each level above 1")
    ap.add_argument("--requests-c1", type=int, default=500, help="timed requests per server at concurrency 1")
    ap.add_argument("--levels", default="1,8,64", help="concurrency levels (1 and the highest are reported)")
    ap.add_argument("--rounds", type=int, default=4, help="interleaved rounds over all servers")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="time bound of one timed phase")
    ap.add_argument("--prompts", type=int, default=100, help="distinct benign prompts sent in turn")
    ap.add_argument("--skip-litellm", action="store_true", help="without LiteLLM (no bench/.venv-litellm)")
    ap.add_argument("--extras", action="store_true", help="also uvloop/httptools and store_text: false variants")
    ap.add_argument("--profile", action="store_true", help="also profile (b): components and cProfile")
    ap.add_argument("--only-profile", action="store_true", help="only the profile of (b), printed")
    ap.add_argument("--top", type=int, default=25, help="functions in the profile's top list")
    ap.add_argument("--write", action="store_true", help="write bench/RESULTS.md and bench/data/gateway.json")
    ap.add_argument("--render", action="store_true", help="only rewrite the RESULTS.md section from gateway.json")
    args = ap.parse_args()
    if args.worker in servers:
        servers[args.worker](args)
        return
    if args.worker is not None:
        print(json.dumps(answers[args.worker](args)))
        return
    if args.render:
        data = json.loads(DATA.read_text())
        write_section("gateway", render(data, data["command"]))
        return
    # Stop the servers on Ctrl+C or kill, even when started in the background (where SIGINT is ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if args.extras and not ((UVLOOP_DIR / "uvloop").is_dir() and (STANDARD_DIR / "httptools").is_dir()):
        sys.exit("--extras needs uvloop and httptools beside LiteLLM's virtualenv: see this script's docstring")
    if not args.skip_litellm and not (LITELLM_VENV / "bin" / "litellm").exists():
        sys.exit(
            f"LiteLLM missing: python -m venv {LITELLM_VENV} && {LITELLM_VENV}/bin/pip install 'litellm[proxy]' "
            "(or --skip-litellm)"
        )
    prompts, blocked = benign_prompts(args.prompts)
    top = max(int(x) for x in args.levels.split(","))
    if args.only_profile:  # a quick look at where (b)'s time goes, nothing written
        out = {
            "components": alignkit_worker("components", prompts, "--requests", "300"),
            **{f"c{lv}": profile(args, prompts, lv) for lv in (1, top)},
        }
        print(json.dumps(out, indent=1))
        return
    data = {**run(args, prompts), "blocked_prompts": blocked}
    if args.profile:
        data["components"] = alignkit_worker("components", prompts, "--requests", "300")
        data["profile"] = {f"c{lv}": profile(args, prompts, lv) for lv in (1, top)}
    command = "python " + " ".join(["bench/bench_gateway.py", *sys.argv[1:]])
    text = render(data, command)
    print(text)
    if args.profile:
        print(json.dumps(data["profile"], indent=1))
    if args.write:
        DATA.write_text(json.dumps({**data, "command": command}, indent=1) + "\n")
        write_section("gateway", text)


if __name__ == "__main__":
    main()
