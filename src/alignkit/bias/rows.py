"""The training-data rows the bias audit reads and the augmentation rewrites, in the shapes the RLHF and
CAI tools read: preference pairs (alignkit ``PreferencePair`` JSON, HH split rows, HH transcripts),
SFT examples (``prompt`` + ``completion``) and prompt files (``prompt``, ``messages``, self-instruct's
``instruction`` + ``input``).

A row is kept as the JSON object it is: :func:`map_texts` rewrites only its text fields, so every other
field, the labels (which answer is chosen) and the format survive, and the output reads wherever the
input did.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from alignkit.core.errors import RecordError
from alignkit.core.jsonl import field_list, iter_json_objects

Kind = Literal["preference", "sft", "prompts"]
TEXT_FIELDS = (
    "prompt",
    "messages",
    "chosen",
    "rejected",
    "completion",
    "response",
    "instruction",
    "input",
    "output",
    "text",
)
MAX_ROWS = 2_000_000  # a bound on what one audit or augmentation reads into memory


@dataclass(frozen=True, slots=True)
class RowTexts:
    """The parts of a row the audit compares: what the user said, and each answer by its role."""

    prompt: str
    answers: dict[str, str]  # "chosen"/"rejected" (preference), "completion" (SFT); empty for prompts


def kind_of(row: Mapping[str, Any]) -> Kind:
    """Which shape a row has: ``preference`` (chosen + rejected), ``sft`` (completion) or ``prompts``."""
    if "chosen" in row and "rejected" in row:
        return "preference"
    if "completion" in row:
        return "sft"
    if any(k in row for k in ("prompt", "messages", "instruction", "text")):
        return "prompts"
    raise RecordError(f"neither a preference pair, an SFT example nor a prompt; the row has {field_list(row)}")


def _content(value: Any, key: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_content(m.get("content", "") if isinstance(m, Mapping) else m, key) for m in value)
    raise RecordError(f"field {key!r} is neither text nor a list of messages")


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    # back up to the last turn marker, so a shared first word of the answers stays in the answers
    cut = a.rfind("\n\nAssistant:", 0, n)
    return cut + len("\n\nAssistant:") if cut >= 0 else n


def texts_of(row: Mapping[str, Any]) -> RowTexts:
    """The prompt and the answers of a row. An HH transcript row (chosen and rejected hold the whole
    dialogue) is split at the end of the dialogue both share."""
    kind = kind_of(row)
    if kind == "preference":
        chosen, rejected = _content(row["chosen"], "chosen"), _content(row["rejected"], "rejected")
        if "prompt" in row:
            return RowTexts(_content(row["prompt"], "prompt"), {"chosen": chosen, "rejected": rejected})
        cut = _common_prefix(chosen, rejected)
        return RowTexts(chosen[:cut], {"chosen": chosen[cut:], "rejected": rejected[cut:]})
    prompt = "\n".join(_content(row[k], k) for k in ("prompt", "messages", "instruction", "input", "text") if k in row)
    if kind == "sft":
        return RowTexts(prompt, {"completion": _content(row["completion"], "completion")})
    return RowTexts(prompt, {})


def map_texts(row: Mapping[str, Any], fn: Callable[[str], str]) -> dict[str, Any]:
    """A copy of ``row`` with ``fn`` applied to every text field (message contents included)."""
    out = dict(row)
    for key in TEXT_FIELDS:
        value = row.get(key)
        if isinstance(value, str):
            out[key] = fn(value)
        elif isinstance(value, list):
            out[key] = [
                {**m, "content": fn(m["content"])}
                if isinstance(m, Mapping) and isinstance(m.get("content"), str)
                else m
                for m in value
            ]
    return out


def _map_message(m: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(m, Mapping) and isinstance(m.get("content"), str):
        return {**m, "content": fn(m["content"])}
    return m


def read_rows(path: str | os.PathLike[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, row) of a JSONL data file, at most :data:`MAX_ROWS` of them; errors name the line."""
    for count, (line, row) in enumerate(iter_json_objects(path), start=1):
        if count > MAX_ROWS:
            raise RecordError(f"{path}: more than {MAX_ROWS:,} rows; split the file")
        try:
            kind_of(row)
        except RecordError as e:
            raise RecordError(f"{path}:{line}: {e}") from None
        yield line, row
