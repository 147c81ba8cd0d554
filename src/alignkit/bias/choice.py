"""Multiple-choice answers from any model: the letter it picks, read from its first-token
log-probabilities when the provider gives them, else parsed from the text it generated.

Every answer ends up as one :class:`Pick`: a letter with the method that found it (``logprobs`` or
``text``), or no letter with the reason (``unparseable``: the answer names no option; ``error``: the
provider failed). Callers count the last two as wrong and report them; they are never dropped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from alignkit.core.completion import Completion
from alignkit.core.config import GenerateConfig
from alignkit.core.model import Model

LETTERS = "ABCDEFGH"
BATCH = 16  # prompts per generate_batch call: progress is reported between calls
TOP_LOGPROBS = 20  # the most OpenAI-compatible servers return; the letters are nearly always among them
ANSWER_TOKENS = 12  # enough for "The answer is (B)" when the letter is not the first token
MAX_OPTION_CHARS = 2_000  # an option longer than this is a data error, not a multiple-choice answer

Method = Literal["logprobs", "text", "unparseable", "error"]

INSTRUCTION = "Answer with the letter of the correct option only."

# "B", "(B)", "B.", "B)" at the start (not "A lot ..."); "answer is B" / "answer: (B)" in the first line.
_LEADING = re.compile(r"\s*[(\[]?([A-H])(?:[.):\],]|\s*$)")
_ARTICLE = re.compile(r"^(?:the|a|an) ")
_STATED = re.compile(r"answer(?: is)?:?\s{0,3}[(\[]?([A-H])(?![A-Za-z])", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Pick:
    """What a model answered to one multiple-choice question."""

    index: int | None  # 0-based option index; None when no option could be read
    method: Method
    text: str  # the generated answer, for the report
    confidence: float | None = None  # P(letter) renormalized over the options (logprobs method only)


def format_question(stem: str, options: Sequence[str]) -> str:
    """``stem``, the lettered options and the instruction, as one prompt."""
    if not 2 <= len(options) <= len(LETTERS):
        raise ValueError(f"a multiple-choice question needs 2 to {len(LETTERS)} options; got {len(options)}")
    lines = [stem.strip(), ""]
    lines += [f"{LETTERS[i]}. {opt.strip()[:MAX_OPTION_CHARS]}" for i, opt in enumerate(options)]
    lines += ["", INSTRUCTION]
    return "\n".join(lines)


def _letter_of(token: str, n_options: int) -> int | None:
    """The option index a first token stands for: "A", " A", "(A", "A." ... (case-sensitive: "a" is a word)."""
    t = token.strip().strip("([").rstrip(".):]")
    if len(t) == 1 and t in LETTERS[:n_options]:
        return LETTERS.index(t)
    return None


def letter_probs(top: Mapping[str, float], n_options: int) -> list[float] | None:
    """P(option letter) from first-token log-probabilities, renormalized over the letters seen (token
    variants such as " A" and "A" merged); None when no letter is among them."""
    mass = [0.0] * n_options
    for token, logp in top.items():
        i = _letter_of(token, n_options)
        if i is not None:
            mass[i] += math.exp(logp)
    total = sum(mass)
    return [m / total for m in mass] if total > 0.0 else None


def pick_from_logprobs(top: Mapping[str, float], n_options: int) -> tuple[int, float] | None:
    """The most probable option letter among the first-token log-probabilities and its probability
    renormalized over the letters seen; None when no letter is among them."""
    probs = letter_probs(top, n_options)
    if probs is None:
        return None
    best = max(range(n_options), key=lambda i: probs[i])
    return best, probs[best]


def pick_from_text(text: str, options: Sequence[str]) -> int | None:
    """The option a generated answer names: a leading letter, "the answer is X", or (failing those)
    the one option whose text it contains; None when it names none or several."""
    first = text.strip().split("\n", 1)[0][:500]
    n = len(options)
    for pattern in (_LEADING, _STATED):
        m = pattern.match(first) if pattern is _LEADING else pattern.search(first)
        if m and LETTERS.index(m.group(1)) < n:
            return LETTERS.index(m.group(1))
    low = first.lower()
    cores = [_ARTICLE.sub("", opt.strip().lower().rstrip(".")) for opt in options]
    named = [i for i, core in enumerate(cores) if core and core in low]
    # "the old man" names "old man" too: keep only options that are not part of another one named.
    named = [i for i in named if not any(j != i and cores[i] in cores[j] for j in named)]
    return named[0] if len(named) == 1 else None


def read_pick(completion: Completion, options: Sequence[str]) -> Pick:
    """The :class:`Pick` of one completion: log-probabilities first, then the text."""
    if not completion.ok:
        return Pick(None, "error", completion.error or "")
    top = completion.top_logprobs
    if top:
        found = pick_from_logprobs(top, len(options))
        if found is not None:
            return Pick(found[0], "logprobs", completion.text, found[1])
    index = pick_from_text(completion.text, options)
    return Pick(index, "text" if index is not None else "unparseable", completion.text)


def _complete(
    model: Model,
    questions: Sequence[tuple[str, Sequence[str]]],
    config: GenerateConfig | None,
    on_progress: Callable[[int, int], None] | None,
) -> list[Completion]:
    cfg = GenerateConfig(temperature=0.0, max_tokens=ANSWER_TOKENS, top_logprobs=TOP_LOGPROBS).merge(config)
    completions: list[Completion] = []
    for start in range(0, len(questions), BATCH):
        prompts = [format_question(stem, options) for stem, options in questions[start : start + BATCH]]
        completions += model.generate_batch(prompts, cfg, on_error="record")
        if on_progress is not None:
            on_progress(len(completions), len(questions))
    return completions


def combine_rotations(completions: Sequence[Completion], options: Sequence[str]) -> Pick:
    """One Pick from the answers to every rotation of ``options`` (rotation r shows option (j + r) % n
    as letter j): the option with the highest mean vote, where a vote is the renormalized letter
    probabilities (or a one-hot vector for an answer read from text). A model that answers by position
    alone spreads its votes evenly: such a tie names no option and counts as unparseable."""
    n = len(options)
    votes: list[list[float]] = []
    used_text = False
    for r, c in enumerate(completions):
        shown = [options[(j + r) % n] for j in range(n)]
        probs = letter_probs(c.top_logprobs, n) if c.ok and c.top_logprobs else None
        if probs is None and c.ok:
            j = pick_from_text(c.text, shown)
            probs = None if j is None else [float(k == j) for k in range(n)]
            used_text = used_text or probs is not None
        if probs is not None:
            votes.append([probs[(i - r) % n] for i in range(n)])
    text = " | ".join(c.text for c in completions)
    if not votes:
        failed = all(not c.ok for c in completions)
        return Pick(None, "error" if failed else "unparseable", text)
    mean_vote = [sum(v[i] for v in votes) / len(votes) for i in range(n)]
    best = max(range(n), key=lambda i: mean_vote[i])
    if sum(abs(mean_vote[best] - m) < 1e-9 for m in mean_vote) > 1:
        return Pick(None, "unparseable", f"tie across rotations: {text}")
    return Pick(best, "text" if used_text else "logprobs", text, mean_vote[best])


def ask_choices(
    model: Model,
    questions: Sequence[tuple[str, Sequence[str]]],
    *,
    config: GenerateConfig | None = None,
    rotate: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[Pick]:
    """Ask ``model`` each ``(stem, options)`` question greedily, ``BATCH`` at a time; one Pick each.

    The first-token log-probabilities are requested; providers that cannot give them answer in text.
    ``rotate=True`` asks every cyclic rotation of the options (n times the calls) and combines them
    (:func:`combine_rotations`), so a preference for a letter's position cancels out."""
    if not rotate:
        completions = _complete(model, questions, config, on_progress)
        return [read_pick(c, options) for c, (_, options) in zip(completions, questions, strict=True)]
    rotated = [(stem, [*options[r:], *options[:r]]) for stem, options in questions for r in range(len(options))]
    completions = _complete(model, rotated, config, on_progress)
    picks, at = [], 0
    for _, options in questions:
        picks.append(combine_rotations(completions[at : at + len(options)], options))
        at += len(options)
    return picks


def method_counts(picks: Sequence[Pick]) -> dict[str, int]:
    """How many picks each method produced (``unparseable`` and ``error`` included, with zeros)."""
    counts = {m: 0 for m in ("logprobs", "text", "unparseable", "error")}
    for p in picks:
        counts[p.method] += 1
    return counts
