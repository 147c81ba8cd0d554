"""What the gateway stores of a conversation: the text with PII and secrets redacted.

:data:`REDACTOR` is one :class:`Redactor` per process (its detectors load once, on first use). A text that
holds a span the detectors flag but cannot remove is withheld whole (fail closed). Chat clients send the
whole history with every turn, so redacted texts are memoized (bounded, least recently used first out):
a conversation's earlier turns cost nothing the second time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from alignkit.core.messages import Message
from alignkit.detectors import get_detector
from alignkit.guard.actions import fix

WITHHELD = "[withheld: could not be redacted]"
MEMO_SIZE = 4096
MEMO_MAX_CHARS = 16_384  # longer texts are redacted every time (they would crowd the memo out)


class Redactor:
    """PII and secrets out of text before it is stored."""

    def __init__(self) -> None:
        self.detectors = [get_detector("pii"), get_detector("secrets")]
        self._memo: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, text: str) -> str:
        if len(text) <= MEMO_MAX_CHARS:
            with self._lock:
                hit = self._memo.get(text)
                if hit is not None:
                    self._memo.move_to_end(text)
                    return hit
        out = self._redact(text)
        if len(text) <= MEMO_MAX_CHARS:
            with self._lock:
                self._memo[text] = out
                if len(self._memo) > MEMO_SIZE:
                    self._memo.popitem(last=False)
        return out

    def _redact(self, text: str) -> str:
        for det in self.detectors:
            verdict = det.detect(text)
            if verdict.flagged:
                fixed = fix(text, verdict, det)
                if fixed is None:
                    return WITHHELD
                text = fixed
        return text

    def messages(self, messages: Sequence[Message]) -> list[dict[str, Any]]:
        return [{"role": m.role, "content": self(m.content)} for m in messages]


class _Shared:
    def __init__(self) -> None:
        self._redactor: Redactor | None = None
        self._lock = threading.Lock()

    def get(self) -> Redactor:
        with self._lock:
            if self._redactor is None:
                self._redactor = Redactor()
            return self._redactor


REDACTOR = _Shared()
