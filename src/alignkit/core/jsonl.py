"""Read and write records as JSON Lines, one object per line.

Writes flush every line, so a crash loses at most the line being written, and :func:`repair_tail`
cuts such a torn last line off before a run appends to the file again. :func:`write_jsonl` writes a
whole file atomically (the old file stays until the new one is complete). Reads report the file and
line of the first bad record and what is wrong with it: bytes that are not UTF-8 (with their offset),
JSON that does not parse or nests too deeply, a line too long, a value that is not an object.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypeVar

from pydantic import BaseModel, ValidationError

from alignkit.core.errors import RecordError
from alignkit.core.files import atomic_path

R = TypeVar("R", bound=BaseModel)

MAX_LINE_BYTES = 64 * 1024 * 1024  # a single record larger than this is almost surely a corrupt file
UTF8_HINT = "re-encode the file as UTF-8, e.g. iconv -f latin1 -t utf-8 IN > OUT"

log = logging.getLogger(__name__)
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # what a lone surrogate looks like in JSON text
_SURROGATE = re.compile("[\ud800-\udfff]")
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _dump(record: BaseModel | Mapping[str, Any]) -> str:
    if isinstance(record, BaseModel):
        return record.model_dump_json(exclude_defaults=True)
    try:
        text = json.dumps(record, ensure_ascii=False)
    except RecursionError:
        raise RecordError("the record is nested too deeply to write as JSON") from None
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (read from a "\ud800" escape): keep it escaped
            return json.dumps(record)
        text = text.translate(_LINE_BREAKS)  # so that a reader splitting lines the Unicode way splits only ours
    return text


class JsonlWriter:
    """Append records to a JSONL file, flushed line by line (``durable=True`` also fsyncs)."""

    def __init__(self, path: str | os.PathLike[str], *, append: bool = False, durable: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] = self.path.open("a" if append else "w", encoding="utf-8")
        self._durable = durable
        self.count = 0

    def write(self, record: BaseModel | Mapping[str, Any]) -> None:
        """Append one record as a line (written whole, in one call, then flushed)."""
        self._fh.write(_dump(record) + "\n")
        self._fh.flush()
        if self._durable:
            os.fsync(self._fh.fileno())
        self.count += 1

    def close(self) -> None:
        """Close the file."""
        self._fh.close()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def write_jsonl(
    path: str | os.PathLike[str], records: Iterable[BaseModel | Mapping[str, Any]], *, append: bool = False
) -> int:
    """Write records to ``path`` (atomically: an error leaves the old file as it was), or append them;
    returns how many were written."""
    if append:
        with JsonlWriter(path, append=True) as w:
            for r in records:
                w.write(r)
            return w.count
    with atomic_path(path) as tmp, JsonlWriter(tmp) as w:
        for r in records:
            w.write(r)
        return w.count


def iter_lines(path: str | os.PathLike[str]) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each line of a UTF-8 text file (a leading BOM dropped, line
    ends kept); bytes that are not UTF-8 or a line over :data:`MAX_LINE_BYTES` raise :class:`RecordError`."""
    p = Path(path)
    if not p.is_file():
        raise RecordError(f"{p}: no such file")
    with p.open("rb") as fh:
        offset = 0
        for lineno in itertools.count(1):
            raw = fh.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            if len(raw) > MAX_LINE_BYTES:
                raise RecordError(f"{p}:{lineno}: line longer than {MAX_LINE_BYTES} bytes; is this a text file?")
            yield lineno, _decode(raw, p, lineno, offset)
            offset += len(raw)


