"""Options shared by commands that run a model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.console import Console

from alignkit.core.config import GenerateConfig
from alignkit.core.model import Model
from alignkit.providers import get_model, parse_model_args

F = TypeVar("F", bound=Callable[..., Any])


def generation_options(fn: F) -> F:
    """``--temperature --top-p --max-tokens --seed --stop -M key=value`` on a command."""
    for opt in reversed(
        [
            click.option("--temperature", type=click.FloatRange(0, 10), help="0 (the default) is greedy."),
            click.option("--top-p", type=click.FloatRange(0, 1, min_open=True), help="Nucleus sampling mass."),
            click.option("--max-tokens", type=click.IntRange(1), help="Most new tokens per answer."),
            click.option("--seed", type=int, help="Random seed, for reproducible sampling."),
            click.option("--stop", multiple=True, help="Stop string (repeatable)."),
            click.option(
                "-M",
                "--model-arg",
                "model_args",
                multiple=True,
                metavar="KEY=VALUE",
                help="Provider argument, e.g. -M base_url=http://127.0.0.1:8000/v1 -M batch_size=4.",
            ),
        ]
    ):
        fn = opt(fn)
    return fn


def config_from_options(
    temperature: float | None,
    top_p: float | None,
    max_tokens: int | None,
    seed: int | None,
    stop: tuple[str, ...],
) -> GenerateConfig:
    """The :class:`GenerateConfig` the generation options ask for (unset options stay unset)."""
    return GenerateConfig().merge(
        temperature=temperature, top_p=top_p, max_tokens=max_tokens, seed=seed, stop=stop or None
    )


def load_model(spec: str, model_args: tuple[str, ...], *, quiet: bool = False) -> Model:
    """Resolve a model string, with a spinner while a local model loads."""
    args = parse_model_args(model_args)
    console = Console(stderr=True)
    if quiet or not console.is_terminal:
        return get_model(spec, **args)
    with console.status(f"loading {spec} ..."):
        return get_model(spec, **args)


def progress_updater(bar: Any, task: Any) -> Callable[[int, int], None]:
    """A scan progress callback that moves a rich progress bar."""

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return update
