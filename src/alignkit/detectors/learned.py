"""The learned detectors: ``toxicity``, ``jailbreak``, ``prompt_injection`` and ``harmful_request``.

Each is a hashed n-gram logistic regression (:mod:`alignkit.detectors.linear`) trained by
``scripts/train_detectors.py`` on public datasets, shipped as int8 weights under ``weights/`` with a
manifest that records the data files (and their sha256), the seed, the hyper-parameters and the
held-out metrics. Inference is pure Python (no numpy, no torch): about a tenth of a millisecond for a
300-character text on one core, most of it spent on de-obfuscation, which the four detectors share.

Every detector scores each de-obfuscated reading of the text (:func:`~alignkit.detectors.normalize.variants`:
confusables, zero-width characters, leetspeak, spaced letters, base64 payloads) and keeps the highest,
so obfuscation can only raise a score. The readings and their features are memoized per text, so a
guard that runs all four detectors on one prompt computes them once.

Scores are Platt-calibrated probabilities for text drawn like each model's training mix (recorded in
its manifest: mostly several benign texts per harmful one; toxicity's tweets are mostly offensive),
not for any particular deployment's prevalence.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from alignkit.core.errors import ConfigError
from alignkit.detectors.base import Detector, Finding, detector
from alignkit.detectors.linear import (
    EDGE_PUNCT,
    TOKEN_MEMO_LIMIT,
    Featurizer,
    LinearModel,
    Memo,
    TextFeatures,
    load_model,
)
from alignkit.detectors.normalize import variants

WEIGHTS_DIR = Path(__file__).parent / "weights"
HAZARDS = (
    "violent_crime",
    "nonviolent_crime",
    "weapons",
    "self_harm",
    "hate",
    "sexual",
    "privacy",
    "cyber",
    "misinformation",
)
"""harmful_request's categories, aligned with the MLCommons hazard taxonomy (and so Llama Guard)."""

CATEGORY_FLOOR = 0.05  # harmful_request: below this overall score the category breakdown is skipped
MEMO_MAX_CHARS = 20_000  # longer texts are analysed afresh each time rather than kept in the memo


@functools.cache
def featurizer(bits: int) -> Featurizer:
    """One featurizer per bucket size, shared by every model so token features are computed once."""
    return Featurizer(bits)


@functools.cache
def shipped_model(name: str, weights_dir: str | None = None) -> LinearModel:
    """The model ``name`` from the package's weights (or from ``weights_dir``), loaded once."""
    manifest = Path(weights_dir or WEIGHTS_DIR) / f"{name}.json"
    if not manifest.exists():
        raise ConfigError(
            f"no weights for the {name} detector at {manifest}; reinstall alignkit, or train them with "
            "`python scripts/train_detectors.py` (needs the train extra)"
        )
    return load_model(manifest, featurizer)


@functools.lru_cache(maxsize=256)
def _readings_memo(text: str, bits: int) -> tuple[tuple[str, TextFeatures], ...]:
    return _readings(text, bits)


def _readings(text: str, bits: int) -> tuple[tuple[str, TextFeatures], ...]:
    f = featurizer(bits)
    return tuple((v, f.analyse(v)) for v in variants(text))


def readings(text: str, bits: int) -> tuple[tuple[str, TextFeatures], ...]:
    """Each de-obfuscated reading of ``text`` with its features (memoized for recent short texts)."""
    return _readings_memo(text, bits) if len(text) <= MEMO_MAX_CHARS else _readings(text, bits)