def _decode(raw: bytes, path: Path, lineno: int, offset: int) -> str:
    if lineno == 1 and raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise RecordError(f"{path}:1: the file is UTF-16, not UTF-8; {UTF8_HINT.replace('latin1', 'utf-16')}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RecordError(not_utf8(path, e, line=lineno, offset=offset)) from None
    return text.removeprefix("\ufeff") if lineno == 1 else text


def not_utf8(path: str | os.PathLike[str], e: UnicodeDecodeError, *, line: int | None = None, offset: int = 0) -> str:
    """The message for bytes of ``path`` that are not UTF-8: file, line, the byte and its offset in the
    file (``offset`` is where the decoded bytes start), and how to fix it."""
    data = bytes(e.object)
    line = data.count(b"\n", 0, e.start) + 1 if line is None else line
    return f"{path}:{line}: not UTF-8 (byte 0x{data[e.start]:02x} at byte {offset + e.start} of the file); {UTF8_HINT}"


def read_text(path: str | os.PathLike[str]) -> str:
    """A whole UTF-8 text file (a leading BOM dropped); bytes that are not UTF-8 raise :class:`RecordError`."""
    raw = Path(path).read_bytes()
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        raise RecordError(not_utf8(path, e)) from None


def parse_json_object(text: str, where: str) -> dict[str, Any]:
    """One JSON object from ``text``; anything else raises :class:`RecordError` prefixed with ``where``."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise RecordError(f"{where}: not valid JSON ({e.msg} at column {e.colno})") from None
    except RecursionError:
        raise RecordError(f"{where}: JSON nested too deeply to read; flatten the record") from None
    except ValueError as e:  # e.g. an integer with more digits than Python converts
        raise RecordError(f"{where}: not valid JSON ({e})") from None
    if not isinstance(obj, dict):
        raise RecordError(f"{where}: expected a JSON object, got {json_kind(obj)}")
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(obj):
        raise RecordError(
            f"{where}: a string holds a lone surrogate (a \\ud800-\\udfff escape without its pair), "
            "which is not text; fix or remove it"
        )
    return obj


def _has_lone_surrogate(obj: Any) -> bool:
    """Whether any string in ``obj`` (keys included) holds an unpaired surrogate; walks without recursion."""
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def iter_json_objects(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line; a bad line raises :class:`RecordError`
    naming the file and line."""
    for lineno, line in iter_lines(path):
        if line.strip():
            yield lineno, parse_json_object(line, f"{path}:{lineno}")


def read_jsonl(path: str | os.PathLike[str], record_type: type[R]) -> Iterator[R]:
    """Yield each line of ``path`` validated as ``record_type``."""
    for lineno, obj in iter_json_objects(path):
        try:
            yield record_type.model_validate(obj)
        except ValidationError as e:
            raise RecordError(f"{path}:{lineno}: not a valid {record_type.__name__}: {describe(e)}") from None


def repair_tail(path: str | os.PathLike[str]) -> str | None:
    """Cut off a last line that has no newline: the line a killed writer left half-written (every
    complete line :class:`JsonlWriter` writes ends with one). Returns a message saying what was cut
    (also logged as a warning), or None when the file is whole or absent."""
    p = Path(path)
    if not p.is_file() or p.stat().st_size == 0:
        return None
    with p.open("r+b") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return None
        cut = pos = size
        while pos > 0:
            step = min(1 << 16, pos)
            pos -= step
            fh.seek(pos)
            i = fh.read(step).rfind(b"\n")
            if i >= 0:
                cut = pos + i + 1
                break
        else:
            cut = 0
        fh.truncate(cut)
        os.fsync(fh.fileno())
    msg = f"{p}: removed a last line cut off by an interrupted run ({size - cut} bytes); that record is done again"
    log.warning(msg)
    return msg


def describe(e: ValidationError) -> str:
    """``field: problem; ...`` without echoing the input (a record may hold PII)."""
    errors = e.errors()
    shown = "; ".join(f"{'.'.join(str(x) for x in err['loc'])[:80] or '(record)'}: {err['msg']}" for err in errors[:5])
    return shown + (f"; ... ({len(errors) - 5} more)" if len(errors) > 5 else "")


def json_kind(value: Any) -> str:
    """What a JSON value is, for an error message (never the value itself: it may hold PII)."""
    if value is None:
        return "null"
    kinds = {bool: "true/false", int: "a number", float: "a number", str: "text", list: "a list", dict: "an object"}
    return kinds.get(type(value), f"a {type(value).__name__}")


def field_list(row: Mapping[str, Any], most: int = 12) -> str:
    """The field names of ``row`` for an error message: quoted, shortened, at most ``most`` of them."""
    names = [repr(k if len(k) <= 40 else k[:37] + "...") for k in (str(k) for k in list(row)[:most])]
    more = f", ... ({len(row) - most} more)" if len(row) > most else ""
    return (", ".join(names) or "none") + more
