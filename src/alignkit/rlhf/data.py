"""Preference data: one schema (:class:`~alignkit.core.PreferencePair`), every common source.

- alignkit JSONL (the record's own fields);
- Anthropic HH in both shapes: full transcripts (``{"chosen": "\\n\\nHuman: ...\\n\\nAssistant: ...",
  "rejected": ...}``, the shared dialogue prefix becomes the prompt) and split rows (``{"prompt":
  "...\\n\\nAssistant:", "chosen": "...", "rejected": "..."}``);
- CSV or JSONL with a column mapping (prompt, chosen, rejected, optional tie/margin/annotator);
- any iterable of dicts, which includes a Hugging Face ``datasets.Dataset``.

On import, pairs with no preference (chosen equals rejected) and duplicates are dropped, and PII can be
redacted or the pair dropped, using the shared PII detector. Every dropped pair is counted in the
returned :class:`ImportReport`, so nothing disappears silently.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from alignkit.core.errors import ConfigError, RecordError
from alignkit.core.jsonl import describe, field_list, iter_json_objects, iter_lines, json_kind
from alignkit.core.messages import Message
from alignkit.core.records import PreferencePair
from alignkit.detectors import Detector, get_detector
from alignkit.detectors.pii import redact

_TURN = re.compile(r"\n\n(Human|Assistant): ?")
PIIAction = Literal["keep", "redact", "drop"]


def parse_hh(transcript: str) -> list[Message]:
    """``"\\n\\nHuman: hi\\n\\nAssistant: hello"`` -> [user "hi", assistant "hello"]. A trailing empty
    ``Assistant:`` turn (the split-prompt form) is dropped."""
    text = transcript if transcript.startswith("\n\n") else "\n\n" + transcript
    parts = _TURN.split(text)
    if len(parts) < 3 or parts[0].strip():
        raise RecordError("not an HH transcript: it must consist of '\\n\\nHuman:' and '\\n\\nAssistant:' turns")
    messages = []
    for speaker, content in zip(parts[1::2], parts[2::2], strict=True):
        messages.append(Message("user" if speaker == "Human" else "assistant", content.strip()))
    if messages and messages[-1].role == "assistant" and not messages[-1].content:
        messages.pop()
    return messages


def text_field(row: Mapping[str, Any], key: str) -> str:
    """``row[key]``, which must be text: a missing field or another type is a :class:`RecordError` naming it."""
    if key not in row:
        raise RecordError(f"no field {key!r}; the row has {field_list(row)}")
    value = row[key]
    if not isinstance(value, str):
        raise RecordError(f"field {key!r} is {json_kind(value)}, not text")
    return value


def hh_pair(row: Mapping[str, Any], *, source: str | None = None) -> PreferencePair:
    """A preference pair from an HH row, in either the transcript or the split shape."""
    if "prompt" in row:
        prompt = parse_hh(text_field(row, "prompt"))
        return PreferencePair(
            prompt=tuple(prompt),
            chosen=text_field(row, "chosen").strip(),
            rejected=text_field(row, "rejected").strip(),
            source=source,
        )
    chosen, rejected = parse_hh(text_field(row, "chosen")), parse_hh(text_field(row, "rejected"))
    if not chosen or chosen[-1].role != "assistant" or not rejected or rejected[-1].role != "assistant":
        raise RecordError("an HH transcript must end with an Assistant turn")
    if chosen[:-1] != rejected[:-1]:
        raise RecordError("the chosen and rejected transcripts do not share the same dialogue before the last answer")
    return PreferencePair(
        prompt=tuple(chosen[:-1]), chosen=chosen[-1].content, rejected=rejected[-1].content, source=source
    )


@dataclass
class ImportReport:
    """What an import kept and what it dropped, by reason."""

    kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    redacted: int = 0

    def drop(self, reason: str) -> None:
        """Count one dropped pair under ``reason``."""
        self.dropped[reason] = self.dropped.get(reason, 0) + 1


def _key(pair: PreferencePair) -> str:
    body = "\x1f".join([*(f"{m.role}:{m.content}" for m in pair.prompt), pair.chosen, pair.rejected])
    return hashlib.sha256(" ".join(body.split()).lower().encode()).hexdigest()


def clean(
    pairs: Iterable[PreferencePair], *, dedupe: bool = True, pii: PIIAction = "keep", report: ImportReport | None = None
) -> Iterator[PreferencePair]:
    """Drop no-preference pairs and duplicates; redact PII (``pii="redact"``) or drop pairs with it."""
    report = report if report is not None else ImportReport()
    seen: set[str] = set()
    detector = get_detector("pii") if pii != "keep" else None
    for pair in pairs:
        if not pair.tie and pair.chosen.strip() == pair.rejected.strip():
            report.drop("chosen equals rejected")
            continue
        if dedupe:
            k = _key(pair)
            if k in seen:
                report.drop("duplicate")
                continue
            seen.add(k)
        if detector is not None:
            pair, found = _screen(pair, detector, pii)
            if found and pii == "drop":
                report.drop("contains PII")
                continue
            report.redacted += found
        report.kept += 1
        yield pair


def _screen(pair: PreferencePair, detector: Detector, action: PIIAction) -> tuple[PreferencePair, bool]:
    found = False

    def fix(text: str) -> str:
        nonlocal found
        v = detector.detect(text)
        if not v.flagged:
            return text
        found = True
        return redact(text, v.spans) if action == "redact" else text

    prompt = [Message(m.role, fix(m.content), m.name, m.tool_call_id) for m in pair.prompt]
    updated = pair.model_copy(
        update={"prompt": tuple(prompt), "chosen": fix(pair.chosen), "rejected": fix(pair.rejected)}
    )
    return updated, found


def prompts_of(pairs: Iterable[PreferencePair]) -> list[tuple[Message, ...]]:
    """The distinct prompts of ``pairs``, in first-seen order (prompts to train a policy on)."""
    seen: dict[tuple[Message, ...], None] = {}
    for pair in pairs:
        seen.setdefault(pair.prompt, None)
    return list(seen)


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) for each row of a JSONL or CSV file."""
    if not path.is_file():
        raise ConfigError(f"no file at {path}")
    yield from _csv_rows(path) if path.suffix.lower() == ".csv" else iter_json_objects(path)


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) for each record of a CSV file with a header; a record that spans lines (a
    quoted newline) is numbered by its last line; a field a record lacks is absent from its row."""
    reader = csv.reader(line for _, line in iter_lines(path))
    try:
        header = next(reader, None)
        for values in reader:
            if not any(values):
                continue
            if header is None or len(values) > len(header):
                raise RecordError(f"{path}:{reader.line_num}: {len(values)} fields, more than the header names")
            yield reader.line_num, dict(zip(header, values, strict=False))
    except csv.Error as e:
        raise RecordError(f"{path}:{reader.line_num}: not valid CSV ({e})") from None


def from_rows(
    rows: Iterable[Mapping[str, Any]],
    *,
    format: Literal["auto", "alignkit", "hh", "columns"] = "auto",
    columns: Mapping[str, str] | None = None,
    source: str | None = None,
    where: str = "<rows>",
) -> Iterator[PreferencePair]:
    """Preference pairs from dict rows (a HF ``Dataset`` is such an iterable). ``columns`` maps our field
    names (prompt, chosen, rejected, tie, margin, annotator) to the source's."""
    for n, row in enumerate(rows, start=1):
        yield pair_from_row(row, format=format, columns=columns, source=source, where=f"{where}:{n}")


