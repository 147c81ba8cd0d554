"""The ``alignkit`` entry point: a click group whose commands are imported only when invoked, so
``alignkit --help`` stays fast and a broken optional dependency affects only its own command."""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from alignkit._version import __version__
from alignkit.core.errors import AlignkitError

# command name -> "module:attribute"
COMMANDS: dict[str, str] = {
    "cai": "alignkit.cli.cai:cai",
    "chat": "alignkit.cli.chat:chat",
    "demo": "alignkit.cli.demo:demo",
    "detect": "alignkit.cli.detect:detect",
    "guard": "alignkit.cli.guard:guard",
    "label": "alignkit.cli.label:label",
    "models": "alignkit.cli.models:models",
    "redteam": "alignkit.cli.redteam:redteam",
    "rlhf": "alignkit.cli.rlhf:rlhf",
}


class LazyGroup(click.Group):
    """A group that imports each command's module on first use."""

    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._lazy:
            module, _, attr = self._lazy[cmd_name].partition(":")
            cmd = getattr(importlib.import_module(module), attr)
            assert isinstance(cmd, click.Command)
            return cmd
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AlignkitError as e:
            # Errors alignkit raises on purpose say how to fix them: print that, not a traceback.
            raise click.ClickException(str(e)) from e


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="alignkit")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def cli(verbose: int) -> None:
    """alignkit: align, attack, defend and certify language models.

    Models are named by strings: smollm2 (the embedded default), mock/echo, hf/./checkpoint,
    openai/MODEL (with -M base_url=http://...). Run `alignkit models` to see what is available.
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="alignkit")
