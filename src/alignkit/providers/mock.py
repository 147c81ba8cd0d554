"""Mock models: deterministic, instant, standard library only. Used by tests everywhere.

=================  ==================================================================
``mock/echo``      answers with the last user message
``mock/fixed``     answers with ``text`` (default "OK")
``mock/refuse``    a polite refusal
``mock/comply``    an eager compliance opener ("Sure, here is ...") for attack tests
``mock/empty``     an empty answer
``mock/error``     fails every call (``ProviderError``)
``mock/scripted``  answers from ``responses`` in order (``cycle=True`` to repeat);
                   ``MockModel.enqueue()`` adds more
``mock/callable``  Python only: ``MockModel.from_callable(fn)``, ``fn(prompt_text) -> str``
=================  ==================================================================

All honour ``max_tokens`` (whitespace tokens; finish reason "length"), ``stop`` and ``n``, and accept
``delay`` (seconds, async) to stand in for a slow remote model.

First-token log-probabilities: a scripted response or a callable's return value may be a pair
``(text, {token: logprob})``; when ``GenerateConfig.top_logprobs`` asks for them, the choice carries
the ``top_logprobs`` most likely of those (otherwise, and for plain strings, ``top_logprobs`` is None).
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, TypeAlias

from alignkit.core.completion import Choice, Completion, FinishReason, Usage
from alignkit.core.config import GenerateConfig
from alignkit.core.errors import ConfigError, ProviderError
from alignkit.core.messages import Message, last_user_text
from alignkit.core.model import ModelBase
from alignkit.providers import provider

MockKind = Literal["echo", "fixed", "refuse", "comply", "empty", "error", "scripted", "callable"]
KINDS: tuple[str, ...] = ("echo", "fixed", "refuse", "comply", "empty", "error", "scripted", "callable")

Answer: TypeAlias = str | tuple[str, Mapping[str, float]]
"""What a scripted or callable mock answers: a text, or a text and its first-token log-probabilities."""

REFUSAL = "I'm sorry, but I can't help with that."
COMPLIANCE = "Sure, here is exactly what you asked for. Step 1:"


class MockModel(ModelBase):
    """A model whose answers are fixed by its kind; see the module docstring."""

    provider = "mock"

    def __init__(
        self,
        kind: str = "echo",
        *,
        text: str | None = None,
        responses: Sequence[Answer] | None = None,
        cycle: bool = False,
        fn: Callable[[str], Answer] | None = None,
        delay: float = 0.0,
        config: GenerateConfig | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ConfigError(f"unknown mock model {kind!r}; choose one of: {', '.join(KINDS)}")
        if kind == "callable" and fn is None:
            raise ConfigError("mock/callable needs fn=...; use MockModel.from_callable(fn)")
        if delay < 0:
            raise ConfigError(f"delay must be >= 0 seconds; got {delay}")
        super().__init__(
            kind,
            config=config,
            text=text,
            responses=list(responses) if responses is not None else None,
            cycle=cycle or None,
            delay=delay or None,
        )
        self.kind = kind
        self.text = "OK" if text is None else text
        self.fn = fn
        self.delay = delay
        self.cycle = cycle
        self._script: deque[Answer] = deque(responses or ())
        self._script_lock = threading.Lock()
        self.calls: list[tuple[Message, ...]] = []  # every prompt seen, in order (for assertions)

    @classmethod
    def from_callable(cls, fn: Callable[[str], Answer], **kw: Any) -> MockModel:
        """A model that answers ``fn(last user message)`` (a text, or a text and its log-probabilities)."""
        return cls("callable", fn=fn, **kw)

    def enqueue(self, *responses: Answer) -> MockModel:
        """Add answers for a scripted model, returned in order."""
        with self._script_lock:
            self._script.extend(responses)
        return self

    def _answer(self, messages: tuple[Message, ...]) -> Answer:
        prompt = last_user_text(messages)
        match self.kind:
            case "echo":
                return prompt
            case "fixed":
                return self.text
            case "refuse":
                return REFUSAL
            case "comply":
                return COMPLIANCE
            case "empty":
                return ""
            case "error":
                raise ProviderError("mock/error always fails (this is what it is for)")
            case "callable":
                assert self.fn is not None
                out = self.fn(prompt)
                return out if isinstance(out, tuple) else str(out)
            case _:  # scripted
                with self._script_lock:
                    if not self._script:
                        raise ProviderError("mock/scripted ran out of responses; enqueue() more or pass cycle=True")
                    out = self._script.popleft()
                    if self.cycle:
                        self._script.append(out)
                    return out

    async def _generate_batch(self, prompts: list[tuple[Message, ...]], config: GenerateConfig) -> list[Completion]:
        async def one(messages: tuple[Message, ...]) -> Completion:
            if self.delay:
                await asyncio.sleep(self.delay)
            self.calls.append(messages)
            choices = [_shape(*_split(self._answer(messages)), config) for _ in range(config.n or 1)]
            prompt_tokens = sum(len(m.content.split()) for m in messages)
            completion_tokens = sum(len(c.text.split()) for c in choices)
            return Completion(tuple(choices), self.info.spec, Usage(prompt_tokens, completion_tokens))

        return list(await asyncio.gather(*(one(p) for p in prompts)))


def _split(answer: Answer) -> tuple[str, Mapping[str, float] | None]:
    if isinstance(answer, tuple):
        return answer[0], answer[1]
    return answer, None


def _shape(text: str, logprobs: Mapping[str, float] | None, config: GenerateConfig) -> Choice:
    """Apply stop strings and the token limit the way a real model would, and keep the
    ``top_logprobs`` most likely first tokens when they were asked for."""
    reason: FinishReason = "stop"
    for s in config.stop or ():
        cut = text.find(s)
        if cut >= 0:
            text = text[:cut]
    if config.max_tokens is not None:
        words = text.split()
        if len(words) > config.max_tokens:
            text, reason = " ".join(words[: config.max_tokens]), "length"
    top = None
    if config.top_logprobs is not None and logprobs is not None:
        best = sorted(logprobs.items(), key=lambda kv: -kv[1])[: config.top_logprobs]
        top = {k: float(v) for k, v in best}
    return Choice(text, reason, top)


@provider("mock", description="Deterministic test models: " + ", ".join(KINDS))
def mock(name: str, *, config: GenerateConfig | None = None, **args: Any) -> MockModel:
    """Deterministic test models (echo, fixed, refuse, comply, empty, error, scripted, callable)."""
    return MockModel(name, config=config, **args)


def scripted(responses: Iterable[Answer], *, cycle: bool = False) -> MockModel:
    """Shorthand for ``MockModel("scripted", responses=...)``."""
    return MockModel("scripted", responses=list(responses), cycle=cycle)