class LearnedDetector(Detector):
    """A shipped model scored on every reading of the text; the highest-scoring reading wins."""

    model_name: ClassVar[str]
    head: ClassVar[str]

    def __init__(self, *, threshold: float | str | None = None, weights_dir: str | None = None) -> None:
        self.model = shipped_model(self.model_name, weights_dir)  # first: it holds the operating points
        super().__init__(threshold=threshold, weights_dir=weights_dir)
        self._bits = self.model.featurizer.bits

    def operating_points(self) -> dict[str, float]:
        """``default`` (chosen for a guard: at most 2% false positives on benign look-alikes) and
        ``high_recall`` (for red-team judging and triage), as recorded in the model's manifest."""
        recorded = self.model.info.get("operating_points") or {}
        points = {
            name: float(p["threshold"]) for name, p in recorded.items() if isinstance(p, dict) and "threshold" in p
        }
        return {"default": self.default_threshold, **points}

    def best_reading(self, text: str) -> tuple[float, int, tuple[tuple[str, TextFeatures], ...]]:
        """(probability, index of the reading that gave it, all readings)."""
        views = readings(text, self._bits)
        best, best_i = 0.0, 0
        for i, (_, features) in enumerate(views):
            p = self.model.probability(features, self.head)
            if p > best:
                best, best_i = p, i
        return best, best_i, views

    def explain(self, what: str, p: float, reading: int) -> str:
        where = " (in a de-obfuscated reading of the text)" if reading else ""
        return f"P({what}) = {p:.2f}{where}"

    def find(self, text: str) -> Finding:
        p, i, _ = self.best_reading(text)
        label = self.head if p >= self.threshold else None
        return Finding(score=p, label=label, reason=self.explain(self.head, p, i))


# -- toxicity ---------------------------------------------------------------------------------------
# Small pattern heads for what the tweet-trained model covers least. Written for alignkit (not a copied
# word list). Single words are classified once per distinct token (memoized, like the features); the
# multi-word threat pattern runs only on texts that contain one of its verbs.
_PROFANE = re.compile(
    r"f+u+c*k+\w*|fck\w*|sh[i1]t+(?:s|ty|head|hole|ting|ter)?|bullshit\w*|cunts?|motherf\w*|a[rs]seholes?|"
    r"bitch\w*|dickheads?|bastards?|wank\w*|twats?"
)
_SEXUAL = re.compile(
    r"porn\w*|blowjobs?|handjobs?|cumshots?|dildos?|orgasm\w*|masturbat\w*|horny|nudes|pussy|cocks|tits|"
    r"titties|boobs|erotic\w*|xxx|sexting|deepthroat\w*|gangbang\w*"
)
_THREAT_VERB = re.compile(r"kill|murder|hurt|stab|shoot|strangle|beat|burn|rape|end|die|pay|regret|live|back|hang")
_THREAT = re.compile(
    r"\b(?:i|we)\s*(?:'ll|will|am going to|'m going to|'m gonna|are going to|gonna)\s+(?:\w+\s+){0,2}"
    r"(?:kill|murder|hurt|stab|shoot|strangle|beat|burn|rape|end)\s+(?:you|u|your|him|her|them)\b"
    r"|\byou(?:'re| are)\s+(?:going to|gonna)\s+(?:die|pay|regret)\b|\bi know where you live\b"
    r"|\bwatch your back\b|\b(?:kill|hang|shoot)\s+(?:yo)?urself\b|\byou(?:'ll| will) (?:die|regret)\b"
)


def _word_test(pattern: re.Pattern[str]) -> Memo[int]:
    """token -> 1 if the token (edge punctuation stripped) is one of ``pattern``'s words, else 0."""
    return Memo(lambda t: int(pattern.fullmatch(t.strip(EDGE_PUNCT)) is not None), TOKEN_MEMO_LIMIT)


_IS_PROFANE, _IS_SEXUAL, _IS_THREAT_VERB = _word_test(_PROFANE), _word_test(_SEXUAL), _word_test(_THREAT_VERB)
_MAX_MATCHES = 3


def lexicon_scores(views: Sequence[tuple[str, TextFeatures]]) -> dict[str, float]:
    """``1 - miss**matches`` per pattern head: 0.9 for one profane word or threat, 0.65 for one sexual
    term, more for several (up to three); the highest over the readings."""
    profane = sexual = threat = 0
    for text, f in views:
        profane = max(profane, sum(map(_IS_PROFANE.__getitem__, f.tokens)))
        sexual = max(sexual, sum(map(_IS_SEXUAL.__getitem__, f.tokens)))
        if threat < _MAX_MATCHES and any(map(_IS_THREAT_VERB.__getitem__, f.tokens)):
            found = 0
            for _ in _THREAT.finditer(text.lower()):
                found += 1
                if found == _MAX_MATCHES:
                    break
            threat = max(threat, found)
    return {
        "profanity": _saturate(profane, 0.1),
        "threat": _saturate(threat, 0.1),
        "sexual": _saturate(sexual, 0.35),
    }


