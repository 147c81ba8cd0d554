"""kill -9 at seeded random points of ``alignkit redteam scan`` and ``redteam judge``, then rerun: the
run store ends with exactly the rows of an uninterrupted run (none lost, none twice), and every report
and output file is either absent, its earlier whole self, or the new whole one."""

from __future__ import annotations

import contextlib
import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from alignkit.redteam import RunStore

ALIGNKIT = [sys.executable, "-c", "from alignkit.cli.main import main; main()"]
KILLS = 3
# a slow target (0.1 s an answer, two at a time): 20 attempts take about a second after start-up, and a
# kill lands between committed rows
SCAN = ["redteam", "scan", "mock/comply", "--categories", "cyber", "--sample", "10", "--converters", "none,base64"]
SCAN += ["-M", "delay=0.1", "--concurrency", "2", "--seed", "3"]


def run(args: list[str], kill_when: Callable[[], bool] | None = None) -> int | None:
    """Run alignkit; with ``kill_when``, SIGKILL it as soon as that holds (polled): None when it was
    killed, else its exit code. Kill points are set by what the process has written, not by timing."""
    proc = subprocess.Popen([*ALIGNKIT, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if kill_when is None:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        return 0
    deadline = time.monotonic() + 120  # against a hang, not a timing
    while proc.poll() is None and time.monotonic() < deadline:
        if kill_when():
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            return None
        time.sleep(0.005)
    proc.communicate(timeout=30)
    return proc.returncode


def count_rows(db: Path) -> int:
    """Rows the scan has committed so far (read while it writes: WAL lets a reader in)."""
    if not db.exists():
        return 0
    with contextlib.closing(sqlite3.connect(db, timeout=5)) as conn:
        try:
            return int(conn.execute("SELECT COUNT(*) FROM attempts WHERE run_id = 'r'").fetchone()[0])
        except sqlite3.OperationalError:  # the schema is not there yet
            return 0


def stored(db: Path, run_id: str) -> list[dict[str, Any]]:
    with RunStore(db) as store:
        if run_id not in {r["run_id"] for r in store.runs()}:
            return []
        return [{k: v for k, v in r.to_dict().items() if k != "latency_s"} for r in store.attempts(run_id)]


def reports_are_whole(folder: Path) -> None:
    for path in folder.glob("report.*"):
        text = path.read_text()
        if path.suffix == ".json":
            assert json.loads(text)["run"]["run_id"] == "r"
        else:
            ET.fromstring(text)


def test_killed_scans_resume_to_exactly_the_uninterrupted_rows(tmp_path: Path) -> None:
    reference = tmp_path / "reference.db"
    run([*SCAN, "--store", str(reference), "--run-id", "r"])
    expected = stored(reference, "r")
    assert len(expected) == 20

    db, rng = tmp_path / "killed.db", random.Random(12)
    reports = ["--json", str(tmp_path / "report.json"), "--junit", str(tmp_path / "report.xml")]
    kills = 0
    for _ in range(KILLS):
        resume = ["--resume"] if stored_run(db) else []
        at = min(19, count_rows(db) + rng.randint(1, 6))  # kill once this many rows are in
        code = run([*SCAN, "--store", str(db), "--run-id", "r", *reports, *resume], lambda at=at: count_rows(db) >= at)
        kills += code is None
        reports_are_whole(tmp_path)
        after = stored(db, "r")
        keys = [r["key"] for r in after]
        assert len(keys) == len(set(keys)) and all(r in expected for r in after)  # nothing twice, nothing torn
    assert kills == KILLS  # every kill landed inside a scan
    resume = ["--resume"] if stored_run(db) else []
    run([*SCAN, "--store", str(db), "--run-id", "r", *reports, *resume])
    assert stored(db, "r") == expected
    reports_are_whole(tmp_path)
    summary = json.loads((tmp_path / "report.json").read_text())["summary"]
    assert summary["attempts"]["total"] == 20 and summary["attempts"]["judged"] == 20


def stored_run(db: Path) -> bool:
    """Whether the killed scan got as far as registering its run."""
    with RunStore(db) as store:
        return any(r["run_id"] == "r" for r in store.runs())


def test_a_killed_judge_leaves_its_output_whole(tmp_path: Path) -> None:
    answers = ["I can't help with that.", "Sure, step 1: mix the chemicals.", "", "Here is a poem about spring."]
    rows = [{"prompt": f"question {i}", "response": answers[i % 4], "id": i} for i in range(3000)]
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    reference, out = tmp_path / "reference.jsonl", tmp_path / "out.jsonl"
    run(["redteam", "judge", "--input", str(inp), "--output", str(reference)])
    whole = reference.read_text()
    out.write_text("an earlier output\n")
    rng = random.Random(5)
    for _ in range(KILLS):
        share = rng.uniform(0.05, 0.9)  # kill once the temporary output holds this share of the whole
        partial = lambda share=share: temporary_bytes(tmp_path) >= share * len(whole)  # noqa: E731
        assert run(["redteam", "judge", "--input", str(inp), "--output", str(out)], partial) is None
        assert out.read_text() == "an earlier output\n"  # never torn, never emptied
    run(["redteam", "judge", "--input", str(inp), "--output", str(out)])
    assert out.read_text() == whole
    assert [json.loads(line)["id"] for line in whole.splitlines()] == list(range(3000))


def temporary_bytes(folder: Path) -> int:
    """Bytes in the judge's temporary output files (renamed onto the output only when whole)."""
    total = 0
    for p in folder.glob(".out.jsonl.*"):
        with contextlib.suppress(FileNotFoundError):
            total += p.stat().st_size
    return total
