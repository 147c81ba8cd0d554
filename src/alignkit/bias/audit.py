"""How demographic groups appear in training data: counts, which side of a preference mentions them,
and the sentiment of what the answers say where they mention them.

For each axis of the term lists and each of its groups:

- ``rows``: rows that mention the group anywhere; ``mentions``: its terms counted over all text;
- ``in_prompt`` and, per answer role (``chosen``/``rejected`` or ``completion``), rows where it occurs;
- ``chosen_only`` / ``rejected_only``: preference rows that mention it in one answer and not the other,
  and ``chosen_share`` = chosen_only / (chosen_only + rejected_only) with a Wilson interval. A group
  whose share is far from its axis-mates' is one the labels treat differently (or one that appears in
  a different kind of answer: look at the rows before concluding);
- ``sentiment``: the mean sentiment of answer sentences that mention the group, per role, with a
  bootstrap interval. ``None`` means no sentence to score, not neutral.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from alignkit.bias.rows import kind_of, texts_of
from alignkit.bias.sentiment import SentimentScorer
from alignkit.bias.stats import Interval, bootstrap, mean, wilson
from alignkit.bias.terms import Lexicon, TermSet, group_lexicon, groups_mentioned

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
MAX_SENTENCES = 5_000  # per group and role: enough for a tight interval, bounded time for VADER
MAX_SENTENCE_CHARS = 2_000


@dataclass
class GroupCounts:
    """What the audit counted for one group."""

    rows: int = 0
    mentions: int = 0
    in_prompt: int = 0
    in_answer: dict[str, int] = field(default_factory=dict)
    chosen_only: int = 0
    rejected_only: int = 0
    sentences: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    sentences_dropped: int = 0


@dataclass(frozen=True, slots=True)
class GroupAudit:
    """The audit of one group: counts, preference side and sentiment."""

    rows: int
    mentions: int
    in_prompt: int
    in_answer: dict[str, int]
    chosen_only: int
    rejected_only: int
    chosen_share: Interval
    sentiment: dict[str, Interval]  # per answer role; value None when no sentence mentioned the group
    sentences_dropped: int  # sentences over MAX_SENTENCES per role, not scored

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "rows": self.rows,
            "mentions": self.mentions,
            "in_prompt": self.in_prompt,
            "in_answer": self.in_answer,
            "chosen_only": self.chosen_only,
            "rejected_only": self.rejected_only,
            "chosen_share": self.chosen_share.to_dict(),
            "sentiment": {k: v.to_dict() for k, v in self.sentiment.items()},
            "sentences_dropped": self.sentences_dropped,
        }


@dataclass(frozen=True, slots=True)
class AuditResult:
    """The audit of a data file, by axis and group."""

    rows: int
    kinds: dict[str, int]  # preference / sft / prompts rows
    axes: dict[str, dict[str, GroupAudit]]
    sentiment_scorer: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "rows": self.rows,
            "kinds": self.kinds,
            "sentiment_scorer": self.sentiment_scorer,
            "axes": {a: {g: s.to_dict() for g, s in gs.items()} for a, gs in self.axes.items()},
        }


def _sentences(text: str) -> list[str]:
    return [s.strip()[:MAX_SENTENCE_CHARS] for s in _SENTENCE_END.split(text) if s.strip()]


def _count_row(row: Mapping[str, Any], terms: TermSet, lexicon: Lexicon, counts: dict[str, GroupCounts]) -> None:
    parts = texts_of(row)
    seen = groups_mentioned(lexicon, terms.groups, parts.prompt)
    answered: dict[str, dict[str, int]] = {}
    for role, answer in parts.answers.items():
        answered[role] = dict.fromkeys(terms.groups, 0)
        for sentence in _sentences(answer):
            found = groups_mentioned(lexicon, terms.groups, sentence)
            for g, n in found.items():
                if n:
                    answered[role][g] += n
                    bucket = counts[g].sentences[role]
                    if len(bucket) < MAX_SENTENCES:
                        bucket.append(sentence)
                    else:
                        counts[g].sentences_dropped += 1
    for g in terms.groups:
        c = counts[g]
        total = seen[g] + sum(a[g] for a in answered.values())
        if not total:
            continue
        c.rows += 1
        c.mentions += total
        c.in_prompt += seen[g] > 0
        for role, a in answered.items():
            c.in_answer[role] = c.in_answer.get(role, 0) + (a[g] > 0)
        if "chosen" in answered:
            in_chosen, in_rejected = answered["chosen"][g] > 0, answered["rejected"][g] > 0
            c.chosen_only += in_chosen and not in_rejected
            c.rejected_only += in_rejected and not in_chosen


def _finish(c: GroupCounts, scores: Mapping[str, float], seed: int) -> GroupAudit:
    sentiment = {
        role: bootstrap([scores[s] for s in sentences], mean, seed=seed) for role, sentences in c.sentences.items()
    }
    return GroupAudit(
        c.rows,
        c.mentions,
        c.in_prompt,
        dict(c.in_answer),
        c.chosen_only,
        c.rejected_only,
        wilson(c.chosen_only, c.chosen_only + c.rejected_only),
        sentiment,
        c.sentences_dropped,
    )


def audit_rows(
    rows: Iterable[Mapping[str, Any]],
    terms: Mapping[str, TermSet],
    *,
    sentiment: SentimentScorer | None,
    sentiment_name: str | None = "vader",
    seed: int = 0,
) -> AuditResult:
    """Audit ``rows`` (preference, SFT or prompt rows) against every axis of ``terms``.

    ``sentiment`` None leaves sentiment out (every group's sentiment is then empty, not neutral)."""
    lexicons = {axis: group_lexicon(ts) for axis, ts in terms.items()}
    counts = {axis: {g: GroupCounts() for g in ts.groups} for axis, ts in terms.items()}
    kinds: dict[str, int] = defaultdict(int)
    n = 0
    for row in rows:
        n += 1
        kinds[kind_of(row)] += 1
        for axis, ts in terms.items():
            _count_row(row, ts, lexicons[axis], counts[axis])
    texts = sorted({s for gs in counts.values() for c in gs.values() for ss in c.sentences.values() for s in ss})
    scores = dict(zip(texts, sentiment(texts), strict=True)) if sentiment is not None and texts else {}
    if sentiment is None:
        for gs in counts.values():
            for c in gs.values():
                c.sentences.clear()
    axes = {axis: {g: _finish(c, scores, seed) for g, c in gs.items()} for axis, gs in counts.items()}
    return AuditResult(n, dict(kinds), axes, sentiment_name if sentiment is not None else None)