def _saturate(matches: int, miss: float) -> float:
    return 1.0 - miss ** min(matches, _MAX_MATCHES) if matches else 0.0


@detector(
    "toxicity",
    aliases=("no_toxic_language", "toxic_language", "toxic-language", "guardrails/toxic_language", "toxic"),
)
class ToxicityDetector(LearnedDetector):
    """Toxic language (hate speech, insults, profanity, threats): P(toxic), with categories."""

    name = "toxicity"
    model_name = "toxicity"
    head = "toxic"

    def find(self, text: str) -> Finding:
        p, i, views = self.best_reading(text)
        hate = self.model.probability(views[i][1], "hate") if p > 0 else 0.0
        cats = {"hate": p * hate, "offensive": p * (1.0 - hate), **lexicon_scores(views)}
        score = max(p, cats["threat"])
        label = max(cats, key=lambda c: cats[c]) if score >= self.threshold else None
        reason = self.explain("toxic", p, i)
        if label:
            reason += f"; strongest category {label} ({cats[label]:.2f})"
        return Finding(score=score, label=label, categories=cats, reason=reason)


# -- jailbreak and prompt injection -----------------------------------------------------------------
@detector("jailbreak", aliases=("detect_jailbreak", "guardrails/detect_jailbreak", "jailbreak_attempt"))
class JailbreakDetector(LearnedDetector):
    """A prompt that tries to talk the model out of its rules (DAN-style personas, adversarial suffixes)."""

    name = "jailbreak"
    model_name = "jailbreak"
    head = "jailbreak"
    applies_to = "input"


@detector(
    "prompt_injection",
    aliases=("detect_prompt_injection", "injection", "guardrails/detect_prompt_injection", "prompt-injection"),
)
class PromptInjectionDetector(LearnedDetector):
    """Instructions that try to take over the model: typed by the user, or hidden in a document or email."""

    name = "prompt_injection"
    model_name = "prompt_injection"
    head = "injection"
    applies_to = "any"


# -- harmful requests -------------------------------------------------------------------------------
@detector("harmful_request", aliases=("harm", "harmful", "unsafe_request", "hazard"))
class HarmfulRequestDetector(LearnedDetector):
    """A request for help with harm, with scores for the MLCommons hazard categories (:data:`HAZARDS`).

    A category's score is ``P(harmful) * P(category | harmful)``: the category heads were trained on
    harmful requests only, so they say which harm, and the overall head says whether. Below
    ``CATEGORY_FLOOR`` overall no category can reach it either, so the nine heads are skipped (the
    common, benign case stays fast) and every category reads 0.0.
    """

    name = "harmful_request"
    model_name = "harmful_request"
    head = "harmful"
    applies_to = "input"

    def find(self, text: str) -> Finding:
        p, i, views = self.best_reading(text)
        if p >= CATEGORY_FLOOR:
            cats = {c: p * self.model.probability(views[i][1], c) for c in HAZARDS}
        else:
            cats = dict.fromkeys(HAZARDS, 0.0)
        flagged = p >= self.threshold
        label = max(cats, key=lambda c: cats[c]) if flagged else None
        reason = self.explain("harmful", p, i) + (f"; most likely {label} ({cats[label]:.2f})" if label else "")
        return Finding(score=p, label=label, categories=cats, reason=reason)


DETECTORS: dict[str, type[LearnedDetector]] = {
    d.name: d for d in (ToxicityDetector, JailbreakDetector, PromptInjectionDetector, HarmfulRequestDetector)
}
"""The learned detectors by model name (what ``scripts/train_detectors.py`` trains)."""


def model_info(name: str) -> dict[str, Any]:
    """The manifest of a shipped model: data files and sha256, seed, hyper-parameters, held-out metrics."""
    return dict(shipped_model(name).info)
