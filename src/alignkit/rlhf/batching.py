"""Length-aware batching for reward models, as pure functions over token counts (no torch).

Padding every sequence to ``max_length`` wastes compute and memory on pad tokens; so does a batch that
puts a 20-token answer beside a 500-token one. Two tools:

- :func:`token_batches` cuts an ordered list into forward passes whose padded size (rows x the longest
  row) stays under a token budget, so memory is bounded by the budget, not by the batch size.
- :func:`length_grouped_batches` builds training steps of similar-length items: shuffle, sort within
  large pools, cut into batches, shuffle the batches (the recipe of transformers' ``group_by_length``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

__all__ = ["length_grouped_batches", "sorted_token_batches", "token_batches"]


def token_batches(cost: Sequence[int], max_tokens: int, max_items: int | None = None) -> list[list[int]]:
    """Consecutive groups of indices into ``cost`` (tokens per item, in the order given) such that
    ``len(group) * max(cost in group) <= max_tokens`` (a single item over the budget gets a group of its
    own) and at most ``max_items`` per group. Sort ``cost`` first for the least padding."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1; got {max_tokens}")
    groups: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i, c in enumerate(cost):
        wider = max(longest, c)
        if current and ((len(current) + 1) * wider > max_tokens or (max_items and len(current) >= max_items)):
            groups.append(current)
            current, wider = [], c
        current.append(i)
        longest = wider
    if current:
        groups.append(current)
    return groups


def sorted_token_batches(lengths: Sequence[int], max_tokens: int, max_items: int | None = None) -> list[list[int]]:
    """Indices into ``lengths`` in groups for :func:`token_batches`, longest first (so a budget that is too
    small fails on the first pass, not after an hour). Every index appears exactly once."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [[order[j] for j in g] for g in token_batches([lengths[i] for i in order], max_tokens, max_items)]


def length_grouped_batches(lengths: Sequence[int], batch_size: int, seed: int, pool: int = 32) -> list[list[int]]:
    """Training batches of indices into ``lengths``: a seeded shuffle, then sorted by length within pools
    of ``pool`` batches, cut into batches of ``batch_size``, and the batches shuffled. Each index appears
    once; each batch holds similar lengths, while which items meet in a batch still varies by seed."""
    rng = random.Random(seed)  # noqa: S311 (reproducible order, not secrecy)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches: list[list[int]] = []
    step = batch_size * pool
    for start in range(0, len(order), step):
        chunk = sorted(order[start : start + step], key=lambda i: -lengths[i])
        batches += [chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches
