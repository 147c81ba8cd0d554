"""Personal data in text: e-mail addresses, phone numbers, card numbers, IBANs, national identifiers,
IP addresses, street addresses and names, found offline by patterns and checksums.

    >>> from alignkit.detectors import get_detector
    >>> v = get_detector("pii").detect("Mail jane@example.com or call +44 20 7946 0958.")
    >>> v.flagged, v.label, sorted(v.categories)
    (True, 'EMAIL', ['EMAIL', 'PHONE'])
    >>> redact("Mail jane@example.com now", v.spans[:1])
    'Mail <EMAIL> now'

Patterns, plus a small learned tagger for names and addresses: the detector runs on every prompt and
answer a guard sees, so it must be fast (a fraction of a millisecond on a short text), deterministic and
free of downloads. Numbers with a checksum (cards: Luhn; IBANs: mod-97) are validated, so look-alikes
are not flagged. Names and street addresses come from patterns in strong contexts (titles, "my name
is", house number + street type) and from :mod:`alignkit.detectors.pii_tagger`, a pure-Python token
tagger trained on a synthetic corpus and real benign text; overlapping spans of the two are merged.
The detector runs in guards that redact, so precision on ordinary text counts as much as recall: the
tagger's thresholds are chosen under a cap on spans per 1,000 characters of benign text, and a one-word
name needs a higher score than a longer one. The trade-off, measured in ``bench/RESULTS.md``: on
Presidio's synthetic set (never trained on), over the patterns alone, address recall 0.30 -> 0.78 at
precision 1.00, name recall only 0.25 -> 0.35 at precision 0.96 (a first, looser tagger reached 0.53 at
precision 0.87, but flagged "License" or "Bonferroni" in ordinary text 10 to 40 times as often), for
about one extra span per 100,000 characters of abstracts or licences. A name alone at a sentence start,
or a one-word name in a weak context, is still missed. Pass ``entities=`` without PERSON and
STREET_ADDRESS to leave the tagger out.
:mod:`alignkit.detectors.pii_patterns` holds the recognizers (e-mail addresses, written or spelled out, in
:mod:`alignkit.detectors.pii_email`; names in :mod:`alignkit.detectors.pii_people`).

Redaction (:func:`redact`) and reversible anonymization (:class:`Vault`) work on the spans of any
detector (PII, secrets), so a guard can hide values from a model and put them back in its answer.
Neither ever logs or reports a value: reasons give entity counts only.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from alignkit.core.errors import ConfigError
from alignkit.core.records import Span, Verdict
from alignkit.detectors.base import Detector, Finding, detector
from alignkit.detectors.normalize import entity_readings
from alignkit.detectors.pii_patterns import ENTITIES, FINDERS
from alignkit.detectors.pii_tagger import CLASSES as TAGGED
from alignkit.detectors.pii_tagger import find_names_and_addresses

__all__ = [
    "ENTITIES",
    "PIIDetector",
    "Vault",
    "find_in_readings",
    "find_pii",
    "redact",
    "resolve_overlaps",
    "spans_finding",
]

# Entity names other tools use (Presidio, Guardrails' detect_pii), accepted in ``entities=[...]``.
ENTITY_ALIASES = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "IBAN_CODE": "IBAN",
    "SSN": "US_SSN",
    "NINO": "UK_NINO",
    "IP": "IP_ADDRESS",
    "ADDRESS": "STREET_ADDRESS",
    "NAME": "PERSON",
}
REDACTION_STYLES = ("label", "mask", "remove")


def resolve_entities(entities: Iterable[str] | str | None) -> tuple[str, ...]:
    """Canonical entity names, in scan order; all of them for None. Unknown names raise ConfigError."""
    if entities is None:
        return ENTITIES
    asked = [entities] if isinstance(entities, str) else list(entities)
    wanted = set()
    for name in asked:
        key = str(name).strip().upper()
        key = ENTITY_ALIASES.get(key, key)
        if key not in ENTITIES:
            raise ConfigError(
                f"pii: unknown entity {name!r}; known entities: {', '.join(ENTITIES)} "
                f"(also accepted: {', '.join(sorted(ENTITY_ALIASES))})"
            )
        wanted.add(key)
    if not wanted:
        raise ConfigError(f"pii: entities is empty; pass None for all, or some of: {', '.join(ENTITIES)}")
    return tuple(e for e in ENTITIES if e in wanted)


def resolve_overlaps(spans: Iterable[Span]) -> list[Span]:
    """Spans that do not overlap, in text order: where spans overlap, the highest score wins, then the
    longest (a validated card number beats the phone-number reading of its digits)."""
    out: list[Span] = []
    cluster: list[Span] = []  # spans chained by overlaps; only these compete with each other
    cluster_end = 0
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        if cluster and span.start >= cluster_end:
            out.extend(_best_disjoint(cluster))
            cluster = []
        cluster_end = max(cluster_end, span.end) if cluster else span.end
        cluster.append(span)
    out.extend(_best_disjoint(cluster))
    return out


def _best_disjoint(spans: list[Span]) -> list[Span]:
    """Greedy by rank: take each span, best first, unless it overlaps one already taken."""
    if len(spans) < 2:
        return spans
    kept: list[Span] = []  # disjoint, so sorted by start is also sorted by end
    starts: list[int] = []
    for span in sorted(spans, key=lambda s: (-s.score, s.start - s.end, s.start)):
        i = bisect_right(starts, span.start)
        if (i and kept[i - 1].end > span.start) or (i < len(kept) and kept[i].start < span.end):
            continue  # overlaps a neighbour that ranks higher
        starts.insert(i, span.start)
        kept.insert(i, span)
    return kept


def find_pii(text: str, entities: Sequence[str] = ENTITIES, min_score: float = 0.0) -> list[Span]:
    """Every entity of the given types in ``text`` scoring at least ``min_score``, overlaps resolved.

    Names and street addresses come from the patterns and the tagger together: where spans of one of
    these types overlap, they become one span covering both, with the higher score. The tagger's spans
    on armour lines (``-----BEGIN ... PRIVATE KEY-----``, even reversed) are dropped: capitalised words
    there are never names, and redacting one would break the key's armour, so that the secrets
    detector after it no longer sees the key it must hide."""
    found = [s for name in entities for s in FINDERS[name](text) if s.score >= min_score]
    tagged = [name for name in entities if name in TAGGED]
    if tagged:
        armour = [m.span() for m in _ARMOUR_LINE.finditer(text)] if "-----" in text else []
        found += [
            s
            for s in find_names_and_addresses(text)
            if s.label in tagged and s.score >= min_score and not any(a <= s.start < b for a, b in armour)
        ]
        found = _union_tagged(found)
    return resolve_overlaps(found)


_ARMOUR_LINE = re.compile(r"-----[^\n]{1,80}?-----")


def _union_tagged(spans: list[Span]) -> list[Span]:
    """Overlapping PERSON (or STREET_ADDRESS) spans merged into one; other spans as they are."""
    out = [s for s in spans if s.label not in TAGGED]
    for label in TAGGED:
        run: Span | None = None
        for s in sorted((s for s in spans if s.label == label), key=lambda s: (s.start, s.end)):
            if run is not None and s.start < run.end:
                run = Span(run.start, max(run.end, s.end), label, max(run.score, s.score))
                continue
            if run is not None:
                out.append(run)
            run = s
        if run is not None:
            out.append(run)
    return out


def _counts(spans: Iterable[Span]) -> str:
    counts = Counter(s.label for s in spans)
    return ", ".join(f"{n} {label}" for label, n in sorted(counts.items()))


def spans_finding(spans: Sequence[Span], hidden: set[Span]) -> Finding:
    """The finding of a detector that points at values: the best label's score, a score per label, the
    spans, and a reason that counts them by label (never shows a value), saying which were ``hidden``
    (found only in a de-obfuscated reading)."""
    if not spans:
        return Finding(0.0)
    categories: dict[str, float] = {}
    for s in spans:
        categories[s.label] = max(categories.get(s.label, 0.0), s.score)
    plain = [s for s in spans if s not in hidden]
    shown = [s for s in spans if s in hidden]
    parts = (
        f"found {_counts(plain)}" if plain else "",
        f"{_counts(shown)} found after Unicode normalization" if shown else "",
    )
    label = max(categories, key=lambda k: categories[k])
    return Finding(
        categories[label],
        label=label,
        categories=categories,
        spans=tuple(spans),
        reason="; ".join(p for p in parts if p),
    )


def find_in_readings(find: Callable[[str], list[Span]], text: str) -> tuple[list[Span], set[Span]]:
    """The spans ``find`` gives on ``text`` and on each of its de-obfuscated readings
    (:func:`~alignkit.detectors.normalize.entity_readings`), mapped back to ``text``, and which of them
    only a reading showed. Overlapping spans of different readings become one covering both (with the
    label of the higher score), so redacting the result hides every character any reading pointed at."""
    plain = find(text)
    readings = entity_readings(text)
    if not readings:
        return plain, set()
    found = set(plain)
    for reading in readings:
        found.update(Span(*reading.span(s.start, s.end), s.label, s.score) for s in find(reading.text))
    merged = _union_overlaps(found)
    return merged, set(merged) - set(plain)


def _union_overlaps(spans: Iterable[Span]) -> list[Span]:
    out: list[Span] = []
    for s in sorted(spans, key=lambda s: (s.start, s.end)):
        last = out[-1] if out else None
        if last is None or s.start >= last.end:
            out.append(s)
            continue
        best = last if last.score >= s.score else s
        out[-1] = Span(last.start, max(last.end, s.end), best.label, best.score)
    return out


@detector("pii", aliases=("no_pii", "detect_pii", "guardrails/detect_pii", "pii_detector"))
class PIIDetector(Detector):
    """Flags personal data (e-mail, phone, card, IBAN, SSN, NINO, IP, street address, person name)."""

    name = "pii"

    def __init__(self, entities: Iterable[str] | str | None = None, *, threshold: float | None = None) -> None:
        self.entities = resolve_entities(entities)
        super().__init__(threshold=threshold, entities=list(self.entities) if entities is not None else None)

    def find(self, text: str) -> Finding:
        # Entities that only show once look-alike letters, full-width or other-script digits, invisible
        # characters or a right-to-left override are undone get spans mapped back to the original text.
        return spans_finding(*find_in_readings(lambda t: find_pii(t, self.entities, self.threshold), text))

    def fix(self, text: str, verdict: Verdict) -> str:
        """The guard's "fix" action: each flagged span replaced by its label, e.g. ``<EMAIL>``."""
        return redact(text, verdict.spans)


