"""``alignkit chat MODEL [PROMPT]``: ask a model, once or interactively."""

from __future__ import annotations

import json
import sys

import click

from alignkit.cli.options import config_from_options, generation_options, load_model
from alignkit.core.messages import Message
from alignkit.core.scrub import scrub

HELP_INTERACTIVE = "Type a message; /reset clears the conversation, /exit (or Ctrl-D) quits."


@click.command()
@click.argument("model")
@click.argument("prompt", required=False)
@click.option("--system", "system_prompt", help="System message to start the conversation with.")
@click.option("--json", "as_json", is_flag=True, help="Print the completion as JSON (text, usage, finish reason).")
@generation_options
def chat(
    model: str,
    prompt: str | None,
    system_prompt: str | None,
    as_json: bool,
    temperature: float | None,
    top_p: float | None,
    max_tokens: int | None,
    seed: int | None,
    stop: tuple[str, ...],
    model_args: tuple[str, ...],
) -> None:
    """Ask MODEL a question; without PROMPT, start an interactive chat.

    \b
    Examples:
      alignkit chat smollm2 "What is the capital of France?"
      alignkit chat hf/./checkpoints/policy "Hello" --max-tokens 64
      alignkit chat openai/my-model -M base_url=http://127.0.0.1:8000/v1 "Hi"
      alignkit chat mock/echo          # interactive
    """
    config = config_from_options(temperature, top_p, max_tokens, seed, stop)
    m = load_model(model, model_args)
    history: list[Message] = [Message("system", system_prompt)] if system_prompt else []

    if prompt is not None:
        c = m.generate([*history, Message("user", prompt)], config)
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "model": c.model,
                        "text": _shown(c.text),
                        "choices": [_shown(ch.text) for ch in c.choices],
                        "finish_reason": c.finish_reason,
                        "usage": {
                            "prompt_tokens": c.usage.prompt_tokens,
                            "completion_tokens": c.usage.completion_tokens,
                        },
                    }
                )
            )
        else:
            click.echo(_shown(c.text))
        return

    interactive = sys.stdin.isatty()
    if interactive:
        click.echo(f"Chatting with {m.info.spec}. {HELP_INTERACTIVE}", err=True)
    while True:
        try:
            line = input("you> " if interactive else "")
        except EOFError:
            break
        text = line.strip()
        if not text:
            continue
        if text in ("/exit", "/quit"):
            break
        if text == "/reset":
            history = history[:1] if system_prompt else []
            click.echo("(conversation cleared)", err=True)
            continue
        history.append(Message("user", text))
        c = m.generate(history, config)
        history.append(Message("assistant", c.text))
        click.echo(f"{m.info.name}> {_shown(c.text)}" if interactive else _shown(c.text))


def _shown(text: str) -> str:
    """An answer as printed: without a key the provider holds, even if the server echoed it back."""
    return scrub(text, shapes=False)
