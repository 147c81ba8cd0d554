"""Is an answer grounded in its sources? Claims, citations and the check that does not trust them.

An answer is split into claims (sentences and list items, with their character offsets). Each claim's
citations (``[1]``, ``[2, 3]``, ``[1][4]``) name the sources it rests on. :func:`check_answer` scores
every claim against the sources it cites with a :class:`~alignkit.detectors.support.SupportScorer`
(lexical overlap by default; an NLI model or an LLM judge on request) and marks:

* ``supported``: the cited source says it (support at or above ``min_support``);
* ``unsupported``: the cited source does not say it (the case a citation alone would hide);
* ``uncited``: no citation; scored against every source when ``require_citations`` is False (it passes
  only if some source supports it), and failed outright when citations are required;
* ``bad_citation``: cites a source number that does not exist;
* ``abstain``: says the sources do not answer the question ("not stated in the sources"): not a claim.

Sources travel in prompts as ``<source id="1" ref="guide.md#chars=0-812">text</source>`` blocks
(:func:`format_sources`, what ``alignkit.rag`` writes); :func:`sources_in` reads them back from a
conversation, or, when a conversation has none, takes its system, tool and last user messages as one
unnumbered source. A check with no sources at all fails: nothing to check against is not grounded.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from alignkit.core.errors import ConfigError
from alignkit.core.messages import Message
from alignkit.detectors.support import SupportScorer, content_words

MAX_SOURCES = 200
"""More sources than this in one check is refused: a prompt does not carry more, and every claim is
scored against every source when it cites none."""

CITATION = re.compile(r"\[(\d{1,3}(?:\s{0,2}[,;]\s{0,2}\d{1,3}){0,19})\]")
SOURCE_OPEN = re.compile(r'<source id="(\d{1,3})"(?: ref="([^"<>]{0,500})")?>')
SOURCE_CLOSE = "</source>"
_LIST_MARKER = re.compile(r"\(?\d{1,3}[.)]")
_CITED = re.compile(r"[ \t]{0,8}" + CITATION.pattern)
# A claim ends at . ! ? (after a word, not inside a number like 3.5) or at a line break; list markers start one.
_SENTENCE_END = re.compile(r"(?<=[.!?])(?:\s*\[[\d,; ]{1,40}\])*\s+(?=\S)|\n+")
_ABSTAIN = re.compile(
    r"\b(?:not (?:stated|mentioned|given|provided|specified|found|covered|answered|included)"
    r"|(?:(?:does|do|did)(?: not|n't)|cannot|can't|can not) (?:say|state|mention|specify|contain|answer|cover"
    r"|include|provide|tell|be determined)"
    r"|no information|I (?:do not|don't) know|unknown from)\b",
    re.IGNORECASE,
)
_ABSTAIN_WHERE = re.compile(r"\b(?:source|context|document|passage|text|abstract|information)s?\b", re.IGNORECASE)

Status = str  # "supported" | "unsupported" | "uncited" | "bad_citation" | "abstain"


@dataclass(frozen=True, slots=True)
class Source:
    """A passage an answer may cite: its number in the prompt, its text and where it came from."""

    id: str  # the number the answer cites, "1", "2", ...; "" for the unnumbered context
    text: str
    ref: str = ""  # e.g. "docs/guide.md#chars=120-980"


@dataclass(frozen=True, slots=True)
class Claim:
    """One sentence or list item of an answer, ``answer[start:end]``, with the source ids it cites."""

    text: str  # the claim without its citation markers
    start: int
    end: int
    cites: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ClaimCheck:
    """A claim, how well its source supports it, and what that makes it."""

    claim: Claim
    status: Status
    support: float  # 0 = not supported at all .. 1 = fully supported
    source_id: str | None  # the source that supports it best (cited ones first); None if none could
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("supported", "abstain")


@dataclass(frozen=True, slots=True)
class GroundingReport:
    """Every claim of an answer, checked. ``grounded``: every claim passed; ``citations_hold``: every
    citation that was made is backed by the source it names (and at least one was made)."""

    checks: tuple[ClaimCheck, ...]
    scorer: str

    @property
    def grounded(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def citations_hold(self) -> bool:
        cited = [c for c in self.checks if c.claim.cites]
        return bool(cited) and all(c.status == "supported" for c in cited)

    @property
    def weakest(self) -> float:
        """The lowest support of any claim (1.0 when every claim is an abstention)."""
        scored = [c.support for c in self.checks if c.status != "abstain"]
        return min(scored, default=1.0 if self.checks else 0.0)

    def failed(self) -> list[ClaimCheck]:
        return [c for c in self.checks if not c.ok]

    def to_dict(self) -> dict[str, object]:
        return {
            "grounded": self.grounded,
            "citations_hold": self.citations_hold,
            "scorer": self.scorer,
            "claims": [
                {
                    "text": c.claim.text,
                    "start": c.claim.start,
                    "end": c.claim.end,
                    "cites": list(c.claim.cites),
                    "status": c.status,
                    "support": round(c.support, 4),
                    "source": c.source_id,
                    "reason": c.reason,
                }
                for c in self.checks
            ],
        }


def split_claims(answer: str) -> list[Claim]:
    """The answer's sentences and list items, with offsets and the citations each carries."""
    claims, pos = [], 0
    for m in [*_SENTENCE_END.finditer(answer), None]:
        end = m.start() if m is not None else len(answer)
        tail = m.group(0) if m is not None else ""
        piece = answer[pos : end + len(tail.rstrip())]  # citations after the full stop belong to this sentence
        claim = _claim(piece, pos)
        if claim is not None:
            claims.append(claim)
        pos = m.end() if m is not None else len(answer)
    return claims


