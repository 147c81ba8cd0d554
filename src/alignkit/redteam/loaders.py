"""Load probes from CSV or JSONL files: public red-team sets through named presets, or any file through a
column mapping.

>>> probes = load_probes("harmful_behaviors.csv")                      # doctest: +SKIP
>>> probes = load_probes("mine.csv", prompt_column="text", category="cyber")  # doctest: +SKIP

Presets for the public sets (AdvBench, HarmBench, JailbreakBench, XSTest, the forbidden question set)
are chosen with ``format=`` or detected from the header; they live in :mod:`alignkit.redteam.presets`.

Without a preset, ``prompt_column`` names the text (default: the first of ``prompt``, ``text``,
``question``, ``goal``, ``behavior``, ``instruction``); the category is ``category=`` (one for all rows, or
``"auto"`` to guess from each prompt) or ``category_column=`` (values that are alignkit categories, or
mapped with ``category_map=``). Explicit arguments override a preset's columns.

Ids are ``<file stem>.<id column value>``, or ``<file stem>.<row number>`` (1-based, header excluded)
when the file has no id column, so they are stable as long as the file is. Rows with an empty prompt
are skipped.
"""

from __future__ import annotations

import csv
import difflib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from alignkit.core.errors import ConfigError
from alignkit.core.jsonl import read_text
from alignkit.redteam.base import CATEGORIES, Expected, Probe, check_category
from alignkit.redteam.presets import (
    JAILBREAKBENCH,
    PRESETS,
    Fields,
    Preset,
    Row,
    cell_text,
    detect_format,
    guess_category,
)

# JAILBREAKBENCH: scripts/detector_data.py reads the mapping from here.
__all__ = ["JAILBREAKBENCH", "PRESETS", "detect_format", "guess_category", "load_probes", "read_rows"]

PROMPT_COLUMNS = ("prompt", "text", "question", "goal", "behavior", "instruction")
_EXPECTED_VALUES: dict[str, Expected] = {
    "refuse": "refuse", "unsafe": "refuse", "harmful": "refuse",
    "comply": "comply", "safe": "comply", "benign": "comply",
}  # fmt: skip


# -- loading ----------------------------------------------------------------------------------------
def load_probes(
    path: str | Path,
    *,
    format: str | None = None,
    prompt_column: str | None = None,
    category_column: str | None = None,
    category: str | None = None,
    expected: Expected = "refuse",
    id_column: str | None = None,
    limit: int | None = None,
    category_map: Mapping[str, str] | None = None,
    expected_column: str | None = None,
) -> list[Probe]:
    """Probes from a CSV (``.csv``, ``.tsv``) or JSON Lines (``.jsonl``, ``.ndjson``, ``.json``) file.

    ``format``: a preset name (see the module docstring), ``"auto"``/None to detect one from the header,
    or ``"custom"`` to use only the column arguments. ``category``: one category for every row, or
    ``"auto"`` to guess it from each prompt. ``expected``: the behaviour expected of a safe model where the
    file does not say (``expected_column`` values: refuse/unsafe/harmful or comply/safe/benign).
    """
    path = Path(path)
    _check_arguments(expected, limit, category)
    rows, columns = read_rows(path)
    preset = _choose_preset(format, columns, path)
    for name in (prompt_column, category_column, id_column, expected_column):
        if name is not None and name not in columns:
            raise _missing_column(path, name, columns)
    if preset is None:
        prompt_column = prompt_column or _default_prompt_column(path, columns)
        if category is None and category_column is None:
            raise ConfigError(
                f"{path}: say which hazard category the probes test: category='cyber' (one of "
                f"{', '.join(CATEGORIES)}), category='auto' to guess from each prompt, or category_column=..."
            )
    stem = re.sub(r"[^a-z0-9_-]+", "_", path.stem.lower()).strip("_") or "probes"
    probes: list[Probe] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, 1):
        if limit is not None and len(probes) >= limit:
            break
        where = f"{path} row {number}"
        fields = _read(preset, row, where) if preset else Fields("")
        prompt = cell_text(row.get(prompt_column)) if prompt_column else fields.prompt
        if not prompt.strip():
            continue
        if category_column is not None and category is None:
            cat = _map_category(cell_text(row.get(category_column)), category_map, where)
        else:
            cat = _category(category, prompt, fields)
        want = _expected(row, expected_column, where) if expected_column else fields.expected or expected
        raw_id = cell_text(row.get(id_column)) if id_column else fields.id
        probe_id = f"{stem}.{raw_id.strip() if raw_id and raw_id.strip() else number}"
        if probe_id in seen:
            raise ConfigError(f"{where}: id {probe_id!r} repeats row {seen[probe_id]}; pick another id_column")
        seen[probe_id] = number
        metadata = {"row": number, **({"format": preset.name} if preset else {}), **fields.metadata}
        probes.append(
            Probe(
                id=probe_id,
                prompt=prompt,
                category=cat,
                severity=fields.severity or ("low" if want == "comply" else "high"),
                expected=want,
                family=fields.family,
                goal=fields.goal,
                source=str(path),
                metadata={k: v for k, v in metadata.items() if v not in (None, "")},
            )
        )
    return probes


