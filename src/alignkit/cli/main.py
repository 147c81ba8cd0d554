"""The ``alignkit`` entry point: a click group whose commands are imported only when invoked, so
``alignkit --help`` stays fast and a broken optional dependency affects only its own command."""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from alignkit._version import __version__
from alignkit.core.errors import AlignkitError, MissingDependencyError
from alignkit.core.scrub import install_log_scrubber, scrub

# command name -> ("module:attribute", its one-line help). The help is here so that `alignkit --help`
# lists every command without importing any (some import torch); tests/cli checks it matches the command.
COMMANDS: dict[str, tuple[str, str]] = {
    "cai": (
        "alignkit.cli.cai:cai",
        "Constitutional AI: train a model to follow written principles (Bai et al., 2022).",
    ),
    "chat": ("alignkit.cli.chat:chat", "Ask MODEL a question; without PROMPT, start an interactive chat."),
    "demo": (
        "alignkit.cli.demo:demo",
        "Red-team a model bare and guarded; print the side-by-side table and write the HTML report.",
    ),
    "detect": (
        "alignkit.cli.detect:detect",
        "Score every line of a JSONL file with a detector (for screening datasets).",
    ),
    "guard": ("alignkit.cli.guard:guard", "Runtime guardrails: validate what goes into and comes out of a model."),
    "label": (
        "alignkit.cli.label:label",
        "Preference labelling: a web app where people compare two answers, and its exports.",
    ),
    "models": (
        "alignkit.cli.models:models",
        "List model providers, the embedded default and models cached on this machine.",
    ),
    "redteam": ("alignkit.cli.redteam:redteam", "Red teaming: systematic attack scans with trustworthy judges."),
    "rlhf": ("alignkit.cli.rlhf:rlhf", "RLHF: reward models, PPO, DPO / RLOO / GRPO, evaluation."),
}

# The extra that installs each optional dependency a command may import.
EXTRAS: dict[str, str] = {
    **dict.fromkeys(("torch", "transformers", "accelerate", "safetensors", "gguf", "tokenizers"), "hf"),
    **dict.fromkeys(("trl", "peft", "datasets", "tensorboard"), "rlhf"),
    **dict.fromkeys(("fastapi", "starlette", "uvicorn"), "serve"),
    **dict.fromkeys(("numpy", "sklearn"), "train"),
}


class LazyGroup(click.Group):
    """A group that imports each command's module on first use and lists them without importing any."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]], **kwargs: Any) -> None:
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
        rows = [(name, self._lazy[name][1]) for name in self.list_commands(ctx) if name in self._lazy]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AlignkitError as e:
            # Errors alignkit raises on purpose say how to fix them: print that (never a credential), not a traceback.
            raise click.ClickException(scrub(str(e))) from e


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
    install_log_scrubber()  # no log line shows a key, whatever a server echoed


def main(argv: list[str] | None = None) -> None:
    cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="alignkit")
