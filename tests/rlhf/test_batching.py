"""Length-aware batching: every item once, budgets kept, similar lengths together."""

from __future__ import annotations

import random

import pytest

from alignkit.rlhf.batching import length_grouped_batches, sorted_token_batches, token_batches


def test_token_batches_keep_the_padded_budget_and_every_item() -> None:
    rng = random.Random(0)
    lengths = [rng.randint(1, 300) for _ in range(200)]
    groups = sorted_token_batches(lengths, max_tokens=1024, max_items=16)
    assert sorted(i for g in groups for i in g) == list(range(200))
    for g in groups:
        assert len(g) <= 16
        assert len(g) * max(lengths[i] for i in g) <= 1024
    # longest first, and sorting pads far less than batching in the given order
    assert lengths[groups[0][0]] == max(lengths)
    padded = sum(len(g) * max(lengths[i] for i in g) for g in groups)
    plain = sum(16 * max(lengths[i : i + 16]) for i in range(0, 200, 16))
    assert padded < 0.8 * plain


def test_an_item_over_the_budget_runs_alone() -> None:
    assert token_batches([50, 500, 50, 50], max_tokens=200) == [[0], [1], [2, 3]]
    with pytest.raises(ValueError, match="max_tokens"):
        token_batches([1], max_tokens=0)


def test_length_grouped_batches_group_similar_lengths_and_vary_by_seed() -> None:
    rng = random.Random(1)
    lengths = [rng.randint(10, 500) for _ in range(400)]
    batches = length_grouped_batches(lengths, batch_size=8, seed=0)
    assert sorted(i for b in batches for i in b) == list(range(400))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 60  # random batches of 8 from 10..500 would spread by about 380
    assert batches != length_grouped_batches(lengths, batch_size=8, seed=1)
    assert batches == length_grouped_batches(lengths, batch_size=8, seed=0)
