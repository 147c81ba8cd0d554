"""Crash suite: ``kill -9`` at seeded random points of ``alignkit detect`` and ``alignkit cai revise``
(real subprocesses), then a rerun (``--resume`` for detect; revise always resumes). The outputs must be
whole: every line parses, nothing is duplicated, nothing is lost, byte for byte the output of a run that
was never interrupted. (The red-team scan and ``redteam judge`` have their own crash tests.)"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from alignkit.cli.main import cli

SEED = 12
ALIGNKIT = [sys.executable, "-c", "from alignkit.cli.main import main; main()"]
HANG_S = 60.0  # a run that takes longer than this is stuck, not slow


def run_in_process(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def kill_at(args: list[str], watched: list[Path], size: int, cwd: Path) -> bool:
    """Start ``alignkit ARGS`` and SIGKILL it once the files in ``watched`` hold ``size`` bytes (0: as
    soon as it starts); returns whether it was killed (False: it finished first)."""
    proc = subprocess.Popen([*ALIGNKIT, *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + HANG_S
    try:
        while proc.poll() is None:
            written = sum(p.stat().st_size for p in watched if p.exists())
            if written >= size:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                return True
            assert time.monotonic() < deadline, f"alignkit {' '.join(args)} hung"
            time.sleep(0.002)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    return False


def assert_whole(path: Path, reference: bytes, key: str) -> None:
    """``path`` parses line by line, holds no record twice, and equals the uninterrupted ``reference``."""
    data = path.read_bytes()
    rows = [json.loads(line) for line in data.decode("utf-8").split("\n") if line]
    keys = [r[key] for r in rows]
    assert len(keys) == len(set(keys)), f"{path.name}: a record written twice"
    expected = len(reference.splitlines())
    assert data == reference, f"{path.name}: {len(rows)} rows, not the {expected} of a whole run"


def test_detect_killed_at_random_points_resumes_to_the_whole_output(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    src = tmp_path / "in.jsonl"
    src.write_text(
        "".join(
            json.dumps({"id": i, "text": f"row {i}: mail a{i}@example.com or call 415-555-{i % 10_000:04d}. " * 3})
            + "\n"
            for i in range(2000)
        )
    )
    reference = tmp_path / "reference.jsonl"
    run_in_process("detect", "pii", "--input", str(src), "--output", str(reference))
    whole = reference.read_bytes()
    kills = 0
    for attempt in range(3):
        out = tmp_path / f"out{attempt}.jsonl"
        out.write_text("an earlier output, to be replaced only by a whole one\n")
        part = tmp_path / f"out{attempt}.jsonl.part"
        args = ["detect", "pii", "--input", str(src), "--output", str(out)]
        for resume in ([], ["--resume"]):  # killed once, then killed again while resuming
            kills += kill_at([*args, *resume], [part], rng.randint(0, int(len(whole) * 1.05)), tmp_path)
            if out.read_bytes() != whole:
                assert out.read_text() == "an earlier output, to be replaced only by a whole one\n"
        run_in_process(*args, "--resume")
        assert_whole(out, whole, "id")
        assert not part.exists()
    assert kills >= 3  # the seeded points do interrupt runs


def test_cai_revise_killed_at_random_points_resumes_to_the_whole_run(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("".join(f"question {i}: how do I open lock number {i}?\n" for i in range(120)))
    args = ["mock/echo", "-M", "delay=0.005", "--prompts", str(prompts), "--few-shot", "0", "--batch-size", "4"]
    reference = tmp_path / "reference"
    run_in_process("cai", "revise", *args, "--out", str(reference))
    sft, trace = (reference / "sft.jsonl").read_bytes(), (reference / "trace.jsonl").read_bytes()
    kills = 0
    for attempt in range(2):
        out = tmp_path / f"run{attempt}"
        files = [out / "sft.jsonl", out / "trace.jsonl"]
        for _ in range(2):  # killed, then killed again while resuming
            point = rng.randint(0, int((len(sft) + len(trace)) * 1.05))
            kills += kill_at(["cai", "revise", *args, "--out", str(out)], files, point, tmp_path)
        run_in_process("cai", "revise", *args, "--out", str(out))
        assert_whole(out / "sft.jsonl", sft, "id")
        assert_whole(out / "trace.jsonl", trace, "key")
    assert kills >= 2