def _check_spans(text: str, spans: Iterable[Span]) -> list[Span]:
    kept = resolve_overlaps(spans)
    for s in kept:
        if s.end > len(text):
            raise ConfigError(
                f"a {s.label} span ends at {s.end}, past the end of a {len(text)}-character text; "
                "pass the spans of a verdict on this same text"
            )
    return kept


def redact(text: str, spans: Iterable[Span], style: str = "label") -> str:
    """``text`` with each span replaced: ``style="label"`` by ``<LABEL>``, ``"mask"`` by as many ``*`` as
    it had characters, ``"remove"`` by nothing. Overlapping spans are resolved first
    (:func:`resolve_overlaps`), so no character is replaced twice."""
    if style not in REDACTION_STYLES:
        raise ConfigError(f"redact: unknown style {style!r}; use one of {', '.join(REDACTION_STYLES)}")
    out, pos = [], 0
    for s in _check_spans(text, spans):
        out.append(text[pos : s.start])
        out.append(f"<{s.label}>" if style == "label" else "*" * (s.end - s.start) if style == "mask" else "")
        pos = s.end
    out.append(text[pos:])
    return "".join(out)


_PLACEHOLDER = re.compile(r"<([A-Z][A-Z_]{0,39}_[0-9]{1,6})>")


