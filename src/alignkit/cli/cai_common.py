"""What the ``alignkit cai`` commands share: prompt options, red-team and benign prompts from the probe
library or files, constitution selection, model specs and progress bars.

The glue between layers lives here: red-team prompts come from :mod:`alignkit.redteam`'s probe library
while :mod:`alignkit.constitution` only sees models, prompts and functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click

from alignkit.cli.options import progress_updater
from alignkit.cli.rlhf_common import progress_bar, read_prompt_file, seeded_sample
from alignkit.constitution.spec import Constitution, load_constitution
from alignkit.core.errors import ConfigError, RecordError
from alignkit.core.files import check_not_input
from alignkit.core.jsonl import iter_json_objects
from alignkit.redteam.loaders import load_probes
from alignkit.redteam.probes import builtin_probes
from alignkit.rlhf.data import text_field

F = Callable[..., Any]


def prompt_options(fn: F) -> F:
    """``--probes --categories --prompts --limit --constitution --principles`` on a command."""
    for opt in reversed(
        [
            click.option("--probes", help="Red-team prompts from the probe library: 'builtin' or a probes file."),
            click.option("--categories", help="Comma-separated probe categories (with --probes)."),
            click.option("--prompts", type=click.Path(exists=True, dir_okay=False), help="Red-team prompt file."),
            click.option("--limit", type=click.IntRange(1), help="Use a seeded sample of this many prompts."),
            click.option("--constitution", help="Constitution YAML file (default: the built-in one)."),
            click.option("--principles", help="Comma-separated principle ids to use (default: all)."),
        ]
    ):
        fn = opt(fn)
    return fn


def constitution_from(path: str | None, principles: str | None) -> Constitution:
    """The constitution at ``path`` (default: the built-in one), narrowed to ``principles`` (comma-separated ids)."""
    c = load_constitution(path)
    return c.select([p.strip() for p in principles.split(",") if p.strip()]) if principles else c


def harmful_probe_prompts(source: str, categories: str | None, limit: int | None, seed: int) -> list[str]:
    """Harmful prompts of the probe library (or a probes file) that stand alone: no system prompt, no canary."""
    return [p.prompt for p in _probes(source, categories, limit, seed, harmful=True)]


def benign_probe_prompts(source: str, categories: str | None, limit: int | None, seed: int) -> list[str]:
    """The benign look-alikes of the probe library: requests a good model answers."""
    return [p.prompt for p in _probes(source, categories, limit, seed, harmful=False)]


def _probes(source: str, categories: str | None, limit: int | None, seed: int, *, harmful: bool) -> list[Any]:
    wanted = [c.strip() for c in categories.split(",")] if categories else None
    probes = builtin_probes(wanted) if source == "builtin" else load_probes(source)
    if wanted and source != "builtin":
        probes = [p for p in probes if p.category in wanted]
    probes = [p for p in probes if p.harmful == harmful and not p.system and not p.canary]
    if not probes:
        raise ConfigError(f"no {'harmful' if harmful else 'benign'} probes in {source} (categories: {categories})")
    return seeded_sample(probes, limit, seed)


def read_prompts(path: str, limit: int | None = None, seed: int = 0) -> list[Any]:
    """Prompts from a file: .txt lines, JSONL/CSV with prompt/messages, or instruction(+input) rows such as
    self-instruct's, or the prompts of a preference file."""
    p = Path(path)
    if p.suffix.lower() == ".jsonl":
        first = next(iter_json_objects(p), (0, {}))[1]
        if "instruction" in first and "prompt" not in first and "messages" not in first:
            return seeded_sample([_instruction(row, f"{p}:{n}") for n, row in iter_json_objects(p)], limit, seed)
    return read_prompt_file(path, limit, seed)


def _instruction(row: dict[str, Any], where: str) -> str:
    """A self-instruct row as one prompt: the instruction, then its input (or its first instance's)."""
    instances = row.get("instances") or []
    inputs = [i for i in instances if isinstance(i, dict) and i.get("input")] if isinstance(instances, list) else []
    try:
        instruction = text_field(row, "instruction")
        extra = text_field(row, "input") if row.get("input") else text_field(inputs[0], "input") if inputs else ""
    except RecordError as e:
        raise RecordError(f"{where}: {e}") from None
    return f"{instruction}\n\n{extra}" if extra else instruction


def check_run_folder(out: str, names: Iterable[str], inputs: Iterable[str | None]) -> None:
    """Refuse a run folder whose files (``names`` in ``out``) are among the input files."""
    files = [i for i in inputs if i and Path(i).is_file()]
    for name in names:
        check_not_input(Path(out, name), files, flag=f"--out {out}:")


def red_team_prompts(
    probes: str | None, categories: str | None, prompts: str | None, limit: int | None, seed: int
) -> list[Any]:
    """Harmful probe-library prompts (``--probes``) and/or the prompts of a file (``--prompts``)."""
    if not probes and not prompts:
        raise click.UsageError("give red-team prompts with --probes builtin (or a probes file) or --prompts FILE")
    out: list[Any] = harmful_probe_prompts(probes, categories, limit, seed) if probes else []
    if prompts:
        out += read_prompts(prompts, limit, seed)
    return out


def helpful_prompts(source: str | None, categories: str | None, limit: int | None, seed: int) -> list[Any]:
    """Benign prompts: the probe library's look-alikes (``builtin``), a file, or none."""
    if not source:
        return []
    if source == "builtin":
        return benign_probe_prompts("builtin", categories, limit, seed)
    return read_prompts(source, limit, seed)


def model_spec(s: str) -> str:
    """A model string; a folder (a checkpoint written by `cai train`) becomes hf/<folder>."""
    if "/" in s and s.split("/", 1)[0] in ("hf", "mock", "openai", "embedded", "vllm", "transformers"):
        return s
    return f"hf/{s}" if Path(s, "config.json").exists() else s


def counting_bar(description: str) -> tuple[Any, Callable[[int, int], None]]:
    """A progress bar and a ``(done, total)`` callback that moves it."""
    bar = progress_bar()
    return bar, progress_updater(bar, bar.add_task(description, total=None, info=""))
