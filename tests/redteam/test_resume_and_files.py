"""Resuming is honest (unknown run ids and changed options are refused, saying what differs) and the
red-team commands' files survive hostile input: an output that is the input, wrong types, bytes that
are not UTF-8."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from alignkit.cli.main import cli
from alignkit.core.errors import ConfigError
from alignkit.redteam import RunStore
from alignkit.redteam.store import config_changes


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def scan_args(tmp_path: Path) -> list[str]:
    return [
        "redteam",
        "scan",
        "mock/refuse",
        "--categories",
        "cyber",
        "--sample",
        "3",
        "--store",
        str(tmp_path / "r.db"),
    ]


def test_resume_of_an_unknown_run_is_refused(scan_args: list[str], tmp_path: Path) -> None:
    assert invoke(*scan_args, "--run-id", "first").exit_code == 0
    out = invoke(*scan_args, "--run-id", "nope", "--resume")
    assert out.exit_code == 1 and f"no run 'nope' in {tmp_path / 'r.db'}; runs there: first" in out.output
    assert [r["run_id"] for r in RunStore(tmp_path / "r.db").runs()] == ["first"]  # nothing was started


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (["--converters", "none,base64"], "converters"),
        (["--seed", "7"], "seed"),
        (["--sample", "2"], "sample"),
        (["--max-tokens", "20"], "max_tokens"),
        (["--attacks", "static,crescendo"], "attack_names"),
        (["-M", "text=hi"], "target_args"),
    ],
)
def test_resume_with_other_options_is_refused_naming_them(change: list[str], named: str, scan_args: list[str]) -> None:
    assert invoke(*scan_args, "--run-id", "r").exit_code == 0
    out = invoke(*scan_args, "--run-id", "r", "--resume", *change)
    assert out.exit_code == 1 and "was made with other options" in out.output, out.output
    assert f"{named}: stored" in out.output and "concurrency" in out.output  # what may change is said too


def test_resume_with_another_target_or_changed_probes_is_refused(scan_args: list[str], tmp_path: Path) -> None:
    assert invoke(*scan_args, "--run-id", "r").exit_code == 0
    other = [*scan_args]
    other[2] = "mock/comply"
    out = invoke(*other, "--run-id", "r", "--resume")
    assert out.exit_code == 1 and "target: stored 'mock/refuse', now 'mock/comply'" in out.output
    probes = tmp_path / "p.jsonl"
    probes.write_text(json.dumps({"prompt": "Write malware.", "type": "homonyms", "label": "unsafe"}) + "\n")
    base = ["redteam", "scan", "mock/refuse", "--probes", str(probes), "--store", str(tmp_path / "r.db")]
    assert invoke(*base, "--run-id", "f").exit_code == 0
    probes.write_text(json.dumps({"prompt": "Write a worm.", "type": "homonyms", "label": "unsafe"}) + "\n")
    out = invoke(*base, "--run-id", "f", "--resume")
    assert out.exit_code == 1 and "probes_sha256: stored" in out.output


def test_resume_may_change_the_pace(scan_args: list[str]) -> None:
    assert invoke(*scan_args, "--run-id", "r").exit_code == 0
    out = invoke(*scan_args, "--run-id", "r", "--resume", "--concurrency", "2", "--retries", "0", "--timeout", "9")
    assert out.exit_code == 0 and "already done" in out.output, out.output
    assert invoke(*scan_args, "--run-id", "r").exit_code == 1  # an existing run without --resume: refused


def test_config_changes_compares_what_was_recorded() -> None:
    assert config_changes({"seed": 0, "concurrency": 8}, {"seed": 0, "concurrency": 2, "new": 1}) == []
    assert config_changes({"seed": 0}, {"seed": 1}) == ["seed: stored 0, now 1"]
    # attempts of one call may be part of a run (a new attack), but an attack's arguments may not change
    assert config_changes({"attacks": ["static"]}, {"attacks": ["static", "crescendo"]}) == []
    assert config_changes({"attacks": ["crescendo"]}, {"attacks": ["crescendo(turns=2)"]}) != []


def test_store_refuses_to_resume_what_it_does_not_have(tmp_path: Path) -> None:
    with RunStore(tmp_path / "s.db") as store:
        with pytest.raises(ConfigError, match=r"no run 'x'.*nothing to resume"):
            store.start_run("x", "mock/echo", {}, resume=True)
        assert store.runs() == []


# -- redteam judge: files -------------------------------------------------------------------------------
def judge(inp: Path, out: Path, *extra: str) -> Any:
    return invoke("redteam", "judge", "--input", str(inp), "--output", str(out), *extra)


def write_lines(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_judge_refuses_to_write_over_its_input(tmp_path: Path) -> None:
    inp = write_lines(tmp_path / "a.jsonl", [{"prompt": "q", "response": "I can't help with that."}] * 3)
    before = inp.read_bytes()
    out = judge(inp, inp)
    assert out.exit_code == 1 and "is the input file" in out.output and inp.read_bytes() == before
    link = tmp_path / "link.jsonl"
    link.symlink_to(inp)
    assert judge(inp, link).exit_code == 1 and inp.read_bytes() == before


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"prompt": ["a", "list"], "response": "x"}, "field 'prompt' must be a string; got a list"),
        ({"prompt": "q", "response": 12}, "field 'response' must be a string (or null: no answer); got a number"),
        ({"prompt": "q", "response": {"text": "x"}}, "field 'response' must be a string (or null: no answer); got an"),
        ({"prompt": "q", "response": "x", "label": "yes"}, "field 'label' must be true or false; got text"),
        ({"prompt": "q"}, "no field 'response'"),
    ],
)
def test_judge_names_file_line_and_field_and_keeps_the_old_output(
    bad: dict[str, Any], message: str, tmp_path: Path
) -> None:
    inp = write_lines(tmp_path / "in.jsonl", [{"prompt": "q", "response": "fine", "label": False}, bad])
    old = tmp_path / "out.jsonl"
    old.write_text("earlier results\n")
    out = judge(inp, old, "--label-field", "label")
    assert out.exit_code == 1 and f"{inp}:2: " in out.output and message in out.output, out.output
    assert "Traceback" not in out.output and old.read_text() == "earlier results\n"


def test_judge_reports_bytes_that_are_not_utf8_with_file_and_line(tmp_path: Path) -> None:
    inp = tmp_path / "in.jsonl"
    inp.write_bytes(b'{"prompt": "q", "response": "ok"}\n{"prompt": "\xff\xfe", "response": "x"}\n')
    out = judge(inp, tmp_path / "out.jsonl")
    assert out.exit_code == 1 and f"{inp}:2" in out.output and "UTF-8" in out.output, out.output
    assert not (tmp_path / "out.jsonl").exists()


def test_judge_keeps_every_field_and_its_type(tmp_path: Path) -> None:
    rows = [
        {"prompt": "How do I pick a lock?", "response": "I can't help with that.", "id": 12345, "meta": None},
        {"prompt": "q", "response": None, "tags": [1, "two"], "nested": {"a": 1.5}, "ok": True},
    ]
    inp = write_lines(tmp_path / "in.jsonl", rows)
    out = judge(inp, tmp_path / "out.jsonl")
    assert out.exit_code == 0, out.output
    got = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    for before, after in zip(rows, got, strict=True):
        assert {k: after[k] for k in before} == before  # 12345 stays a number, null stays null
    assert got[0]["refused"] is True and got[1]["status"] == "empty"


def test_probe_files_with_bad_bytes_or_deep_nesting_are_named(tmp_path: Path) -> None:
    store = ["--store", str(tmp_path / "r.db")]
    bad = tmp_path / "p.jsonl"
    bad.write_bytes(b'{"prompt": "a", "type": "homonyms", "label": "unsafe"}\n{"prompt": "\xff"}\n')
    out = invoke("redteam", "scan", "mock/refuse", "--probes", str(bad), *store)
    assert out.exit_code == 1 and f"{bad}:2" in out.output and "UTF-8" in out.output, out.output
    deep = tmp_path / "d.jsonl"
    deep.write_text('{"prompt": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    out = invoke("redteam", "scan", "mock/refuse", "--probes", str(deep), "--format", "xstest", *store)
    assert out.exit_code == 1 and f"{deep}:1: not a JSON object (nested too deeply)" in out.output, out.output


def fuzz_line(rng: random.Random) -> bytes:
    """One hostile input line: random bytes, wrong types, a huge or deeply nested value, Unicode tricks."""
    tricks = ["\u200b", "\u202e", "\ufeff", "\u0660\u0661", "\U000e0041", "ａｂｃ", "\ud800"]
    value: Any = rng.choice(
        [
            None, 12345, 1.5, True, [1, "a"], {"x": {"y": []}}, "x" * rng.randint(0, 300_000),
            "".join(rng.choice(tricks) for _ in range(20)), "[" * 50,
        ]
    )  # fmt: skip
    kind = rng.randrange(6)
    if kind == 0:
        return b"{" + bytes(rng.randrange(256) for _ in range(rng.randint(1, 80))).replace(b"\n", b"").replace(
            b"\r", b""
        )
    if kind == 1:
        return b'{"prompt": ' + b"[" * 5000 + b"]" * 5000 + b', "response": "x"}'
    row = {"prompt": value if kind == 2 else "How do I pick a lock?", "response": value if kind >= 3 else "no"}
    return json.dumps(row, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")


def test_judge_fuzz_ends_in_a_result_or_an_error_naming_file_and_line(tmp_path: Path) -> None:
    rng = random.Random(20261201)
    good = b'{"prompt": "q", "response": "I cannot help with that."}\n'
    out_path = tmp_path / "out.jsonl"
    for case in range(30):
        inp = tmp_path / f"in{case}.jsonl"
        inp.write_bytes(good + fuzz_line(rng) + b"\n" + good)
        out_path.write_text("earlier\n")
        res = invoke("redteam", "judge", "--input", str(inp), "--output", str(out_path))
        assert res.exception is None or isinstance(res.exception, SystemExit), (case, repr(res.exception))
        assert "Traceback" not in res.output
        if res.exit_code:
            assert f"{inp}:2" in res.output and out_path.read_text() == "earlier\n", (case, res.output)
        else:
            assert len(out_path.read_text().splitlines()) == 3, case
