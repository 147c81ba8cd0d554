from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from alignkit.cli.main import cli
from tests.conftest import read_json_lines

SPEC = """
output:
  - {validator: banned_words, words: [darn], on_fail: fix}
  - {validator: valid_length, max: 40, on_fail: noop}
"""


def test_guard_check_passes_and_fails_with_exit_codes(tmp_path: Path) -> None:
    spec = tmp_path / "g.yaml"
    spec.write_text(SPEC)
    ok = CliRunner().invoke(cli, ["guard", "check", str(spec), "--text", "fine words"])
    assert ok.exit_code == 0 and "PASS" in ok.output
    bad = CliRunner().invoke(cli, ["guard", "check", str(spec), "--text", "oh darn", "--json"])
    assert bad.exit_code == 1
    row = json.loads(bad.stdout.splitlines()[0])
    assert row["final"] == "oh ****" and row["passed"] is False
    assert row["verdicts"][0]["spans"] == [{"start": 3, "end": 7, "label": "BANNED"}]


def test_guard_check_needs_text_and_a_valid_spec(tmp_path: Path) -> None:
    spec = tmp_path / "g.yaml"
    spec.write_text(SPEC)
    assert CliRunner().invoke(cli, ["guard", "check", str(spec)]).exit_code == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("output: [{validator: toxicty}]\n")
    out = CliRunner().invoke(cli, ["guard", "check", str(bad), "--text", "x"])
    assert out.exit_code == 1 and "unknown detector 'toxicty'" in out.output
    assert f"{bad}:1: output[0].validator" in " ".join(out.output.split())  # file, line and field


