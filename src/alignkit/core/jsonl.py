"""Read and write records as JSON Lines, one object per line.

Writes flush every line, so a crash loses at most the line being written; reads report the file and
line of the first bad record and what is wrong with it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Any, TypeVar

from pydantic import BaseModel, ValidationError

from alignkit.core.errors import RecordError

R = TypeVar("R", bound=BaseModel)

MAX_LINE_BYTES = 64 * 1024 * 1024  # a single record larger than this is almost surely a corrupt file


def _dump(record: BaseModel | dict[str, Any]) -> str:
    if isinstance(record, BaseModel):
        return record.model_dump_json(exclude_defaults=True)
    return json.dumps(record, ensure_ascii=False)


class JsonlWriter:
    """Append records to a JSONL file, flushed line by line (``durable=True`` also fsyncs)."""

    def __init__(self, path: str | os.PathLike[str], *, append: bool = False, durable: bool = False) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: IO[str] = self.path.open("a" if append else "w", encoding="utf-8")
        self._durable = durable
        self.count = 0

    def write(self, record: BaseModel | dict[str, Any]) -> None:
        self._fh.write(_dump(record) + "\n")
        self._fh.flush()
        if self._durable:
            os.fsync(self._fh.fileno())
        self.count += 1

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> JsonlWriter:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def write_jsonl(
    path: str | os.PathLike[str], records: Iterable[BaseModel | dict[str, Any]], *, append: bool = False
) -> int:
    """Write records to ``path``; returns how many were written."""
    with JsonlWriter(path, append=append) as w:
        for r in records:
            w.write(r)
        return w.count


def iter_json_objects(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line; bad JSON raises :class:`RecordError`."""
    p = Path(path)
    if not p.exists():
        raise RecordError(f"{p}: no such file")
    with p.open("r", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if len(line) > MAX_LINE_BYTES:
                raise RecordError(f"{p}:{lineno}: line longer than {MAX_LINE_BYTES} bytes; is this JSONL?")
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise RecordError(f"{p}:{lineno}: not valid JSON ({e.msg} at column {e.colno})") from None
            if not isinstance(obj, dict):
                raise RecordError(f"{p}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            yield lineno, obj


def read_jsonl(path: str | os.PathLike[str], record_type: type[R]) -> Iterator[R]:
    """Yield each line of ``path`` validated as ``record_type``."""
    for lineno, obj in iter_json_objects(path):
        try:
            yield record_type.model_validate(obj)
        except ValidationError as e:
            raise RecordError(f"{path}:{lineno}: not a valid {record_type.__name__}: {describe(e)}") from None


def describe(e: ValidationError) -> str:
    """``field: problem; ...`` without echoing the input (a record may hold PII)."""
    return "; ".join(f"{'.'.join(str(x) for x in err['loc']) or '(record)'}: {err['msg']}" for err in e.errors())
