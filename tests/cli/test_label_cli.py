"""``alignkit label``: add, serve (server replaced in-process), export and stats, with mock models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from alignkit.cli.main import cli
from alignkit.rlhf.data import load_preferences
from alignkit.rlhf.labelling import LabelStore


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def pairs_file(tmp_path: Path) -> Path:
    path = tmp_path / "pairs.jsonl"
    rows = [{"prompt": f"q{n}", "response_a": f"first {n}", "response_b": f"second {n}"} for n in range(3)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[tuple[dict[str, Any], str, int]]:
    """Stands in for uvicorn: asks the app for its stats (the store is open only while serving)."""
    from fastapi.testclient import TestClient

    calls: list[tuple[dict[str, Any], str, int]] = []

    def fake_server(app: Any, host: str, port: int) -> None:
        stats = TestClient(app, base_url="http://127.0.0.1").get("/api/stats", headers={"Authorization": "x"})
        calls.append((stats.json(), host, port))

    monkeypatch.setattr("alignkit.cli.label.run_server", fake_server)
    return calls


def test_serve_imports_pairs_and_serves_them(
    tmp_path: Path, pairs_file: Path, served: list[tuple[dict[str, Any], str, int]]
) -> None:
    db = tmp_path / "l.sqlite"
    out = run("label", "serve", str(db), "--pairs", str(pairs_file), "--port", "8123")
    assert out.exit_code == 0, out.output
    assert f"{pairs_file}: 3 items added" in out.stderr and "http://127.0.0.1:8123/ " in out.stderr
    stats, host, port = served[0]
    assert (host, port) == ("127.0.0.1", 8123) and stats["items"] == 3
    # Served again: the same file adds nothing, the token is made up and printed in the URL fragment.
    out = run("label", "serve", str(db), "--pairs", str(pairs_file), "--token", "auto")
    assert "3 already there" in out.stderr and "/#token=" in out.stderr
    assert "access token" in served[1][0]["detail"]  # the made-up token is enforced


def test_serve_generates_answers_from_models(tmp_path: Path, served: list[tuple[dict[str, Any], str, int]]) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("hello\nworld\n")
    db = tmp_path / "g.sqlite"
    args = ["label", "serve", str(db), "--prompts", str(prompts), "--model-a", "mock/echo"]
    out = run(*args, "--model-b", "mock/fixed", "-M", "text=fixed answer")
    assert out.exit_code == 0, out.output
    with LabelStore(db) as store:
        assert {(i.answer_a, i.answer_b, i.model_b) for i in store.items()} == {
            ("hello", "fixed answer", "mock/fixed"),
            ("world", "fixed answer", "mock/fixed"),
        }
    out = run(*args, "--temperature", "0")
    assert out.exit_code == 1 and "temperature above 0" in out.output


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--host", "0.0.0.0"], "--token"),
        (["--model-a", "mock/echo"], "--prompts FILE"),
        ([], "holds no items"),
    ],
)
def test_serve_refuses_unsafe_or_empty_setups(
    tmp_path: Path, served: list[tuple[dict[str, Any], str, int]], extra: list[str], message: str
) -> None:
    out = run("label", "serve", str(tmp_path / "e.sqlite"), *extra)
    assert out.exit_code == 1 and message in out.output and not served


def test_add_export_and_stats(tmp_path: Path, pairs_file: Path) -> None:
    db = tmp_path / "s.sqlite"
    assert run("label", "add", str(db), "--pairs", str(pairs_file)).exit_code == 0
    with LabelStore(db) as store:
        items = store.items()
        for who, choices in [("alice", ["a", "b", "tie"]), ("bob", ["a", "a", "skip"])]:
            for it, choice in zip(items, choices, strict=True):
                store.record_label(it.id, who, choice)
    out_file = tmp_path / "prefs.jsonl"
    out = run("label", "export", str(db), "--out", str(out_file))
    assert out.exit_code == 0 and "wrote 3 preference pairs (2 ties)" in out.stderr
    loaded, _ = load_preferences(out_file)
    assert (loaded[0].chosen, loaded[0].tie) == ("first 0", False)
    out = run("label", "export", str(db), "--out", str(out_file), "--mode", "each", "--no-ties")
    assert "wrote 4 preference pairs (0 ties)" in out.stderr
    out = run("label", "stats", str(db))
    assert out.exit_code == 0 and "alice / bob" in out.stdout and "Fleiss' kappa" in out.stdout
    figures = json.loads(run("label", "stats", str(db), "--json").stdout)
    assert figures["agreement"]["pairs"][0]["items"] == 2 and figures["agreement"]["pairs"][0]["percent"] == 0.5
    assert run("label", "add", str(db)).exit_code == 1


def test_export_refuses_its_own_db_and_keeps_an_old_output_on_error(tmp_path: Path, pairs_file: Path) -> None:
    db = tmp_path / "s.sqlite"
    assert run("label", "add", str(db), "--pairs", str(pairs_file)).exit_code == 0
    before = db.read_bytes()
    out = run("label", "export", str(db), "--out", str(db))
    assert out.exit_code == 1 and "is the input file" in out.output and db.read_bytes() == before
    not_a_db, old = tmp_path / "junk.sqlite", tmp_path / "prefs.jsonl"
    not_a_db.write_text("not sqlite")
    old.write_text("earlier export\n")
    out = run("label", "export", str(not_a_db), "--out", str(old))
    assert out.exit_code == 1 and "not a usable label store" in out.output
    assert old.read_text() == "earlier export\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"prompt": "q", "response_a": "a", "response_b": "b"}\n{"prompt": "q\xe9"}\n', "pairs.jsonl:2: not UTF-8"),
        (b'{"prompt": "q", "response_a": ["a"], "response_b": "b"}\n', "pairs.jsonl:1: field 'response_a' is a list"),
        (b'{"prompt": null, "response_a": "a", "response_b": "b"}\n', "pairs.jsonl:1: field 'prompt' is null"),
        (b'{"prompt": "q", "chosen": 5, "rejected": "b"}\n', "pairs.jsonl:1: not a valid preference pair: chosen"),
    ],
)
def test_add_names_file_line_and_field_and_adds_nothing_from_a_bad_file(
    tmp_path: Path, pairs_file: Path, content: bytes, message: str
) -> None:
    db = tmp_path / "s.sqlite"
    assert run("label", "add", str(db), "--pairs", str(pairs_file)).exit_code == 0
    pairs_file.write_bytes(content)
    out = CliRunner().invoke(cli, ["label", "add", str(db), "--pairs", str(pairs_file)])
    assert out.exit_code == 1 and message in out.output and "Traceback" not in out.output
    with LabelStore(db) as store:
        assert store.count_items() == 3
