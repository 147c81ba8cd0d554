"""``alignkit detect DETECTOR --input IN.jsonl --output OUT.jsonl``: score every line of a dataset.

The output is written whole or not at all: scored lines are appended to ``OUT.part`` (next to OUT) as
they come, and OUT is replaced by it only when every line is scored. An input error, a crash or a kill
leaves OUT as it was and ``OUT.part`` holding what was scored; ``--resume`` continues from there, after
checking that ``OUT.part`` still matches the first lines of the input.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import Progress

from alignkit.core.errors import AlignkitError, ConfigError, RecordError
from alignkit.core.files import atomic_path, check_not_input
from alignkit.core.jsonl import JsonlWriter, field_list, iter_json_objects, json_kind, repair_tail
from alignkit.detectors import Detector, get_detector
from alignkit.providers import parse_model_args

BATCH = 256
VERDICT_FIELDS = ("score", "flagged", "label", "categories", "spans", "reason")

Row = tuple[int, dict[str, Any]]


@click.command()
@click.argument("detector_name", metavar="DETECTOR")
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="JSONL file, one object per line.",
)
@click.option(
    "--output",
    "output_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Where to write the scored lines (the input objects unchanged, plus the detector's fields).",
)
@click.option("--field", default="text", show_default=True, help="The field holding the text to score.")
@click.option("--threshold", type=click.FloatRange(0, 1), help="Override the detector's threshold.")
@click.option(
    "-A",
    "--arg",
    "detector_args",
    multiple=True,
    metavar="KEY=VALUE",
    help="Detector argument, e.g. -A entities='[\"EMAIL\"]'.",
)
@click.option("--resume", is_flag=True, help="Continue a run that stopped (error, kill) from OUTPUT.part.")
def detect(
    detector_name: str,
    input_path: str,
    output_path: str,
    field: str,
    threshold: float | None,
    detector_args: tuple[str, ...],
    resume: bool,
) -> None:
    """Score every line of a JSONL file with a detector (for screening datasets).

    Each output line is the input object, its fields and their types unchanged, plus score (0-1),
    flagged, label, categories (where the detector gives them), spans (character ranges, e.g. PII
    entities) and reason (an input field of one of these names is replaced).

    The field to score must hold a string on every line: a number, null, list or object there is an
    error naming the file, line and field (nothing is converted or skipped silently).

    OUTPUT is replaced only once every line is scored, so an error or a kill never empties it;
    what was scored waits in OUTPUT.part, and --resume continues from it. OUTPUT may not be the input.

    \b
    Examples:
      alignkit detect pii --input pairs.jsonl --output pii.jsonl --field chosen
      alignkit detect toxicity --input answers.jsonl --output tox.jsonl --threshold 0.8
    Detectors: toxicity, pii, secrets, jailbreak, prompt_injection, harmful_request, refusal, ...
    """
    check_not_input(output_path, [input_path])
    part = part_path(output_path)
    check_not_input(part, [input_path])
    if part.exists() and not resume:
        raise ConfigError(
            f"{part} holds lines scored by an earlier run that stopped: add --resume to continue it, "
            "or delete it to start over"
        )
    args = parse_model_args(detector_args)
    if threshold is not None:
        args["threshold"] = threshold
    det = get_detector(detector_name, **args)
    rows = iter_json_objects(input_path)
    done, flagged = _resume(part, rows, input_path) if resume else (0, 0)
    console = Console(stderr=True)
    with (
        JsonlWriter(part, append=resume) as out,
        Progress(transient=True, console=console, disable=not console.is_terminal) as bar,
    ):
        task = bar.add_task(f"{det.spec}", total=_count_lines(input_path), completed=done)
        try:
            flagged += _score(det, rows, field, input_path, out, lambda n: bar.advance(task, n))
        except AlignkitError as e:
            raise ConfigError(f"{e}. {_kept(output_path, part, done + out.count)}") from None
        done += out.count
    with atomic_path(output_path) as tmp:
        os.replace(part, tmp)
    click.echo(f"{det.spec}: {flagged} of {done} lines flagged; written to {output_path}", err=True)


def part_path(output: str) -> Path:
    """Where the lines of ``output`` wait until all are scored: ``OUTPUT.part`` beside the real file
    (the target of a symlink, so that the final rename stays within one folder)."""
    target = Path(output)
    if target.is_symlink():
        target = Path(os.path.realpath(output))
    return target.with_name(target.name + ".part")


def _kept(output_path: str, part: Path, scored: int) -> str:
    """What an error leaves behind: OUTPUT untouched, and the lines scored so far (if any) in ``part``."""
    state = "is untouched" if Path(output_path).exists() else "was not written"
    if not scored:
        part.unlink(missing_ok=True)
        return f"{output_path} {state}"
    return (
        f"{output_path} {state}; the {scored} line(s) scored before wait in {part}: "
        "rerun with --resume once the input is fixed"
    )


def _count_lines(path: str) -> int:
    """Newlines in ``path`` (the progress bar's total), read in blocks so no line is held whole."""
    n = 0
    with Path(path).open("rb") as fh:
        while block := fh.read(1 << 20):
            n += block.count(b"\n")
    return n


def _resume(part: Path, rows: Iterator[Row], input_path: str) -> tuple[int, int]:
    """Check ``part`` line by line against the input it was scored from, consuming those input rows;
    returns how many are done and how many of them were flagged."""
    if not part.exists():
        click.echo(f"nothing to resume ({part} does not exist); starting from the first line", err=True)
        return 0, 0
    note = repair_tail(part)
    if note:
        click.echo(note, err=True)
    done = flagged = 0
    for n, scored in iter_json_objects(part):
        line, row = next(rows, (0, {}))
        same = line and all(_canon(scored.get(k)) == _canon(v) for k, v in row.items() if k not in VERDICT_FIELDS)
        if not same or "flagged" not in scored:
            where = f"{input_path}:{line}" if line else f"anything in {input_path} (it has fewer lines)"
            raise ConfigError(
                f"{part}:{n} is not the scored {where}: the input changed since; delete {part} to start over"
            )
        done += 1
        flagged += scored["flagged"] is True
    click.echo(f"resuming after {done} lines already scored in {part}", err=True)
    return done, flagged


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _score(
    det: Detector, rows: Iterator[Row], field: str, input_path: str, out: JsonlWriter, advance: Callable[[int], None]
) -> int:
    """Score the remaining rows in batches, appending each to ``out``; returns how many were flagged.
    A bad input line stops the run after the lines before it are scored and written."""
    checked = _checked(rows, field, input_path)
    pending: list[Row] = []
    flagged = 0
    while True:
        try:
            row = next(checked)
        except StopIteration:
            break
        except AlignkitError:
            flagged += _flush(det, pending, field, input_path, out)
            raise
        pending.append(row)
        if len(pending) >= BATCH:
            batch, pending = pending, []
            flagged += _flush(det, batch, field, input_path, out)
            advance(len(batch))
    return flagged + _flush(det, pending, field, input_path, out)


def _checked(rows: Iterator[Row], field: str, input_path: str) -> Iterator[Row]:
    """The rows, each checked to hold a string under ``field``."""
    for lineno, row in rows:
        if field not in row:
            raise ConfigError(
                f"{input_path}:{lineno}: no field {field!r} (fields: {field_list(row)}); choose one with --field"
            )
        value = row[field]
        if not isinstance(value, str):
            raise ConfigError(
                f"{input_path}:{lineno}: field {field!r} is {json_kind(value)}, not text; detect scores text only: "
                "fix that line or choose another field with --field"
            )
        yield lineno, row


def _flush(det: Detector, batch: list[Row], field: str, input_path: str, out: JsonlWriter) -> int:
    """Score ``batch`` and append each row with its verdict; returns how many were flagged."""
    if not batch:
        return 0
    flagged = 0
    for (lineno, row), v in zip(batch, det.detect_batch([row[field] for _, row in batch]), strict=True):
        scored = {k: value for k, value in row.items() if k not in VERDICT_FIELDS}  # no stale verdict stays
        scored.update(score=round(v.score, 6), flagged=v.flagged, label=v.label)
        if v.categories:
            scored["categories"] = {k: round(s, 6) for k, s in v.categories.items()}
        if v.spans:
            scored["spans"] = [{"start": s.start, "end": s.end, "label": s.label} for s in v.spans]
        scored["reason"] = v.reason
        try:
            out.write(scored)
        except RecordError as e:
            raise RecordError(f"{input_path}:{lineno}: {e}") from None
        flagged += v.flagged
    return flagged
