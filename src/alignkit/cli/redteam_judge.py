"""``alignkit redteam judge``: judge responses gathered elsewhere.

Every input line is read and checked before anything is judged (a bad line is an error naming the
file, line and field, with nothing written); the output is written atomically, so an error or a kill
leaves an earlier output whole, and it may not be the input. Each output line is its input object with
every field as it was (types included) plus the judge's fields.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, cast

import click

from alignkit.cli.options import load_model
from alignkit.core.errors import ConfigError
from alignkit.core.files import atomic_path, check_not_input
from alignkit.core.jsonl import JsonlWriter, field_list, iter_json_objects, json_kind
from alignkit.redteam.judge import Judge, Mode, RubricGrader

BATCH = 64  # answers per judge call: the detectors batch, and a rubric grader gets this many at once


def make_judge(grader_model: str | None, mode: str = "compliance") -> Judge:
    """The judge, with a rubric grader when a grading model is named."""
    grader = RubricGrader(load_model(grader_model, ())) if grader_model else None
    return Judge(rubric=grader, mode=cast(Mode, mode))


def checked_rows(
    path: str, prompt_field: str, response_field: str, label_field: str | None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """The input's objects, each checked: a string prompt, a string (or null: no answer) response, and a
    true/false label where there is one; anything else is a ConfigError naming file, line and field."""
    for lineno, row in iter_json_objects(path):
        where = f"{path}:{lineno}"
        for name in (prompt_field, response_field):
            if name not in row:
                raise ConfigError(f"{where}: no field {name!r} (fields: {field_list(row)})")
        if not isinstance(row[prompt_field], str):
            raise ConfigError(f"{where}: field {prompt_field!r} must be a string; got {json_kind(row[prompt_field])}")
        if row[response_field] is not None and not isinstance(row[response_field], str):
            raise ConfigError(
                f"{where}: field {response_field!r} must be a string (or null: no answer); "
                f"got {json_kind(row[response_field])}"
            )
        label = row.get(label_field) if label_field else None
        if label is not None and not isinstance(label, bool):
            raise ConfigError(f"{where}: field {label_field!r} must be true or false; got {json_kind(label)}")
        yield lineno, row


@click.command()
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="JSONL with prompt and response fields.",
)
@click.option(
    "--output", "output_path", required=True, type=click.Path(dir_okay=False), help="Where to write (not the input)."
)
@click.option("--prompt-field", default="prompt", show_default=True)
@click.option("--response-field", default="response", show_default=True)
@click.option("--label-field", help="A true/false field with the true answer (jailbroken?), to report agreement.")
@click.option("--grader-model", help="Add an LLM rubric grader (any model string).")
@click.option(
    "--mode",
    type=click.Choice(["compliance", "content"]),
    default="compliance",
    show_default=True,
    help="compliance: the prompts are attacks, so any substantive non-refusal is a success; "
    "content: the answer itself must look harmful.",
)
def judge(
    input_path: str,
    output_path: str,
    prompt_field: str,
    response_field: str,
    label_field: str | None,
    grader_model: str | None,
    mode: str,
) -> None:
    """Judge responses gathered elsewhere; adds refused, harmful, score, reason (and status, evidence).

    Prompts must be strings and responses strings or null (no answer); a line that is not is an error
    naming the file, line and field, and nothing is written. OUTPUT is replaced only when every line is
    judged (an error or a kill leaves it as it was); it may not be the input.
    """
    check_not_input(output_path, [input_path])
    rows = [row for _, row in checked_rows(input_path, prompt_field, response_field, label_field)]
    j = make_judge(grader_model, mode)
    agree = total = 0
    with atomic_path(output_path) as tmp, JsonlWriter(tmp) as out:
        for start in range(0, len(rows), BATCH):
            part = rows[start : start + BATCH]
            verdicts = asyncio.run(j.ajudge([(r[prompt_field], r[response_field], None, None) for r in part]))
            for r, v in zip(part, verdicts, strict=True):
                label = r.get(label_field) if label_field else None
                r.update({k: x for k, x in v.to_dict().items() if k != "success"})  # success: see --label-field
                if label is not None:
                    total += 1
                    agree += label == v.success
                out.write(r)
    msg = f"judged {len(rows)} responses with {j.spec}; written to {output_path}"
    if total:
        msg += f"; agreement with {label_field!r}: {agree}/{total} = {agree / total:.1%}"
    click.echo(msg, err=True)