def pair_from_row(
    row: Mapping[str, Any],
    *,
    format: Literal["auto", "alignkit", "hh", "columns"] = "auto",
    columns: Mapping[str, str] | None = None,
    source: str | None = None,
    where: str = "<row>",
) -> PreferencePair:
    """One preference pair from a dict row (see :func:`from_rows`); errors start with ``where``."""
    try:
        if columns:
            missing = [src for src in columns.values() if src not in row]
            if missing:
                raise RecordError(f"no column(s) {missing}; the row has {field_list(row)}")
            mapped = {ours: row[src] for ours, src in columns.items()}
            return PreferencePair.model_validate({"source": source, **mapped})
        fmt = format
        if fmt == "auto":
            text = str(row.get("prompt") or row.get("chosen") or "")
            fmt = "hh" if "\n\nHuman:" in text or text.startswith("Human:") else "alignkit"
        if fmt == "hh":
            return hh_pair(row, source=source)
        return PreferencePair.model_validate({"source": source, **row} if source and "source" not in row else row)
    except ValidationError as e:
        raise RecordError(f"{where}: not a valid preference pair: {describe(e)}") from None
    except (RecordError, ValueError, TypeError) as e:
        raise RecordError(f"{where}: {e}") from None


def load_preferences(
    path: str | Path,
    *,
    format: Literal["auto", "alignkit", "hh", "columns"] = "auto",
    columns: Mapping[str, str] | None = None,
    dedupe: bool = True,
    pii: PIIAction = "keep",
) -> tuple[list[PreferencePair], ImportReport]:
    """Read preference pairs from a JSONL or CSV file, cleaned (see :func:`clean`); errors name the line."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"no preference file at {p}")
    if format == "columns" and not columns:
        raise ConfigError("format='columns' needs columns={'prompt': ..., 'chosen': ..., 'rejected': ...}")
    pairs = (
        pair_from_row(row, format=format, columns=columns, source=str(p), where=f"{p}:{line}")
        for line, row in read_rows(p)
    )
    report = ImportReport()
    return list(clean(pairs, dedupe=dedupe, pii=pii, report=report)), report


def to_hf_dataset(pairs: Iterable[PreferencePair]) -> Any:
    """A Hugging Face ``datasets.Dataset`` in TRL's conversational preference format."""
    try:
        import datasets
    except ImportError as e:
        raise ConfigError("exporting to a Hugging Face dataset needs the datasets package: pip install datasets") from e
    return datasets.Dataset.from_list(
        [
            {
                "prompt": [m.to_dict() for m in p.prompt],
                "chosen": [{"role": "assistant", "content": p.chosen}],
                "rejected": [{"role": "assistant", "content": p.rejected}],
            }
            for p in pairs
        ]
    )
