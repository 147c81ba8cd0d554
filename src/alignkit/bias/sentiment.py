"""Sentiment of answers, offline: VADER (Hutto and Gilbert, ICWSM 2014), a rule-based scorer with a
human-rated lexicon, from PyPI's ``vaderSentiment`` (MIT), the ``bias`` extra.

A scorer is any function from texts to compound scores in [-1, 1] (negative to positive), so tests and
users can pass their own (a classifier, an LLM judge). VADER was built for short social-media texts;
on long answers its compound score saturates towards +/-1, which is why the counterfactual report
compares paired differences rather than absolute values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from alignkit.core.errors import MissingDependencyError

SentimentScorer = Callable[[Sequence[str]], list[float]]
"""``scorer(texts) -> compound scores``, one per text, each in [-1, 1]."""


def vader() -> SentimentScorer:
    """VADER's compound score; a :class:`MissingDependencyError` naming the extra when it is not installed."""
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:
        raise MissingDependencyError("sentiment scoring (VADER)", "vaderSentiment", "bias") from None
    analyzer = SentimentIntensityAnalyzer()

    def score(texts: Sequence[str]) -> list[float]:
        return [float(analyzer.polarity_scores(t)["compound"]) for t in texts]

    return score
