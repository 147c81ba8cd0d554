"""Helpers shared by the benchmarks: the data folder, machine description, and RESULTS.md sections."""

from __future__ import annotations

import json
import os
import platform
import re
import resource
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "RESULTS.md"


def data_dir() -> Path:
    """The public datasets: $ALIGNKIT_DATA, else ../shared/data beside the repository."""
    return Path(os.environ.get("ALIGNKIT_DATA", REPO.parent / "shared" / "data"))


def benign_instructions(n: int) -> list[str]:
    """The first ``n`` self-contained instructions of self-instruct's seed tasks (read, not copied)."""
    path = data_dir() / "self-instruct-benign" / "seed_tasks.jsonl"
    if not path.exists():
        sys.exit(f"benchmark data missing: {path} (set ALIGNKIT_DATA to the shared data folder)")
    out = []
    for line in path.read_text().splitlines():
        task = json.loads(line)
        if all(not inst["input"] for inst in task["instances"]):
            out.append(task["instruction"])
        if len(out) == n:
            break
    return out


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, Python {platform.python_version()}"


def run_worker(script: Path, args: list[str], env: dict[str, str] | None = None, python: str | None = None) -> Any:
    """Run ``script --worker ...`` in a fresh process (clean memory and timing) and return its JSON."""
    proc = subprocess.run(
        [python or sys.executable, str(script), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"worker {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def write_section(name: str, body: str, path: Path = RESULTS) -> None:
    """Replace (or append) the section between ``<!-- bench:NAME -->`` markers in RESULTS.md."""
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    block = f"{start}\n{body.rstrip()}\n{end}"
    text = (
        path.read_text()
        if path.exists()
        else "# Benchmark results\n\nEach section: the command, machine and date that produced it.\n"
    )
    if start in text and end in text:
        text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)  # atomic: an error never leaves a half-written RESULTS.md


def stamp(command: str) -> str:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"Command: `{command}`  \nMachine: {machine()}  \nDate: {now}\n"
