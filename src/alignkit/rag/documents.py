"""Documents to index: plain text, Markdown, PDF text and JSONL records, read with limits.

:func:`load_paths` takes files and folders (read recursively, in sorted order) and returns the
documents it read and the files it did not, each with the reason: nothing is skipped silently.

* ``.txt``, ``.md`` and other text files: the file's text as UTF-8 (a BOM dropped). A file that is not
  UTF-8, holds NUL bytes (binary) or is over ``max_file_bytes`` is skipped with the reason.
* ``.pdf``: the text layer extracted by pypdf (an optional dependency: ``pip install 'alignkit[rag]'``),
  pages joined by a blank line. Offsets point into that extracted text. A PDF without a text layer
  (a scan) or one that is encrypted is skipped with the reason.
* ``.jsonl`` / ``.ndjson``: one document per line, its text in ``text_field``, its id and title in
  ``id_field`` and ``title_field`` (the line number when the id field is absent). A bad line is skipped
  with its file, line and reason; the other lines are read.

A document's ``uri`` is the file's absolute path (``PATH#id=ID`` for a JSONL record), so re-indexing from
another folder finds the same document. Citations point at ``URI#chars=START-END`` of :attr:`Document.text`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from alignkit.core.errors import AlignkitError, ConfigError, MissingDependencyError
from alignkit.core.files import read_limited
from alignkit.core.jsonl import field_list, iter_lines, json_kind, not_utf8, parse_json_object

MAX_FILE_BYTES = 50 * 2**20  # a larger file is more likely a dump or an archive than a document to cite
MAX_DOC_CHARS = 20_000_000  # extracted PDF text past this is refused: about 10,000 pages of prose
MARKDOWN = frozenset({".md", ".markdown", ".mdown", ".mkd"})
PDF = frozenset({".pdf"})
JSONL = frozenset({".jsonl", ".ndjson"})
RAG_EXTRA = "rag"  # pip install 'alignkit[rag]' brings pypdf


@dataclass(frozen=True, slots=True)
class Document:
    """One document to index: where it came from, its text, a title and what kind of file it was."""

    uri: str  # absolute path, or PATH#id=ID for a JSONL record
    text: str
    title: str = ""
    kind: str = "text"  # text | markdown | pdf | jsonl

    @property
    def sha256(self) -> str:
        """The hash of the text: an unchanged document is not indexed again."""
        return hashlib.sha256(self.text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file (or a JSONL line, ``PATH:LINE``) that was not read, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class LoadOptions:
    """How files are read."""

    max_file_bytes: int = MAX_FILE_BYTES
    text_field: str = "text"  # JSONL: the field holding the document's text
    id_field: str = "id"  # JSONL: the field naming the document (the line number when absent)
    title_field: str = "title"  # JSONL: the field holding its title ("" when absent)

    def __post_init__(self) -> None:
        if self.max_file_bytes < 1:
            raise ConfigError(f"max_file_bytes must be at least 1; got {self.max_file_bytes}")
        if not self.text_field:
            raise ConfigError("text_field must name the JSONL field that holds each document's text")


@dataclass
class Loaded:
    """What :func:`load_paths` read, and what it did not (with reasons)."""

    documents: list[Document] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def load_paths(paths: Sequence[str | os.PathLike[str]], options: LoadOptions | None = None) -> Loaded:
    """Read every file under ``paths`` (files, or folders read recursively; hidden entries are reported,
    not read). A path that does not exist is a :class:`ConfigError`: nothing is read."""
    opts = options or LoadOptions()
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise ConfigError(f"no such file or folder: {', '.join(missing)}")
    out = Loaded()
    seen: set[str] = set()
    for path in _files(paths, out.skipped):
        key = os.path.realpath(path)
        if key in seen:
            continue  # given twice (a file and its folder): read once
        seen.add(key)
        try:
            docs = list(load_file(path, opts, out.skipped))
        except MissingDependencyError:
            raise
        except AlignkitError as e:
            out.skipped.append(Skipped(str(path), str(e).removeprefix(f"{path}: ")))
            continue
        out.documents += docs
    return out


def _files(paths: Iterable[str | os.PathLike[str]], skipped: list[Skipped]) -> Iterator[Path]:
    for p in map(Path, paths):
        if not p.is_dir():
            yield p
            continue
        for root, dirs, names in os.walk(p):
            for d in sorted(dirs):
                if d.startswith("."):
                    skipped.append(Skipped(str(Path(root) / d), "hidden folder; not read (give it by name to read it)"))
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(names):
                f = Path(root) / name
                if name.startswith("."):
                    skipped.append(Skipped(str(f), "hidden file; not read (give it by name to read it)"))
                elif not f.is_file():
                    skipped.append(Skipped(str(f), "not a regular file"))
                else:
                    yield f


def load_file(path: Path, options: LoadOptions, skipped: list[Skipped]) -> Iterator[Document]:
    """The documents in one file (one, or one per JSONL line); problems with single JSONL lines go to
    ``skipped``, problems with the whole file raise :class:`ConfigError`."""
    uri = Path(os.path.abspath(path)).as_posix()
    suffix = path.suffix.lower()
    if suffix in PDF:
        text = pdf_text(path, options.max_file_bytes)
        yield Document(uri, text, path.stem, "pdf")
    elif suffix in JSONL:
        yield from jsonl_documents(path, uri, options, skipped)
    else:
        text = read_text_file(path, options.max_file_bytes)
        kind = "markdown" if suffix in MARKDOWN else "text"
        yield Document(uri, text, markdown_title(text) if kind == "markdown" else path.stem, kind)


def read_text_file(path: Path, max_bytes: int) -> str:
    """A UTF-8 text file whole (BOM dropped); binary, non-UTF-8 and oversize files raise ConfigError."""
    raw = read_limited(path, "document", max_bytes)
    if b"\x00" in raw:
        raise ConfigError(f"{path}: a binary file (NUL bytes), not text; convert it to text or leave it out")
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        raise ConfigError(not_utf8(path, e)) from None


def markdown_title(text: str) -> str:
    """The first ``# heading`` of a Markdown text ("" when it has none in its first 50 lines)."""
    for line in text.splitlines()[:50]:
        if line.startswith("# "):
            return line[2:].strip()[:300]
    return ""


