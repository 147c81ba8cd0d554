"""``alignkit rag``: index, ask, list, delete and eval, in process with mock models."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from alignkit.cli.main import cli
from tests.rag.conftest import COFFEE, TEA
from tests.rag.test_evaluate import write_data


def _corpus(tmp_path: Path) -> tuple[Path, str]:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "tea.md").write_text(f"# Tea\n\n{TEA}\n")
    (docs / "coffee.txt").write_text(COFFEE)
    (docs / "photo.jpg").write_bytes(b"\xff\xd8\xff\x00\x00")
    return docs, str(tmp_path / "kb.sqlite")


def test_index_reports_skips_and_is_a_no_op_the_second_time(tmp_path: Path) -> None:
    docs, store = _corpus(tmp_path)
    first = CliRunner().invoke(cli, ["rag", "index", str(docs), "--store", store])
    assert first.exit_code == 0, first.output
    assert "2 added, 0 replaced, 0 unchanged, 1 skipped" in first.stdout
    assert "photo.jpg: a binary file" in first.stderr
    again = CliRunner().invoke(cli, ["rag", "index", str(docs), "--store", store, "--json", "--strict"])
    assert again.exit_code == 1  # --strict: a skipped file fails the run
    row = json.loads(again.stdout)
    assert (row["added"], row["unchanged"], row["store"]["documents"]) == (0, 2, 2)
    (docs / "coffee.txt").unlink()
    pruned = CliRunner().invoke(cli, ["rag", "index", str(docs), "--store", store, "--prune"])
    assert "coffee.txt: no longer there" in pruned.stderr and "1 documents" in pruned.stdout


def test_ask_marks_each_claim_and_lists_the_sources(tmp_path: Path) -> None:
    docs, store = _corpus(tmp_path)
    CliRunner().invoke(cli, ["rag", "index", str(docs), "--store", store])
    text = "Green tea is steeped at 80 degrees for two minutes [1]. Green tea cures colds [1]. Tea is from Mars [5]."
    args = ["rag", "ask", "mock/fixed", "How is green tea steeped?", "--store", store, "-M", f"text={text}"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert any(line.strip().startswith("ok") and "80 degrees" in line for line in lines)
    assert any("UNSUPPORTED" in line and "cures colds" in line for line in lines)
    assert any("BAD CITATION" in line and "Mars" in line for line in lines)
    assert "NOT grounded" in res.stdout and "tea.md#chars=" in res.stdout
    failing = CliRunner().invoke(cli, [*args, "--fail-ungrounded", "--json"])
    assert failing.exit_code == 1
    row = json.loads(failing.stdout)
    assert [c["status"] for c in row["check"]["claims"]] == ["supported", "unsupported", "bad_citation"]


def test_ask_needs_an_existing_store(tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["rag", "ask", "mock/echo", "q", "--store", str(tmp_path / "none.sqlite")])
    assert res.exit_code == 1 and "alignkit rag index" in res.output
    assert not (tmp_path / "none.sqlite").exists()


def test_list_and_delete(tmp_path: Path) -> None:
    docs, store = _corpus(tmp_path)
    CliRunner().invoke(cli, ["rag", "index", str(docs), "--store", store])
    listed = CliRunner().invoke(cli, ["rag", "list", "--store", store])
    assert "tea.md  (Tea)" in listed.stdout and "2 documents" in listed.stderr
    gone = CliRunner().invoke(cli, ["rag", "delete", str(docs / "tea.md"), "--store", store])
    assert gone.exit_code == 0 and "1 document(s) removed" in gone.stdout
    missing = CliRunner().invoke(cli, ["rag", "delete", "nothing-here", "--store", store])
    assert missing.exit_code == 1 and "nothing in" in missing.output


def test_eval_on_both_datasets(tmp_path: Path) -> None:
    root = write_data(tmp_path / "data")
    out = tmp_path / "rows.jsonl"
    args = ["rag", "eval", "mock/echo", "--dataset", "pubmedqa", "--data", str(root), "--output", str(out)]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert [r["retrieval"] for r in summary["results"]] == ["bm25", "off"]
    assert summary["results"][0]["counts"]["hit"] == 3
    assert len(out.read_text().splitlines()) == 6  # one row per question and mode
    halu = CliRunner().invoke(cli, ["rag", "eval", "mock/echo", "--dataset", "halueval", "--data", str(root)])
    assert halu.exit_code == 0, halu.output
    assert json.loads(halu.stdout)["results"][0]["auroc_weakest_support"] == 1.0
    nodata = CliRunner().invoke(cli, ["rag", "eval", "mock/echo", "--dataset", "halueval", "--data", str(tmp_path)])
    assert nodata.exit_code == 1 and "halueval/qa_one-turn_data.json" in nodata.output
