"""Demographic term lists and the counterfactual swap: "he" <-> "she", "Emily" <-> "Greg", "church" <->
"mosque", with case and word boundaries kept.

A term file is a TSV: ``#`` comment lines, directives ``#axis NAME`` (required) and ``#match capitalized``
(names: match only "Will", not "will"), a header row of group names, then one row per term with one
column per group. Empty cells have no counterpart. A cell ``x|y`` is a pronoun with an object form and
a possessive form ("her" -> "him" or "his", by the next word). Files of the same axis are merged, so a
user extends a shipped list by passing their own file with the same ``#axis`` and header. Shipped
lists (``alignkit.bias.terms``): gender, gender_names, race_names, religion, age.

The swap tokenizes the text into words (no backtracking regex, linear in the text) and looks up word
n-grams up to the longest term, so "construction worker" and "Ms" both work. Case: a term matched as
written, lower-case, Title-case or UPPER-case is replaced in the same style.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from alignkit.core.errors import ConfigError
from alignkit.core.files import read_limited

TERMS_DIR = Path(__file__).resolve().parent / "terms"
MAX_TERM_FILE_BYTES = 2_000_000
MAX_SWAP_CHARS = 1_000_000  # longer texts are an error (the detectors' request-size limit)
_WORD = re.compile(r"\w+")
# Words after which "her" is an object ("asked her to", "let her go"), not a possessive ("her car").
_NOT_A_NOUN = frozenset(
    "a an the to and or but nor that this these those about for with from in into onto on at by as if so up "
    "out off back again too very now then when because is was are were be been being will would can could "
    "should may might must not never all both some any over under after before down through around what how "
    "why where who whom whose which while until since than yet well just also only even alone away here "
    "there today tomorrow yesterday tonight i you he she it we they me him her us them know go be do have "
    "get see say come take make feel think want help stay leave win lose tell ask like love hate find keep "
    "let pay call meet please thank".split()
)


@dataclass(frozen=True, slots=True)
class TermSet:
    """The term rows of one axis (gender, religion, ...): one cell per group, aligned by row."""

    axis: str
    groups: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]  # each row has one cell per group ("" = none, "x|y" = pronoun forms)
    capitalized: tuple[bool, ...]  # per row: match only capitalized forms (names)
    sources: tuple[str, ...] = field(default=())

    def terms_of(self, group: str) -> list[str]:
        """Every surface term of ``group`` (pronoun alternatives split)."""
        col = self._column(group)
        return [t for row in self.rows for t in row[col].split("|") if t]

    def _column(self, group: str) -> int:
        if group not in self.groups:
            raise ConfigError(f"axis {self.axis!r} has no group {group!r}; its groups are {', '.join(self.groups)}")
        return self.groups.index(group)


def _parse(text: str, where: str) -> TermSet:
    axis, capitalized, header, rows = None, False, None, []
    for n, line in enumerate(text.splitlines(), start=1):
        if line.startswith("#axis"):
            axis = line[len("#axis") :].strip()
        elif line.strip() == "#match capitalized":
            capitalized = True
        elif line.startswith("#") or not line.strip():
            continue
        else:
            cells = tuple(" ".join(c.split()) for c in line.split("\t"))
            if header is None:
                header = cells
            elif len(cells) > len(header):
                raise ConfigError(f"{where}:{n}: {len(cells)} columns, but the header names {len(header)} groups")
            else:
                rows.append(cells + ("",) * (len(header) - len(cells)))
    if not axis or header is None or len(header) < 2:
        raise ConfigError(f"{where}: a term file needs an '#axis NAME' line and a header of at least two groups")
    return TermSet(axis, header, tuple(rows), (capitalized,) * len(rows), (where,))


def _resolve(spec: str | Path) -> Path:
    path = Path(spec)
    if path.suffix == ".tsv" or path.exists():
        if not path.is_file():
            raise ConfigError(f"no term file at {path}")
        return path
    shipped = TERMS_DIR / f"{spec}.tsv"
    if not shipped.is_file():
        names = ", ".join(sorted(p.stem for p in TERMS_DIR.glob("*.tsv")))
        raise ConfigError(f"no term list {spec!r}: give a shipped name ({names}) or a path to a .tsv file")
    return shipped


def shipped_lists() -> list[str]:
    """The names of the term lists that ship with alignkit."""
    return sorted(p.stem for p in TERMS_DIR.glob("*.tsv"))


def load_terms(specs: Sequence[str | Path]) -> dict[str, TermSet]:
    """The term sets named by ``specs`` (shipped names or .tsv paths), merged by axis."""
    merged: dict[str, TermSet] = {}
    for spec in specs:
        path = _resolve(spec)
        ts = _parse(read_limited(path, "term file", MAX_TERM_FILE_BYTES).decode("utf-8"), str(path))
        old = merged.get(ts.axis)
        if old is None:
            merged[ts.axis] = ts
        elif old.groups != ts.groups:
            raise ConfigError(
                f"{path}: axis {ts.axis!r} has groups {', '.join(ts.groups)} here but {', '.join(old.groups)} in "
                f"{old.sources[0]}; use the same header (in the same order) to extend a list"
            )
        else:
            merged[ts.axis] = TermSet(
                ts.axis, ts.groups, old.rows + ts.rows, old.capitalized + ts.capitalized, old.sources + ts.sources
            )
    return merged


@dataclass(frozen=True, slots=True)
class Swapped:
    """A text with its terms swapped, and how many terms of each side were found."""

    text: str
    from_a: int  # terms of group a replaced by group b's
    from_b: int  # terms of group b replaced by group a's

    @property
    def changed(self) -> bool:
        """Whether any term was swapped (an untouched text is no counterfactual)."""
        return self.from_a + self.from_b > 0


def _styled(target: str, found: str, written: str) -> str:
    """``target`` in the case style ``found`` shows relative to the term as ``written``."""
    if found == written:
        return target
    if found.isupper() and len(found) > 1:
        return target.upper()
    if found[:1].isupper():
        return target[:1].upper() + target[1:]
    return target.lower()


def _forms(term: str, capitalized: bool) -> tuple[str, ...]:
    """The surface forms a term matches: as written and UPPER (names), plus lower and Title (other terms)."""
    if capitalized:
        return (term, term.upper())
    return (term, term.lower(), term[:1].upper() + term[1:], term.upper())


@dataclass(frozen=True, slots=True)
class Hit:
    """One term found in a text: its character span, word span and what the lexicon holds for it."""

    start: int
    end: int
    next_word: int  # index of the word after the term
    value: tuple[str, ...]


class Lexicon:
    """Surface forms (one or more words) -> a value; finds them in a text by word n-gram lookup."""

    def __init__(self, table: dict[str, tuple[str, ...]]) -> None:
        self.table = table
        self.longest = max((len(k.split()) for k in table), default=1)

    def find(self, text: str) -> tuple[list[tuple[int, int]], list[Hit]]:
        """The text's words (character spans) and the terms found, left to right, longest match first."""
        if len(text) > MAX_SWAP_CHARS:
            raise ConfigError(f"a text of {len(text):,} characters is over the {MAX_SWAP_CHARS:,} a term scan takes")
        words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
        hits, i = [], 0
        while i < len(words):
            n = self._match(text, words, i)
            if n:
                start, end = words[i][0], words[i + n - 1][1]
                hits.append(Hit(start, end, i + n, self.table[" ".join(text[start:end].split())]))
                i += n
            else:
                i += 1
        return words, hits

    def _match(self, text: str, words: list[tuple[int, int]], i: int) -> int:
        for n in range(min(self.longest, len(words) - i), 0, -1):
            if n > 1 and any(not text[words[j][1] : words[j + 1][0]].isspace() for j in range(i, i + n - 1)):
                continue
            if " ".join(text[words[i][0] : words[i + n - 1][1]].split()) in self.table:
                return n
        return 0