def pdf_text(path: Path, max_bytes: int) -> str:
    """The text layer of a PDF, pages joined by a blank line (pypdf, imported here: optional)."""
    try:
        import pypdf
    except ImportError:
        raise MissingDependencyError("reading PDF files", "pypdf", RAG_EXTRA) from None
    read_limited(path, "PDF", max_bytes)  # the size check, with the same message as for text files
    try:
        reader = pypdf.PdfReader(str(path))
        if reader.is_encrypted:
            raise ConfigError(f"{path}: an encrypted PDF; decrypt it first (e.g. qpdf --decrypt IN OUT)")
        pages = [_page_text(p) for p in reader.pages]
    except ConfigError:
        raise
    except Exception as e:  # pypdf raises many kinds on a broken file; each is this file's problem only
        raise ConfigError(f"{path}: not a readable PDF ({type(e).__name__}: {e})") from None
    text = "\n\n".join(p.strip() for p in pages)
    if not text.strip():
        raise ConfigError(f"{path}: the PDF has no text layer (a scan?); run OCR on it first")
    if len(text) > MAX_DOC_CHARS:
        raise ConfigError(f"{path}: {len(text):,} characters of text is over the {MAX_DOC_CHARS:,} limit; split it")
    return text


def _page_text(page: Any) -> str:
    return str(page.extract_text() or "")


def jsonl_documents(path: Path, uri: str, options: LoadOptions, skipped: list[Skipped]) -> Iterator[Document]:
    """One document per JSONL line; a bad line is reported in ``skipped`` and the rest are read."""
    read_limited_size(path, options.max_file_bytes)
    ids: set[str] = set()
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            doc = _jsonl_document(parse_json_object(line, where), where, uri, lineno, options)
        except AlignkitError as e:
            skipped.append(Skipped(where, str(e).removeprefix(f"{where}: ")))
            continue
        if doc.uri in ids:
            repeated = doc.uri.rpartition("#id=")[2]
            skipped.append(Skipped(where, f"{options.id_field} {repeated!r} repeats an earlier line"))
            continue
        ids.add(doc.uri)
        yield doc


def read_limited_size(path: Path, max_bytes: int) -> None:
    """A ConfigError when ``path`` is over ``max_bytes`` (checked by size, without reading it)."""
    size = path.stat().st_size
    if size > max_bytes:
        raise ConfigError(f"{path}: {size:,} bytes is over the {max_bytes:,} byte limit (raise --max-file-mb)")


def _jsonl_document(row: dict[str, Any], where: str, uri: str, lineno: int, options: LoadOptions) -> Document:
    if options.text_field not in row:
        raise ConfigError(f"no field {options.text_field!r} (fields: {field_list(row)}); choose one with --text-field")
    text = row[options.text_field]
    if not isinstance(text, str):
        raise ConfigError(f"field {options.text_field!r} is {json_kind(text)}, not text")
    raw_id = row.get(options.id_field)
    if raw_id is not None and not isinstance(raw_id, str | int):
        raise ConfigError(f"field {options.id_field!r} is {json_kind(raw_id)}; ids are text or numbers")
    doc_id = quote(str(raw_id), safe="-_.~:@") if raw_id is not None else f"line{lineno}"
    title = row.get(options.title_field)
    return Document(f"{uri}#id={doc_id}", text, title if isinstance(title, str) else "", "jsonl")
