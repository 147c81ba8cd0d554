from __future__ import annotations

import json
from pathlib import Path

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
    # what was scored before the bad line is on disk, not lost
    assert [r["text"] for r in read_json_lines(tmp_path / "o.jsonl")] == ["a"]


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
