"""The intervals and paired tests behind every bias figure, against values worked out by hand."""

from __future__ import annotations

import math

import pytest

from alignkit.bias.stats import (
    binomial_two_sided,
    bootstrap,
    mcnemar_exact,
    mean,
    paired_difference,
    wilson,
)


def test_wilson_matches_the_textbook_value() -> None:
    iv = wilson(8, 10)  # Wilson 95% for 8/10: [0.4902, 0.9433]
    assert iv.value == 0.8
    assert iv.low == pytest.approx(0.4902, abs=1e-3) and iv.high == pytest.approx(0.9433, abs=1e-3)
    assert wilson(0, 0).value is None and wilson(0, 0).n == 0
    assert wilson(0, 20).low == 0.0 and wilson(20, 20).high == 1.0
    with pytest.raises(ValueError, match="k must be"):
        wilson(3, 2)


def test_binomial_two_sided_exact() -> None:
    assert binomial_two_sided(0, 0) == 1.0
    assert binomial_two_sided(0, 5) == pytest.approx(2 / 32)
    assert binomial_two_sided(1, 10) == pytest.approx(2 * 11 / 1024)
    assert binomial_two_sided(5, 10) == 1.0
    assert 0 < binomial_two_sided(0, 2000) < 1e-300 or binomial_two_sided(0, 2000) == 0.0  # no overflow


def test_bootstrap_is_seeded_and_brackets_the_mean() -> None:
    values = [float(i % 7) for i in range(60)]
    a, b = bootstrap(values, mean, seed=3), bootstrap(values, mean, seed=3)
    assert a == b
    assert a.low is not None and a.high is not None and a.low < (a.value or 0) < a.high


def test_bootstrap_says_when_it_cannot_give_an_interval() -> None:
    few = bootstrap([1.0, 2.0], mean)
    assert few.value == 1.5 and few.low is None and few.high is None
    assert bootstrap([], mean).value is None
    # a statistic that is undefined on most resamples: no interval rather than a biased one
    undefined = bootstrap([0.0] * 19 + [1.0], lambda xs: 1.0 if sum(xs) > 1 else None)
    assert undefined.low is None


def test_paired_difference_and_sign_test() -> None:
    a = [0.0] * 20
    b = [1.0] * 18 + [0.0, -1.0]
    t = paired_difference(a, b)
    assert t.difference.value == pytest.approx(17 / 20)
    assert (t.b_higher, t.a_higher) == (18, 1)
    assert t.p_value == pytest.approx(binomial_two_sided(1, 19))
    assert t.difference.excludes(0.0)
    with pytest.raises(ValueError, match="equal lengths"):
        paired_difference([1.0], [])


def test_mcnemar_counts_only_discordant_pairs() -> None:
    a = [True] * 10 + [False] * 10 + [True] * 2
    b = [True] * 10 + [True] * 8 + [False] * 2 + [False] * 2
    t = mcnemar_exact(a, b)
    assert (t.b_higher, t.a_higher) == (8, 2)
    assert t.p_value == pytest.approx(binomial_two_sided(2, 10))
    assert t.mean_a == pytest.approx(12 / 22) and t.mean_b == pytest.approx(18 / 22)
    assert math.isclose(t.difference.value or 0, 6 / 22)