class Vault:
    """Reversible anonymization: hide values behind placeholders, then put them back.

        >>> from alignkit.detectors import get_detector
        >>> vault = Vault()
        >>> text = "Ask Dr. Jane Smith at jane@example.com"
        >>> hidden = vault.anonymize(text, get_detector("pii").detect(text).spans)
        >>> hidden
        'Ask Dr. <PERSON_1> at <EMAIL_1>'
        >>> vault.restore("I wrote to <EMAIL_1> for <PERSON_1>.")
        'I wrote to jane@example.com for Jane Smith.'

    The same value always gets the same placeholder within one vault (so a model can refer to it
    consistently across turns); numbering is per entity type. Use one vault per conversation: it holds
    the original values in memory, never logs them, and its ``repr`` shows only counts.
    """

    def __init__(self) -> None:
        self._placeholder_of: dict[tuple[str, str], str] = {}
        self._value_of: dict[str, str] = {}
        self._per_label: Counter[str] = Counter()
        self._lock = threading.Lock()

    def anonymize(self, text: str, spans: Iterable[Span]) -> str:
        """``text`` with each span's value replaced by its placeholder, e.g. ``<PERSON_1>``."""
        out, pos = [], 0
        with self._lock:
            for s in _check_spans(text, spans):
                value = text[s.start : s.end]
                key = (s.label, value)
                placeholder = self._placeholder_of.get(key)
                if placeholder is None:
                    self._per_label[s.label] += 1
                    placeholder = f"{s.label}_{self._per_label[s.label]}"
                    self._placeholder_of[key] = placeholder
                    self._value_of[placeholder] = value
                out.append(text[pos : s.start])
                out.append(f"<{placeholder}>")
                pos = s.end
        out.append(text[pos:])
        return "".join(out)

    def restore(self, text: str) -> str:
        """``text`` (e.g. a model's answer) with every known placeholder replaced by its original value;
        unknown placeholders are left as they are."""
        return _PLACEHOLDER.sub(lambda m: self._value_of.get(m.group(1), m.group(0)), text)

    def __len__(self) -> int:
        return len(self._value_of)

    def __repr__(self) -> str:
        counts = ", ".join(f"{label}: {n}" for label, n in sorted(self._per_label.items()))
        return f"<Vault with {len(self)} value(s){' (' + counts + ')' if counts else ''}>"
