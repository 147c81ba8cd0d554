"""``alignkit detect DETECTOR --input IN.jsonl --output OUT.jsonl``: score every line of a dataset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.progress import Progress

from alignkit.core.errors import ConfigError
from alignkit.core.jsonl import JsonlWriter, iter_json_objects
from alignkit.detectors import get_detector
from alignkit.providers import parse_model_args

BATCH = 256


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
    help="Where to write the scored lines (the input fields plus the detector's).",
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
def detect(
    detector_name: str,
    input_path: str,
    output_path: str,
    field: str,
    threshold: float | None,
    detector_args: tuple[str, ...],
) -> None:
    """Score every line of a JSONL file with a detector (for screening datasets).

    Each output line is the input object plus score (0-1), flagged, label, categories (where the
    detector gives them), spans (character ranges, e.g. PII entities) and reason.

    \b
    Examples:
      alignkit detect pii --input pairs.jsonl --output pii.jsonl --field chosen
      alignkit detect toxicity --input answers.jsonl --output tox.jsonl --threshold 0.8
    Detectors: toxicity, pii, secrets, jailbreak, prompt_injection, harmful_request, refusal, ...
    """
    args = parse_model_args(detector_args)
    if threshold is not None:
        args["threshold"] = threshold
    det = get_detector(detector_name, **args)
    with Path(input_path).open(encoding="utf-8") as fh:
        total = sum(1 for line in fh if line.strip())
    flagged = 0
    with JsonlWriter(output_path) as out, Progress(transient=True) as bar:
        task = bar.add_task(f"{det.spec}", total=total)
        batch: list[tuple[int, dict[str, Any]]] = []

        def flush() -> None:
            nonlocal flagged
            verdicts = det.detect_batch([str(row[field]) for _, row in batch])
            for (_, row), v in zip(batch, verdicts, strict=True):
                row.update(score=round(v.score, 6), flagged=v.flagged, label=v.label)
                if v.categories:
                    row["categories"] = {k: round(s, 6) for k, s in v.categories.items()}
                if v.spans:
                    row["spans"] = [{"start": s.start, "end": s.end, "label": s.label} for s in v.spans]
                row["reason"] = v.reason
                flagged += v.flagged
                out.write(row)
            bar.advance(task, len(batch))
            batch.clear()

        for lineno, row in iter_json_objects(input_path):
            if field not in row:
                flush()  # keep everything scored so far before stopping
                raise ConfigError(
                    f"{input_path}:{lineno}: no field {field!r} (fields: {', '.join(row)}); choose one with --field"
                )
            if not isinstance(row[field], str):
                row[field] = json.dumps(row[field], ensure_ascii=False)
            batch.append((lineno, row))
            if len(batch) >= BATCH:
                flush()
        if batch:
            flush()
    click.echo(f"{det.spec}: {flagged} of {total} lines flagged; written to {output_path}", err=True)
