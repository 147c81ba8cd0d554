"""What the ``alignkit rlhf`` commands share: YAML configs, model and reward specs, prompt files.

Every command takes its options as flags or from a YAML file (``--config run.yaml``; keys are the
option names with ``_`` or ``-``, flags given on the command line win)."""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from alignkit.core.errors import ConfigError, RecordError
from alignkit.core.jsonl import iter_json_objects, read_text
from alignkit.providers import SHORTCUTS
from alignkit.providers.embedded import ensure_checkpoint
from alignkit.rlhf.data import load_preferences, prompts_of
from alignkit.rlhf.labelling.sources import read_prompts
from alignkit.rlhf.reward import RewardModel
from alignkit.rlhf.reward_functions import RewardFn, detector_reward


def _load_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """``--config FILE``: YAML keys become the command's defaults; unknown keys are an error."""
    if not value:
        return
    try:
        data = yaml.safe_load(read_text(value)) or {}
    except RecordError as e:
        raise click.BadParameter(str(e)) from None
    except (OSError, yaml.YAMLError) as e:
        raise click.BadParameter(f"cannot read {value}: {' '.join(str(e).split())}") from None
    if not isinstance(data, dict):
        raise click.BadParameter(f"{value}: expected a mapping of option names to values")
    known = {p.name: p for p in ctx.command.params if p.name and p.name != "config"}
    defaults: dict[str, Any] = {}
    for key, v in data.items():
        name = str(key).replace("-", "_")
        if name not in known:
            raise click.BadParameter(f"{value}: unknown key {key!r}; known keys: {', '.join(sorted(known))}")
        defaults[name] = v
    ctx.default_map = {**(ctx.default_map or {}), **defaults}


config_option = click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False),
    callback=_load_config,
    is_eager=True,
    expose_value=False,
    help="YAML file of option values (flags override it).",
)


def model_path(spec: str) -> str:
    """A local folder (or hub id) for a model spec: ``smollm2`` and ``embedded/...`` are the embedded
    model's cached checkpoint, ``hf/X`` is X."""
    spec = SHORTCUTS.get(spec, spec)
    if spec.startswith("embedded/"):
        return str(ensure_checkpoint())
    return spec.removeprefix("hf/")


def reward_function(spec: str, device: str = "auto") -> RewardFn:
    """The reward function a spec names: ``FOLDER`` (a saved reward model), ``module:function`` or
    ``detector:NAME`` (:func:`~alignkit.rlhf.reward_functions.detector_reward`: 1 - the detector's score)."""
    if spec.startswith("detector:"):
        return detector_reward(spec.split(":", 1)[1])
    if Path(spec).is_dir():
        return RewardModel.load(spec, device=device)
    if ":" in spec:
        module, _, name = spec.partition(":")
        try:
            fn = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as e:
            raise ConfigError(f"cannot import reward function {spec!r}: {e}") from e
        if not callable(fn):
            raise ConfigError(f"{spec} is not callable; it must be f(prompts, responses) -> rewards")
        return fn  # type: ignore[no-any-return]
    raise ConfigError(f"reward {spec!r} is not a reward-model folder, module:function or detector:NAME")


def read_prompt_file(path: str, limit: int | None = None, seed: int = 0) -> list[Any]:
    """Prompts from .txt / JSONL / CSV (a ``prompt`` or ``messages`` field), or the prompts of a
    preference file (HH transcripts, alignkit pairs)."""
    p = Path(path)
    first = _first_row(p)
    if first is not None and "prompt" not in first and "messages" not in first and "chosen" in first:
        prompts: list[Any] = prompts_of(load_preferences(p)[0])
    else:
        prompts = list(read_prompts(p))
    return seeded_sample(prompts, limit, seed)


def _first_row(p: Path) -> dict[str, Any] | None:
    if p.suffix.lower() != ".jsonl" or not p.is_file():
        return None
    return next(iter_json_objects(p), (0, None))[1]


def progress_bar() -> Any:
    """A rich progress bar with a free-text ``info`` field (loss, reward, KL ...)."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
        console=Console(stderr=True),
    )


def on_log_bar(bar: Any, task: Any, keys: tuple[str, ...]) -> Callable[[int, int, dict[str, float]], None]:
    """A trainer callback ``(step, total, stats)`` that moves ``bar`` and shows ``keys``."""

    def update(step: int, total: int, stats: dict[str, float]) -> None:
        info = "  ".join(f"{k.split('/')[-1]} {stats[k]:.3g}" for k in keys if k in stats)
        bar.update(task, completed=step, total=total, info=info)

    return update


def read_pairs(path: str, fmt: str, limit: int | None, seed: int, pii: str = "keep") -> list[Any]:
    """Preference pairs from a file, cleaned, optionally a random subset of ``limit``."""
    pairs, report = load_preferences(path, format=fmt, pii=pii)  # type: ignore[arg-type]
    if report.dropped:
        click.echo(f"{path}: {report.kept} pairs kept, dropped {dict(report.dropped)}", err=True)
    return seeded_sample(pairs, limit, seed)


def seeded_sample(items: list[Any], limit: int | None, seed: int) -> list[Any]:
    """A reproducible random subset of ``limit`` items (all of them, in order, when there are no more)."""
    if limit and len(items) > limit:
        return random.Random(seed).sample(items, limit)  # noqa: S311 (a reproducible subset)
    return items