def _check_arguments(expected: str, limit: int | None, category: str | None) -> None:
    if expected not in ("refuse", "comply"):
        raise ConfigError(f"expected must be 'refuse' or 'comply'; got {expected!r}")
    if limit is not None and limit < 0:
        raise ConfigError(f"limit must be >= 0; got {limit}")
    if category is not None and category != "auto":
        check_category(category)


def _category(category: str | None, prompt: str, fields: Fields) -> str:
    """The category given for every row (or "auto": guessed from the prompt), else the preset's."""
    if category == "auto":
        return guess_category(prompt)
    return category if category is not None else check_category(fields.category or "")


def read_rows(path: Path) -> tuple[list[Row], list[str]]:
    """The rows of a CSV/TSV or JSONL/JSON file, and its column names (JSON: the union, in order)."""
    if not path.is_file():
        raise ConfigError(f"probe file {path} does not exist")
    suffix = path.suffix.lower()
    text = read_text(path)  # bytes that are not UTF-8: an error naming the line and byte
    if suffix in (".csv", ".tsv"):
        try:
            reader = csv.DictReader(text.splitlines(keepends=True), delimiter="\t" if suffix == ".tsv" else ",")
            rows: list[Row] = list(reader)
        except csv.Error as e:
            raise ConfigError(f"{path}: not a valid CSV file ({e})") from None
        return rows, list(reader.fieldnames or [])
    if suffix in (".jsonl", ".ndjson", ".json"):
        rows = _json_rows(path, text)
        columns = list(dict.fromkeys(k for r in rows for k in r))
        return rows, columns
    raise ConfigError(f"{path}: unsupported file type {suffix!r}; use .csv, .tsv, .jsonl or .json")


def _json_rows(path: Path, text: str) -> list[Row]:
    if path.suffix.lower() == ".json" and text.lstrip().startswith("["):
        data = _loads(text, str(path))
        items = list(enumerate(data, 1)) if isinstance(data, list) else []
    else:
        items = [(n, _loads(line, f"{path}:{n}")) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    for where, item in items:
        if not isinstance(item, dict):
            raise ConfigError(f"{path}:{where}: expected a JSON object, got {type(item).__name__}")
    return [cast(Row, item) for _, item in items]


def _loads(text: str, where: str) -> Any:
    """JSON from ``text``; bad JSON (too deep, too big a number included) is a ConfigError naming ``where``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{where}: not a JSON object ({e.msg})") from None
    except RecursionError:
        raise ConfigError(f"{where}: not a JSON object (nested too deeply)") from None
    except ValueError as e:
        raise ConfigError(f"{where}: not a JSON object ({e})") from None


def _choose_preset(format: str | None, columns: list[str], path: Path) -> Preset | None:
    if format is None or format == "auto":
        name = detect_format(columns)
        return PRESETS[name] if name else None
    if format == "custom":
        return None
    preset = PRESETS.get(format.strip().lower())
    if preset is None:
        raise ConfigError(f"unknown probe file format {format!r}; known: {', '.join(PRESETS)}, auto, custom")
    missing = [c for c in preset.columns if c not in columns]
    if missing:
        raise ConfigError(
            f"{path} does not look like {preset.name} ({preset.description}): it lacks the column(s) "
            f"{', '.join(missing)}; available columns: {', '.join(columns) or '(none)'}"
        )
    return preset


def _read(preset: Preset, row: Row, where: str) -> Fields:
    try:
        return preset.read(row)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None


def _default_prompt_column(path: Path, columns: list[str]) -> str:
    lowered = {c.lower(): c for c in columns}
    for name in PROMPT_COLUMNS:
        if name in lowered:
            return lowered[name]
    raise ConfigError(
        f"{path}: which column holds the prompt? Pass prompt_column=...; "
        f"available columns: {', '.join(columns) or '(none)'}"
    )


def _missing_column(path: Path, name: str, columns: list[str]) -> ConfigError:
    close = difflib.get_close_matches(name, columns, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"{path} has no column {name!r}.{hint} Available columns: {', '.join(columns) or '(none)'}")


def _map_category(value: str, mapping: Mapping[str, str] | None, where: str) -> str:
    value = value.strip()
    if mapping and value in mapping:
        return check_category(mapping[value])
    key = re.sub(r"[\s\-/]+", "_", value.lower())
    if key in CATEGORIES:
        return key
    raise ConfigError(
        f"{where}: category {value!r} is not an alignkit category ({', '.join(CATEGORIES)}); "
        f"map it with category_map={{{value!r}: 'cyber', ...}} or pass category='auto'"
    )


def _expected(row: Row, column: str, where: str) -> Expected:
    value = cell_text(row.get(column)).strip().lower()
    if value not in _EXPECTED_VALUES:
        raise ConfigError(f"{where}: {column}={value!r} is not one of {', '.join(_EXPECTED_VALUES)} (refuse/comply)")
    return _EXPECTED_VALUES[value]