class Swapper:
    """Swaps the terms of two groups of a :class:`TermSet` both ways, in one pass."""

    def __init__(self, terms: TermSet, a: str, b: str) -> None:
        if a == b:
            raise ConfigError(f"swap two different groups of {terms.axis!r}; got {a!r} twice")
        self.terms, self.a, self.b = terms, a, b
        ia, ib = terms._column(a), terms._column(b)
        table: dict[str, tuple[str, ...]] = {}  # surface form -> (term as written, replacement cell, side)
        for row, caps in zip(terms.rows, terms.capitalized, strict=True):
            for src, dst, side in ((ia, ib, "a"), (ib, ia, "b")):
                if row[src] and row[dst]:
                    for term in row[src].split("|"):
                        for form in _forms(term, caps):
                            table.setdefault(form, (term, row[dst], side))
        self.lexicon = Lexicon(table)

    def swap(self, text: str) -> Swapped:
        """``text`` with every term of either group replaced by its counterpart."""
        words, hits = self.lexicon.find(text)
        out, pos, counts = [], 0, {"a": 0, "b": 0}
        for hit in hits:
            written, cell, side = hit.value
            target = self._pick(cell, text, words, hit.next_word)
            out += [text[pos : hit.start], _styled(target, text[hit.start : hit.end], written)]
            pos = hit.end
            counts[side] += 1
        out.append(text[pos:])
        return Swapped("".join(out), counts["a"], counts["b"])

    @staticmethod
    def _pick(cell: str, text: str, words: list[tuple[int, int]], nxt: int) -> str:
        """The form of an "object|possessive" cell that fits before the next word; a plain cell as is."""
        if "|" not in cell:
            return cell
        obj, poss = cell.split("|", 1)
        if nxt < len(words):
            gap = text[words[nxt - 1][1] : words[nxt][0]]
            if gap.isspace() and text[words[nxt][0] : words[nxt][1]].lower() not in _NOT_A_NOUN:
                return poss
        return obj


def group_lexicon(terms: TermSet) -> Lexicon:
    """A lexicon from every term of ``terms`` to its group (the first group that lists it)."""
    table: dict[str, tuple[str, ...]] = {}
    for row, caps in zip(terms.rows, terms.capitalized, strict=True):
        for group, cell in zip(terms.groups, row, strict=True):
            for term in (t for t in cell.split("|") if t):
                for form in _forms(term, caps):
                    table.setdefault(form, (group,))
    return Lexicon(table)


def groups_mentioned(lexicon: Lexicon, groups: Sequence[str], text: str) -> dict[str, int]:
    """How many terms of each of ``groups`` occur in ``text`` (zeros included); ``lexicon`` from
    :func:`group_lexicon`."""
    counts = dict.fromkeys(groups, 0)
    for hit in lexicon.find(text)[1]:
        counts[hit.value[0]] = counts.get(hit.value[0], 0) + 1
    return counts
