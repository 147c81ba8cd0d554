"""Loading documents: text, Markdown, PDF text and JSONL, with every file not read reported."""

from __future__ import annotations

import builtins
import json
from pathlib import Path
from typing import Any

import pytest

from alignkit.core.errors import ConfigError, MissingDependencyError
from alignkit.rag import LoadOptions, load_paths
from tests.rag.conftest import write_pdf


def test_text_and_markdown_files_are_read_whole_with_absolute_uris(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("\ufeffPlain text.\r\nSecond line.")
    (tmp_path / "guide.md").write_text("Intro\n\n# The Guide\n\nBody.")
    loaded = load_paths([tmp_path])
    by_name = {Path(d.uri).name: d for d in loaded.documents}
    assert by_name["a.txt"].text == "Plain text.\r\nSecond line."  # BOM dropped, line ends kept (offsets hold)
    assert by_name["a.txt"].kind == "text" and by_name["a.txt"].title == "a"
    assert by_name["guide.md"].kind == "markdown" and by_name["guide.md"].title == "The Guide"
    assert by_name["guide.md"].uri == (tmp_path / "guide.md").resolve().as_posix()
    assert loaded.skipped == []


def test_binary_non_utf8_oversize_and_hidden_files_are_reported_not_read(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_text("fine")
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (tmp_path / "latin.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "big.txt").write_text("x" * 2000)
    (tmp_path / ".secret").write_text("hidden")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref")
    loaded = load_paths([tmp_path], LoadOptions(max_file_bytes=1000))
    assert [Path(d.uri).name for d in loaded.documents] == ["ok.txt"]
    reasons = {Path(s.path).name: s.reason for s in loaded.skipped}
    assert "binary" in reasons["image.png"]
    assert "not UTF-8" in reasons["latin.txt"] and "0xe9" in reasons["latin.txt"]
    assert "over 1,000 bytes" in reasons["big.txt"]
    assert "hidden file" in reasons[".secret"] and "hidden folder" in reasons[".git"]
    assert "HEAD" not in reasons  # inside the hidden folder: the folder is reported once


def test_a_missing_path_is_an_error_before_anything_is_read(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file or folder"):
        load_paths([tmp_path / "nope.txt"])


def test_jsonl_records_take_their_fields_and_bad_lines_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "faq.jsonl"
    rows: list[Any] = [
        {"qid": "a/1", "answer": "Returns are free for 30 days.", "heading": "Returns"},
        {"qid": 2, "answer": "Shipping takes two days."},
        {"qid": 3, "answer": 42},
        {"qid": 4},
        {"qid": 2, "answer": "A repeated id."},
        {"answer": "No id: the line number names it."},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n\n")
    opts = LoadOptions(text_field="answer", id_field="qid", title_field="heading")
    loaded = load_paths([path], opts)
    base = path.resolve().as_posix()
    assert [d.uri for d in loaded.documents] == [f"{base}#id=a%2F1", f"{base}#id=2", f"{base}#id=line6"]
    assert loaded.documents[0].title == "Returns" and loaded.documents[0].kind == "jsonl"
    reasons = {s.path.rsplit(":", 1)[1]: s.reason for s in loaded.skipped}
    assert "is a number, not text" in reasons["3"]
    assert "no field 'answer'" in reasons["4"] and "'qid'" in reasons["4"]
    assert "repeats an earlier line" in reasons["5"]
    assert "not valid JSON" in reasons["7"]


def test_pdf_text_is_extracted_page_by_page(tmp_path: Path) -> None:
    pytest.importorskip("pypdf")
    pdf = write_pdf(tmp_path / "manual.pdf", ["The pump runs at 40 litres a minute.", "Replace the filter yearly."])
    loaded = load_paths([pdf])
    (doc,) = loaded.documents
    assert doc.kind == "pdf" and doc.title == "manual"
    assert doc.text == "The pump runs at 40 litres a minute.\n\nReplace the filter yearly."


def test_broken_and_textless_pdfs_are_reported(tmp_path: Path) -> None:
    pytest.importorskip("pypdf")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not a pdf body")
    write_pdf(tmp_path / "scan.pdf", [""])
    loaded = load_paths([tmp_path])
    reasons = {Path(s.path).name: s.reason for s in loaded.skipped}
    assert loaded.documents == []
    assert "not a readable PDF" in reasons["broken.pdf"]
    assert "no text layer" in reasons["scan.pdf"]


def test_pdf_without_pypdf_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pdf = write_pdf(tmp_path / "m.pdf", ["text"])
    real_import = builtins.__import__

    def no_pypdf(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "pypdf":
            raise ImportError("No module named 'pypdf'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pypdf)
    with pytest.raises(MissingDependencyError, match=r"alignkit\[rag\]"):
        load_paths([pdf])


def test_load_options_are_checked() -> None:
    with pytest.raises(ConfigError):
        LoadOptions(max_file_bytes=0)
    with pytest.raises(ConfigError):
        LoadOptions(text_field="")
