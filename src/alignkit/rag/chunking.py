"""Documents cut into chunks that keep their character offsets, so a citation can point back at them.

:func:`chunk_text` walks the text and ends each chunk, at most ``size`` characters long, at the
strongest break in its second half: a paragraph break, else a sentence end, else a line break, else a
space (a hard cut only in a text with none). The next chunk starts ``overlap`` characters earlier, at the
first sentence (else word) start in that stretch, so a fact that straddles a cut is whole in one chunk.
Chunks hold no leading or trailing whitespace, and ``text[chunk.start:chunk.end] == chunk.text`` always.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from alignkit.core.errors import ConfigError

# Breaks from strongest to weakest; each match's end is where the next chunk may begin.
_PARAGRAPH = re.compile(r"\n[ \t\r]*\n")
_SENTENCE = re.compile(r"[.!?][\"')\]]?\s")
_LINE = re.compile(r"\n")
_SPACE = re.compile(r"\s")
BREAKS = (_PARAGRAPH, _SENTENCE, _LINE, _SPACE)


@dataclass(frozen=True, slots=True)
class Chunk:
    """``document.text[start:end]``: the piece of a document a source number stands for."""

    index: int  # position of the chunk in its document, from 0
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class ChunkOptions:
    """How documents are cut."""

    size: int = 1000  # characters (about 250 tokens): four chunks and a question fit a 2k-token context
    overlap: int = 150  # a sentence or two: a fact cut at a chunk's end is whole at the next one's start

    def __post_init__(self) -> None:
        if not 100 <= self.size <= 20_000:
            raise ConfigError(f"chunk size must be 100-20000 characters; got {self.size}")
        if not 0 <= self.overlap <= self.size // 2:
            raise ConfigError(f"chunk overlap must be 0 to half the chunk size ({self.size // 2}); got {self.overlap}")

    def key(self) -> str:
        """What the store records with each document, so that changed options re-chunk it."""
        return f"size={self.size},overlap={self.overlap}"


def chunk_text(text: str, options: ChunkOptions | None = None) -> list[Chunk]:
    """``text`` in chunks with offsets (see the module docstring); no chunk for blank text."""
    opts = options or ChunkOptions()
    chunks: list[Chunk] = []
    start = _skip_space(text, 0, len(text))
    while start < len(text):
        end = len(text) if len(text) - start <= opts.size else _cut(text, start, start + opts.size)
        stop = _trim_end(text, start, end)
        if stop > start:
            chunks.append(Chunk(len(chunks), start, stop, text[start:stop]))
        if end >= len(text):
            break
        start = _skip_space(text, _next_start(text, start, end, opts.overlap), len(text))
    return chunks


def _cut(text: str, start: int, limit: int) -> int:
    """Where a chunk from ``start`` that may reach ``limit`` ends: after the last strongest break in its
    second half, or at ``limit`` when there is none."""
    low = start + (limit - start) // 2
    for pattern in BREAKS:
        last = None
        for m in pattern.finditer(text, low, limit):
            last = m
        if last is not None:
            return last.end()
    return limit


def _next_start(text: str, start: int, end: int, overlap: int) -> int:
    """The next chunk's start: within ``overlap`` characters before ``end``, at a sentence start, else a
    word start; ``end`` itself when there is no overlap or no such start. The overlap never exceeds half
    the chunk, so each chunk moves at least a quarter of ``size`` on."""
    if overlap:
        low = max(start + (end - start + 1) // 2, end - overlap)
        for pattern in (_SENTENCE, _SPACE):
            m = pattern.search(text, low, end)
            if m is not None and m.end() < end:
                return m.end()
    return end


def _skip_space(text: str, pos: int, limit: int) -> int:
    while pos < limit and text[pos].isspace():
        pos += 1
    return pos


def _trim_end(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1].isspace():
        end -= 1
    return end