def test_detect_scores_every_line_and_keeps_the_fields(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(
        "\n".join(
            json.dumps({"id": i, "answer": t})
            for i, t in enumerate(["I'm sorry, but I can't help with that.", "Sure, here you go.", ""])
        )
        + "\n"
    )
    out = tmp_path / "out.jsonl"
    res = CliRunner().invoke(cli, ["detect", "refusal", "--input", str(src), "--output", str(out), "--field", "answer"])
    assert res.exit_code == 0, res.output
    rows = read_json_lines(out)
    assert [r["id"] for r in rows] == [0, 1, 2]
    assert [r["flagged"] for r in rows] == [True, False, False]
    assert rows[0]["score"] > 0.9 and rows[2]["label"] == "empty"
    assert "1 of 3 lines flagged" in res.stderr


def test_detect_reports_a_missing_field_with_its_line(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "a"}\n{"other": "b"}\n')
    res = CliRunner().invoke(cli, ["detect", "refusal", "--input", str(src), "--output", str(tmp_path / "o.jsonl")])
    assert res.exit_code == 1 and "in.jsonl:2: no field 'text'" in res.output
    # what was scored before the bad line is on disk, not lost; the output itself is written only whole
    assert [r["text"] for r in read_json_lines(tmp_path / "o.jsonl.part")] == ["a"]
    assert not (tmp_path / "o.jsonl").exists() and "--resume" in res.output


def test_detect_passes_detector_arguments(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "no competitors here"}\n{"text": "try AcmeCorp instead"}\n')
    out = tmp_path / "o.jsonl"
    res = CliRunner().invoke(
        cli, ["detect", "competitors", "--input", str(src), "--output", str(out), "-A", 'words=["AcmeCorp"]']
    )
    assert res.exit_code == 0, res.output
    assert [r["flagged"] for r in read_json_lines(out)] == [False, True]
    assert read_json_lines(out)[1]["spans"] == [{"start": 4, "end": 12, "label": "COMPETITOR"}]


def detect(*args: str) -> Any:
    return CliRunner().invoke(cli, ["detect", *args])


def test_detect_refuses_to_write_over_its_input_by_any_name(tmp_path: Path) -> None:
    src = tmp_path / "a.jsonl"
    src.write_text('{"text": "a"}\n{"text": "b"}\n{"text": "c"}\n')
    (tmp_path / "link.jsonl").symlink_to(src)
    before = src.read_bytes()
    for out in (src, tmp_path / "link.jsonl", tmp_path / "." / "a.jsonl"):
        res = detect("pii", "--input", str(src), "--output", str(out))
        assert res.exit_code == 1 and "is the input file" in res.output
    assert src.read_bytes() == before


def test_detect_keeps_an_existing_output_and_resumes_after_a_bad_line(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    lines = [json.dumps({"id": i, "text": f"row {i} mail me at a{i}@example.com"}) for i in range(600)]
    src.write_text("\n".join([*lines[:400], "{broken", *lines[401:]]) + "\n")
    out.write_text("previous results\n")
    res = detect("pii", "--input", str(src), "--output", str(out))
    assert res.exit_code == 1 and "in.jsonl:401: not valid JSON" in res.output and "untouched" in res.output
    assert out.read_text() == "previous results\n"  # the old output is not wiped
    assert [r["id"] for r in read_json_lines(tmp_path / "out.jsonl.part")] == list(range(400))  # nor work lost
    again = detect("pii", "--input", str(src), "--output", str(out))
    assert again.exit_code == 1 and "--resume" in again.output  # a stale .part is never silently replaced
    src.write_text("\n".join(lines) + "\n")
    done = detect("pii", "--input", str(src), "--output", str(out), "--resume")
    assert done.exit_code == 0, done.output
    assert "resuming after 400 lines" in done.output and "600 of 600 lines flagged" in done.output
    assert [r["id"] for r in read_json_lines(out)] == list(range(600))
    assert not (tmp_path / "out.jsonl.part").exists()


def test_detect_resume_repairs_a_torn_line_and_refuses_a_changed_input(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in ("a", "b", "c")))
    assert detect("secrets", "--input", str(src), "--output", str(out)).exit_code == 0
    whole = out.read_text()
    part = tmp_path / "out.jsonl.part"
    part.write_text(whole.splitlines(keepends=True)[0] + whole.splitlines()[1][:9])  # killed mid-line
    res = detect("secrets", "--input", str(src), "--output", str(out), "--resume")
    assert res.exit_code == 0 and "cut off by an interrupted run" in res.output
    assert out.read_text() == whole
    part.write_text(json.dumps({"text": "not a", "flagged": False}) + "\n")
    res = detect("secrets", "--input", str(src), "--output", str(out), "--resume")
    assert res.exit_code == 1 and "out.jsonl.part:1 is not the scored" in res.output and "in.jsonl:1" in res.output
    assert out.read_text() == whole


def test_detect_keeps_field_types_and_refuses_non_text(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text(json.dumps({"text": "hi", "n": 12345, "z": None, "l": [1, {"a": None}], "f": 1.5}) + "\n")
    assert detect("pii", "--input", str(src), "--output", str(out)).exit_code == 0
    row = read_json_lines(out)[0]
    assert {k: row[k] for k in ("text", "n", "z", "l", "f")} == {"text": "hi", "n": 12345, "z": None,
                                                                  "l": [1, {"a": None}], "f": 1.5}  # fmt: skip
    for value, kind in ((12345, "a number"), (None, "null"), (["a"], "a list"), ({"a": 1}, "an object")):
        src.write_text(json.dumps({"text": "fine"}) + "\n" + json.dumps({"text": value}) + "\n")
        res = detect("pii", "--input", str(src), "--output", str(out))
        assert res.exit_code == 1 and f"in.jsonl:2: field 'text' is {kind}, not text" in res.output
        assert read_json_lines(out) == [row]  # the previous output is untouched
        (tmp_path / "out.jsonl.part").unlink()


def test_detect_names_the_line_and_byte_of_non_utf8_input(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"text": "ok"}\n{"text": "caf\xe9"}\n')
    res = detect("pii", "--input", str(src), "--output", str(tmp_path / "o.jsonl"))
    assert res.exit_code == 1 and "in.jsonl:2: not UTF-8 (byte 0xe9 at byte 28" in res.output
    assert "re-encode" in res.output and "Traceback" not in res.output


def test_detect_on_a_scored_file_replaces_the_old_verdict(tmp_path: Path) -> None:
    src, first, second = tmp_path / "in.jsonl", tmp_path / "pii.jsonl", tmp_path / "secrets.jsonl"
    src.write_text(json.dumps({"id": 1, "text": "mail ann@example.com"}) + "\n")
    assert detect("pii", "--input", str(src), "--output", str(first)).exit_code == 0
    assert read_json_lines(first)[0]["spans"]
    assert detect("secrets", "--input", str(first), "--output", str(second)).exit_code == 0
    row = read_json_lines(second)[0]
    assert row["flagged"] is False and "spans" not in row and "categories" not in row and row["id"] == 1
