"""The ``alignkit`` entry point: a click group whose commands are imported only when invoked, so
``alignkit --help`` stays fast and a broken optional dependency affects only its own command."""

from __future__ import annotations

import logging
import sys

import click

from alignkit._version import __version__
from alignkit.cli.lazy import LazyGroup
from alignkit.core.scrub import install_log_scrubber

# command name -> ("module:attribute", its one-line help). The help is here so that `alignkit --help`
# lists every command without importing any (some import torch); tests/cli checks it matches the command.
COMMANDS: dict[str, tuple[str, str]] = {
    "align": (
        "alignkit.cli.align:align",
        "Make MODEL refuse harmful requests and stay helpful (SFT then DPO); judge it before and after.",
    ),
    "audit": (
        "alignkit.cli.audit:audit",
        "Scheduled safety audits: a regression red-team scan, detector drift, escalations and incidents.",
    ),
    "bias": (
        "alignkit.cli.bias:bias",
        "Bias: measure it on a model (BBQ, WinoBias, counterfactual prompts), audit and augment data.",
    ),
    "cai": (
        "alignkit.cli.cai:cai",
        "Constitutional AI: train a model to follow written principles (Bai et al., 2022).",
    ),
    "chat": ("alignkit.cli.chat:chat", "Ask MODEL a question; without PROMPT, start an interactive chat."),
    "checklist": (
        "alignkit.cli.checklist:checklist",
        "Check a deployment against the safety checklist, from evidence; exit 1 when an item fails.",
    ),
    "demo": (
        "alignkit.cli.demo:demo",
        "Red-team a model bare and guarded; print the side-by-side table and write the HTML report.",
    ),
    "detect": (
        "alignkit.cli.detect:detect",
        "Score every line of a JSONL file with a detector (for screening datasets).",
    ),
    "feedback": (
        "alignkit.cli.gateway_data:feedback",
        "User feedback sent to the gateway, exported as preference pairs or labelling-app items.",
    ),
    "guard": ("alignkit.cli.guard:guard", "Runtime guardrails: validate what goes into and comes out of a model."),
    "incidents": (
        "alignkit.cli.incidents:incidents",
        "Incident response: list, show, acknowledge, resolve and export the gateway's incidents.",
    ),
    "keys": ("alignkit.cli.keys:keys", "The gateway's API keys: create (shown once), list, revoke."),
    "label": (
        "alignkit.cli.label:label",
        "Preference labelling: a web app where people compare two answers, and its exports.",
    ),
    "models": (
        "alignkit.cli.models:models",
        "List model providers, the embedded default and models cached on this machine.",
    ),
    "privacy": (
        "alignkit.cli.privacy:privacy",
        "Privacy leaks: canaries, exposure and membership inference (DP training: --dp-epsilon on training commands).",
    ),
    "rag": (
        "alignkit.cli.rag:rag",
        "Retrieval-augmented answers whose citations are checked: index documents, ask, evaluate.",
    ),
    "redteam": ("alignkit.cli.redteam:redteam", "Red teaming: systematic attack scans with trustworthy judges."),
    "reviews": (
        "alignkit.cli.gateway_data:reviews",
        "Human review queue of the gateway: list, show and export reviewer decisions.",
    ),
    "rlhf": ("alignkit.cli.rlhf:rlhf", "RLHF: reward models, PPO, DPO / RLOO / GRPO, evaluation."),
    "serve": (
        "alignkit.cli.serve:serve",
        "Serve models behind the guard as an OpenAI-compatible API, with limits, logs, review and feedback.",
    ),
}


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
