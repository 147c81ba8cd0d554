"""Validate a streamed answer chunk by chunk.

Output validators run on the whole text so far each time ``check_every`` new characters have arrived, and
once more at the end. The last ``holdback`` visible characters are held back until the next check, so an
entity that arrives in pieces (an e-mail address split over chunks) is caught and fixed before any of it
is shown (a validator that judges the whole answer against its conversation, ``grounded``, holds the
whole answer back and checks it once, at the end). Invisible characters (zero-width, direction controls,
combining marks) do not count, so padding an entity with them does not push its start out of the held-
back tail; and the last word is held back however long it is, so no part of a long key or token shows
before its end has arrived. When a validator fails:

- ``fix``/``filter``/custom: the repaired text streams on, provided the repair does not touch text
  already shown (it cannot be unsaid; then the stream stops as for ``refrain``); a repair that cannot
  remove what was flagged stops the stream as for ``refrain`` (the guard fails closed);
- ``refrain``/``escalate``: the stream stops with the refusal or holding message;
- ``exception``: :class:`GuardValidationError` is raised at that chunk;
- ``reask``: a stream cannot be re-asked, so it stops as for ``refrain``;
- ``noop``: recorded in ``result`` and streaming goes on.

The stream's ``result`` is the last check's :class:`ValidationResult` (verdicts, actions, ``passed``),
so a ``noop`` failure is on record even though its text streamed on.

Checking the whole text at every step is quadratic in the number of checks; ``check_every`` bounds
that (a 4,000-character answer with the default 64 is about 60 checks).
"""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Sequence

from alignkit.core.messages import Message
from alignkit.guard.guard import BaseGuard
from alignkit.guard.outcome import ActionRecord, GuardValidationError, ValidationResult

STOPPED_NOTE = "\n[The rest of this answer was withheld by a safety check.]"


class _Streamer:
    def __init__(self, guard: BaseGuard, holdback: int, check_every: int, context: Sequence[Message] = ()) -> None:
        self.guard, self.holdback, self.check_every = guard, holdback, max(1, check_every)
        self.context = context
        # A validator that judges the whole answer against the conversation (grounded) cannot pass half of
        # it: the answer is then held back whole and checked once, at the end.
        self.whole = any(v.detector.needs_context for v in guard.rail("output"))
        self.buffer = ""
        self.shown = ""
        self.checked_at = 0
        self.done = False
        self.result: ValidationResult | None = None

    def feed(self, chunk: str, final: bool = False) -> str:
        """Add a chunk; return the text that may be shown now."""
        if self.done:
            return ""
        self.buffer += chunk
        if not final and (self.whole or len(self.buffer) - self.checked_at < self.check_every):
            return ""
        self.checked_at = len(self.buffer)
        rails = self.guard.rail("output")
        verdicts = [v.detector.detect_batch_in_context([self.buffer], [self.context])[0] for v in rails]
        res = self.guard._apply(self.buffer, "output", rails, verdicts, raise_on_exception=False, context=self.context)
        self.result = res
        if any(a.action == "exception" for a in res.actions):
            self.done = True
            raise GuardValidationError(f"{self.guard.name}: the streamed answer failed a check", res)
        if res.stopped or res.reask or not res.text.startswith(self.shown):
            self.done = True
            if not res.stopped:  # on record: the stream stopped, and why
                why = "a stream cannot be re-asked" if res.reask else "the repair would change text already shown"
                res.actions.append(ActionRecord("stream", "output", "refrain", why))
                res.text, res.stopped = self.guard.refusal_message, True
            return STOPPED_NOTE if self.shown else res.text
        limit = len(res.text) if final else max(len(self.shown), _held_back(res.text, self.holdback))
        out = res.text[len(self.shown) : limit]
        self.shown += out
        return out


_INVISIBLE_CATEGORIES = frozenset(("Cf", "Mn", "Me"))


def _held_back(text: str, holdback: int) -> int:
    """Where the held-back tail of ``text`` begins: the last ``holdback`` visible characters (invisible ones
    do not count), and at least the last word, which may still grow (a key or token is checked whole)."""
    if text.isascii():
        return min(max(0, len(text) - holdback), max(map(text.rfind, " \t\n\r")) + 1)
    i, seen = len(text), 0
    while i > 0 and seen < holdback:
        i -= 1
        seen += unicodedata.category(text[i]) not in _INVISIBLE_CATEGORIES
    while i > 0 and not text[i - 1].isspace():
        i -= 1
    return i


class _Checked:
    """What both forms of a validated stream share: the checker, and what its last check found."""

    _streamer: _Streamer

    @property
    def result(self) -> ValidationResult | None:
        """What the last check found and did (verdicts, actions, whether it passed)."""
        return self._streamer.result


class ValidatedStream(_Checked, Iterator[str]):
    """The validated answer, piece by piece, as ``chunks`` arrive (see the module docstring); ``result``
    is the last check's :class:`ValidationResult` (None before the first check)."""

    def __init__(
        self,
        guard: BaseGuard,
        chunks: Iterable[str],
        *,
        holdback: int = 48,
        check_every: int = 64,
        context: Sequence[Message] = (),
    ) -> None:
        self._streamer = _Streamer(guard, holdback, check_every, context)
        self._pieces = self._run(chunks)

    def __next__(self) -> str:
        return next(self._pieces)

    def _run(self, chunks: Iterable[str]) -> Iterator[str]:
        s = self._streamer
        for chunk in chunks:  # sync/async twin of AsyncValidatedStream._run: the loops differ only in ``async``
            if out := s.feed(chunk):
                yield out
            if s.done:
                return
        if out := s.feed("", final=True):
            yield out


class AsyncValidatedStream(_Checked, AsyncIterator[str]):
    """Async form of :class:`ValidatedStream` (its sync/async twin)."""

    def __init__(
        self,
        guard: BaseGuard,
        chunks: AsyncIterable[str],
        *,
        holdback: int = 48,
        check_every: int = 64,
        context: Sequence[Message] = (),
    ) -> None:
        self._streamer = _Streamer(guard, holdback, check_every, context)
        self._pieces = self._run(chunks)

    async def __anext__(self) -> str:
        return await anext(self._pieces)

    async def _run(self, chunks: AsyncIterable[str]) -> AsyncIterator[str]:
        s = self._streamer
        async for chunk in chunks:  # sync/async twin of ValidatedStream._run
            if out := s.feed(chunk):
                yield out
            if s.done:
                return
        if out := s.feed("", final=True):
            yield out


def stream_validate(
    guard: BaseGuard,
    chunks: Iterable[str],
    *,
    holdback: int = 48,
    check_every: int = 64,
    context: Sequence[Message] = (),
) -> ValidatedStream:
    """Yield the validated answer as ``chunks`` arrive (see the module docstring); ``context``: the
    conversation it answers, for validators that need it (``grounded``)."""
    return ValidatedStream(guard, chunks, holdback=holdback, check_every=check_every, context=context)


def astream_validate(
    guard: BaseGuard,
    chunks: AsyncIterable[str],
    *,
    holdback: int = 48,
    check_every: int = 64,
    context: Sequence[Message] = (),
) -> AsyncValidatedStream:
    """Async form of :func:`stream_validate` (its sync/async twin)."""
    return AsyncValidatedStream(guard, chunks, holdback=holdback, check_every=check_every, context=context)