def _claim(piece: str, offset: int) -> Claim | None:
    cites = tuple(dict.fromkeys(n.strip() for m in CITATION.finditer(piece) for n in re.split(r"[,;]", m.group(1))))
    text = _CITED.sub("", piece).strip()
    text = re.sub(r"^(?:[-*•]|\d{1,3}[.)])\s+", "", text)  # list markers are not part of the claim
    if (not content_words(text) or _LIST_MARKER.fullmatch(text)) and not cites:
        return None  # "Sure.", "Here is what I found:" - nothing to check
    lead = len(piece) - len(piece.lstrip())
    return Claim(text, offset + lead, offset + len(piece.rstrip()), cites)


def is_abstention(text: str) -> bool:
    """True for a claim that says the sources do not answer ("this is not stated in the context")."""
    return bool(_ABSTAIN.search(text)) and (bool(_ABSTAIN_WHERE.search(text)) or len(content_words(text)) <= 4)


def check_answer(
    answer: str,
    sources: Sequence[Source],
    scorer: SupportScorer,
    *,
    min_support: float | None = None,
    require_citations: bool = False,
) -> GroundingReport:
    """Check every claim of ``answer`` against ``sources`` (see the module docstring for the statuses).

    ``min_support``: the support a claim needs (the scorer's own default when None).
    """
    if len(sources) > MAX_SOURCES:
        raise ConfigError(f"{len(sources)} sources is over the {MAX_SOURCES} limit; retrieve fewer (top-k)")
    need = scorer.default_min_support if min_support is None else min_support
    by_id = {s.id: s for s in sources}
    claims = split_claims(answer)
    pairs: list[tuple[int, Source]] = []  # (claim index, source to score it against)
    for i, c in enumerate(claims):
        cited = [by_id[n] for n in c.cites if n in by_id]
        pairs += [(i, s) for s in (cited or ([] if require_citations and not c.cites else sources))]
    scores = scorer.support([(s.text, claims[i].text) for i, s in pairs]) if pairs else []
    best: dict[int, tuple[float, str]] = {}
    for (i, s), score in zip(pairs, scores, strict=True):
        if i not in best or score > best[i][0]:
            best[i] = (score, s.id)
    checks = [_status(c, best.get(i), by_id, need, require_citations, bool(sources)) for i, c in enumerate(claims)]
    return GroundingReport(tuple(checks), scorer.name)


def _status(
    claim: Claim,
    best: tuple[float, str] | None,
    by_id: dict[str, Source],
    need: float,
    require_citations: bool,
    have_sources: bool,
) -> ClaimCheck:
    score, sid = best if best is not None else (0.0, None)
    missing = [n for n in claim.cites if n not in by_id]
    if is_abstention(claim.text) and not claim.cites:
        return ClaimCheck(claim, "abstain", score, sid, "says the sources do not answer")
    if missing:
        return ClaimCheck(claim, "bad_citation", 0.0, None, f"cites [{', '.join(missing)}], which is not a source")
    if not have_sources:
        return ClaimCheck(claim, "unsupported", 0.0, None, "no sources to check against")
    if not claim.cites:
        if require_citations:
            return ClaimCheck(claim, "uncited", score, sid, "no citation")
        status = "supported" if score >= need else "uncited"
        why = f"uncited; best source [{sid}] supports it {score:.2f}" if sid else "uncited"
        return ClaimCheck(claim, status, score, sid, why)
    status = "supported" if score >= need else "unsupported"
    return ClaimCheck(claim, status, score, sid, f"source [{sid}] supports it {score:.2f} (needs {need:.2f})")


def format_sources(sources: Sequence[Source]) -> str:
    """Sources as prompt text: one ``<source id=.. ref=..>`` block each (text escaped so a passage cannot
    close its own block or forge another)."""
    blocks = []
    for s in sources:
        ref = f' ref="{html.escape(s.ref, quote=True)}"' if s.ref else ""
        blocks.append(f'<source id="{s.id}"{ref}>{html.escape(s.text, quote=False)}</source>')
    return "\n".join(blocks)


def parse_sources(text: str) -> list[Source]:
    """The ``<source>`` blocks in ``text`` (as :func:`format_sources` writes them)."""
    found, pos = [], 0
    while (m := SOURCE_OPEN.search(text, pos)) is not None:
        end = text.find(SOURCE_CLOSE, m.end())  # plain search: linear however many blocks are left open
        if end < 0:
            break
        found.append(Source(m.group(1), html.unescape(text[m.end() : end]).strip(), html.unescape(m.group(2) or "")))
        pos = end + len(SOURCE_CLOSE)
    return found


def sources_in(messages: Sequence[Message]) -> list[Source]:
    """The sources a conversation gives its model: its ``<source>`` blocks; else its system, tool and
    last user messages as one unnumbered source (an app that pastes context without numbering it)."""
    found = [s for m in messages if m.role != "assistant" for s in parse_sources(m.content)]
    if found:
        return found
    last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=-1)
    context = [m.content for i, m in enumerate(messages) if m.role in ("system", "tool") or i == last_user]
    text = "\n\n".join(t for t in context if t.strip())
    return [Source("", text)] if text else []
