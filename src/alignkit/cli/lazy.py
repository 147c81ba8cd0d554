"""A click group whose commands are imported only when one runs: help lists them from a table of
one-line descriptions, so ``--help`` imports none of them (some load torch), and a command whose
optional dependency is missing says which extra to install."""

from __future__ import annotations

import importlib
from typing import Any

import click

from alignkit.core.errors import AlignkitError, MissingDependencyError
from alignkit.core.scrub import scrub

LazyTable = dict[str, tuple[str, str]]
"""command name -> ("module:attribute", its one-line help)."""

# The extra that installs each optional dependency a command may import.
EXTRAS: dict[str, str] = {
    **dict.fromkeys(("torch", "transformers", "accelerate", "safetensors", "gguf", "tokenizers"), "hf"),
    **dict.fromkeys(("trl", "peft", "datasets", "tensorboard"), "rlhf"),
    **dict.fromkeys(("fastapi", "starlette", "uvicorn"), "serve"),
    **dict.fromkeys(("numpy", "sklearn"), "train"),
}


class LazyGroup(click.Group):
    """A group that imports each command's module on first use and lists them without importing any."""

    def __init__(self, *args: Any, lazy: LazyTable, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self._lazy:
            return super().get_command(ctx, cmd_name)
        module, _, attr = self._lazy[cmd_name][0].partition(":")
        try:
            cmd = getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as e:
            top = (e.name or "").split(".")[0]
            if top not in EXTRAS:
                raise
            raise click.ClickException(str(MissingDependencyError(f"`alignkit {cmd_name}`", top, EXTRAS[top]))) from e
        assert isinstance(cmd, click.Command)
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [
            (name, self._lazy[name][1] if name in self._lazy else self.commands[name].get_short_help_str(limit=200))
            for name in self.list_commands(ctx)
        ]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AlignkitError as e:
            # Errors alignkit raises on purpose say how to fix them: print that (never a credential), not a traceback.
            raise click.ClickException(scrub(str(e))) from e
