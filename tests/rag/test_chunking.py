"""Chunks keep their offsets and end at the strongest break available."""

from __future__ import annotations

import itertools
import random

import pytest

from alignkit.core.errors import ConfigError
from alignkit.rag import ChunkOptions, chunk_text


def _sentences(n: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    vocab = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda".split()
    return " ".join(" ".join(rng.choice(vocab) for _ in range(rng.randint(4, 15))).capitalize() + "." for _ in range(n))


@pytest.mark.parametrize("seed", range(5))
def test_offsets_always_point_at_the_chunk_text(seed: int) -> None:
    rng = random.Random(seed)
    text = "\n\n".join(_sentences(rng.randint(1, 30), seed + i) for i in range(8))
    opts = ChunkOptions(size=rng.choice([100, 300, 1000]), overlap=rng.choice([0, 20, 50]))
    chunks = chunk_text(text, opts)
    assert chunks, "a non-blank text has chunks"
    for i, c in enumerate(chunks):
        assert text[c.start : c.end] == c.text and c.index == i
        assert len(c.text) <= opts.size and c.text == c.text.strip()
    assert chunks[0].start == 0 and chunks[-1].end == len(text.rstrip())
    for a, b in itertools.pairwise(chunks):
        assert a.start < b.start <= a.end + 2  # moving on, no gap (at most the whitespace skipped)


def test_chunks_end_at_paragraphs_then_sentences() -> None:
    para = "First sentence here. " * 20  # 420 characters
    text = f"{para.strip()}\n\n{para.strip()}"
    chunks = chunk_text(text, ChunkOptions(size=600, overlap=0))
    assert chunks[0].text == para.strip()  # cut at the paragraph break, not at 600
    sentences = chunk_text(para, ChunkOptions(size=100, overlap=0))
    assert all(c.text.endswith(".") for c in sentences)


def test_overlap_starts_at_a_sentence() -> None:
    text = " ".join(f"Sentence number {i} ends here." for i in range(40))
    chunks = chunk_text(text, ChunkOptions(size=200, overlap=60))
    for a, b in itertools.pairwise(chunks):
        assert b.start < a.end  # they overlap
        assert b.text.startswith("Sentence number")


def test_text_without_breaks_is_cut_hard_and_blank_text_has_no_chunks() -> None:
    chunks = chunk_text("x" * 250, ChunkOptions(size=100, overlap=0))
    assert [(c.start, c.end) for c in chunks] == [(0, 100), (100, 200), (200, 250)]
    assert chunk_text(" \n\t ") == []


def test_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="chunk size"):
        ChunkOptions(size=10)
    with pytest.raises(ConfigError, match="overlap"):
        ChunkOptions(size=200, overlap=150)
