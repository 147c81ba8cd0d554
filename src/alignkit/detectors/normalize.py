"""Undo the cheap obfuscations that slip text past detectors.

:func:`normalize` maps a text to a canonical form: Unicode NFKC (full-width and mathematical letters
become plain ones), Unicode "tag" characters decoded to the ASCII they smuggle, zero-width and other
invisible characters removed, and confusable letters from other scripts (Cyrillic "а", Greek "ο")
mapped to their Latin look-alikes. :func:`variants` adds de-obfuscated readings of the same text
(leetspeak, spaced-out letters, embedded base64, ROT13 when the text mentions it), so a detector can
score each and keep the highest.

Detectors that point at values (PII, secrets) need more than a score: a span in a de-obfuscated reading
must map back to the characters it was read from, or redaction would hide nothing.
:func:`entity_readings` gives such readings (:class:`Reading`: the text and, for each of its characters,
the index of the original one it came from): NFKC and the invisible/tag/confusable mapping done one
character at a time, digits of other scripts (Arabic-Indic ``٤``, Devanagari ``४``, ...) read as ASCII
digits, combining marks dropped, and, when the text holds a right-to-left override (U+202E), a second
reading with each overridden run reversed as it is displayed. A span found in a reading covers, once mapped
back, the whole obfuscated value, invisible characters inside it included.

Every step is a single pass (``str.translate`` or a regex without nested quantifiers): linear in the
length of the text, whatever the text.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
import unicodedata
from array import array
from bisect import bisect_left
from dataclasses import dataclass

# Invisible or formatting characters used to split words: zero-width space/joiners, direction marks and
# overrides, word joiner and invisible operators, BOM, soft hyphen, Mongolian vowel separator.
_INVISIBLE = [
    *(0x00AD, 0x034F, 0x061C, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180E, 0x3164, 0xFEFF, 0xFFA0),
    *range(0x200B, 0x2010),
    *range(0x202A, 0x202F),
    *range(0x2060, 0x2070),
    *range(0xFE00, 0xFE10),  # variation selectors
]
# Unicode tag characters U+E0020..U+E007E mirror printable ASCII and render as nothing: decode them.
_TAGS: dict[int, int | None] = {cp: cp - 0xE0000 for cp in range(0xE0020, 0xE007F)}
_TAGS.update({0xE0001: None, 0xE007F: None})

# Letters from other scripts that look like Latin ones (the common subset of Unicode's confusables).
_CONFUSABLE_PAIRS = (
    "аa вb еe кk мm нh оo рp сc тt уy хx іi јj ѕs ԁd ӏl ԛq ԝw ъb ьb "
    "АA ВB ЕE КK МM НH ОO РP СC ТT УY ХX ІI ЈJ ЅS "
    "αa βb εe ηn ιi κk νv οo ρp τt υu χx γy ωw "
    "ΑA ΒB ΕE ΖZ ΗH ΙI ΚK ΜM ΝN ΟO ΡP ΤT ΥY ΧX "
    "ɑa ɡg ɩi ɪi ʟl ɴn ʀr ʏy ᴀa ᴄc ᴅd ᴇe ᴊj ᴋk ᴍm ᴏo ᴘp ᴛt ᴜu ᴠv ᴡw ᴢz"
)
_CONFUSABLES = {ord(p[0]): p[1] for p in _CONFUSABLE_PAIRS.split()}

# Lone surrogates (bytes that were not UTF-8, decoded with errors="surrogateescape") are not text: a
# tokenizer refuses them. They read as the replacement character.
_SURROGATES = {cp: "\ufffd" for cp in range(0xD800, 0xE000)}
_CANON = str.maketrans({**{cp: None for cp in _INVISIBLE}, **_TAGS, **_CONFUSABLES, **_SURROGATES})
_WELL_FORMED = str.maketrans(_SURROGATES)

_LEET = str.maketrans(
    {
        "0": "o",
        "1": "i",
        "3": "e",
        "4": "a",
        "5": "s",
        "7": "t",
        "8": "b",
        "9": "g",
        "@": "a",
        "$": "s",
        "!": "i",
        "|": "l",
        "+": "t",
        "€": "e",
    }
)
# A word that mixes letters with leet digits/symbols, e.g. "h4ck", "b0mb", "k!ll", "@ss": the lookaheads
# keep plain words and plain numbers out, so the Python callback runs only for real leet words. Matches
# start only at a word's first character (the lookbehind), so the scan stays linear.
_LEET_CHARS = "A-Za-z0-9@$!|+€"
_LEET_WORD = re.compile(
    rf"(?<![{_LEET_CHARS}])(?=[{_LEET_CHARS}]{{0,40}}[A-Za-z])(?=[{_LEET_CHARS}]{{0,40}}[0-9@$!|+€])[{_LEET_CHARS}]{{2,40}}"
)
_HAS_LETTER = re.compile(r"[A-Za-z]")
# Letters spaced out with one separator each: "k i l l", "b.o.m.b", "s-e-x" (3+ letters).
_SPACED = re.compile(r"(?<![A-Za-z])[A-Za-z](?:[ .\-_*][A-Za-z]){2,}(?![A-Za-z])")
_SEPARATORS = re.compile(r"[ .\-_*]")
_B64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}|[A-Za-z0-9_\-]{24,}={0,2}")
_ROT13_HINT = re.compile(r"rot[\s\-_]?13|caesar", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")

MAX_VARIANTS = 6  # each variant costs one more classifier pass


def normalize(text: str) -> str:
    """Canonical form: NFKC, tag characters decoded, invisibles removed, confusables mapped to Latin (and
    lone surrogates, which are not text, read as U+FFFD)."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFKC", text).translate(_CANON)


def well_formed(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD, so any tokenizer or encoder accepts it."""
    return text if text.isascii() else text.translate(_WELL_FORMED)


def deleet(text: str) -> str:
    """Read leetspeak: ``h4ck th3 b4nk`` -> ``hack the bank`` (only in words that contain letters)."""

    return _LEET_WORD.sub(lambda m: m.group(0).translate(_LEET), text)


def despace(text: str) -> str:
    """Join letters spaced out to dodge word matching: ``k i l l`` -> ``kill``."""
    return _SPACED.sub(lambda m: _SEPARATORS.sub("", m.group(0)), text)


def spaced_runs(text: str) -> list[str]:
    """Each run of spaced-out letters, joined and lower-cased: ``"a b o m b"`` -> ``"abomb"``."""
    return [_SEPARATORS.sub("", m.group(0)).lower() for m in _SPACED.finditer(text)]


def decoded_base64(text: str, limit: int = 3) -> list[str]:
    """Printable texts hidden as base64 runs in ``text`` (at most ``limit``)."""
    out = []
    for m in _B64.finditer(text):
        run = m.group(0)
        padded = run + "=" * (-len(run) % 4)
        try:
            raw = (base64.urlsafe_b64decode if ("-" in run or "_" in run) else base64.b64decode)(padded)
            decoded = raw.decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            continue
        printable = sum(c.isprintable() or c.isspace() for c in decoded)
        if decoded and printable / len(decoded) > 0.95 and _HAS_LETTER.search(decoded):
            out.append(decoded)
            if len(out) >= limit:
                break
    return out


def variants(text: str) -> list[str]:
    """The normalized text and its de-obfuscated readings, without duplicates, at most MAX_VARIANTS."""
    base = normalize(text)
    found = [base]
    for v in (deleet(base), despace(base)):
        if v != base and v not in found:
            found.append(v)
    for payload in decoded_base64(base):
        found.append(normalize(payload))
    if _ROT13_HINT.search(base):
        found.append(codecs.decode(base, "rot_13"))
    return found[:MAX_VARIANTS]


def squash_whitespace(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


# -- readings that map back to the original text ---------------------------------------------------
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
# A right-to-left override displays what follows it reversed, up to the next direction control or the
# end of the line: "\u202emoc.elpmaxe@enaj" shows as "jane@example.com".
_RLO_RUN = re.compile("\u202e[^\u202a-\u202e\u2066-\u2069\n\u2029]*")
_TABLE_LIMIT = 200_000  # cached characters; past it, further ones are computed each time (bounded memory)


def _entity_char(ch: str) -> str:
    """One character as an entity reading sees it: NFKC, invisible/tag/confusable mapping, a digit of any
    script as its ASCII digit, combining marks dropped ("" when nothing is left)."""
    out = []
    for c in unicodedata.normalize("NFKC", ch).translate(_CANON):
        if unicodedata.combining(c):
            continue
        digit = unicodedata.decimal(c, None)
        out.append(c if digit is None else str(digit))
    return "".join(out)


class _EntityTable(dict[int, str]):
    """``str.translate`` table computed on first use of each code point (so no table of all of Unicode)."""

    def __missing__(self, cp: int) -> str:
        value = _entity_char(chr(cp))
        if len(self) < _TABLE_LIMIT:
            self[cp] = value
        return value


_ENTITY_TABLE = _EntityTable()


@dataclass(frozen=True, slots=True)
class Reading:
    """A de-obfuscated reading of a text: ``text``, and for each of its characters the index in the original
    text of the character it was read from (``origin``, one entry per character of ``text``)."""

    text: str
    origin: array[int]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original range ``text[start:end]`` was read from, whatever was skipped inside it (zero-width
        characters, soft hyphens, combining marks)."""
        if end <= start:
            at = self.origin[start] if start < len(self.origin) else (self.origin[-1] + 1 if self.origin else 0)
            return at, at
        part = self.origin[start:end]
        return min(part), max(part) + 1


def _forward_reading(text: str) -> Reading:
    pieces: list[str] = []
    origin = array("q")
    pos = 0
    for m in _NON_ASCII.finditer(text):
        start, end = m.span()
        pieces.append(text[pos:start])
        origin.extend(range(pos, start))
        for i in range(start, end):
            piece = _ENTITY_TABLE[ord(text[i])]
            if piece:
                pieces.append(piece)
                origin.extend([i] * len(piece))
        pos = end
    pieces.append(text[pos:])
    origin.extend(range(pos, len(text)))
    return Reading("".join(pieces), origin)


def _displayed_reading(text: str, forward: Reading) -> Reading:
    """``forward`` with every right-to-left overridden run reversed, as it is displayed."""
    pieces: list[str] = []
    origin = array("q")
    pos = 0
    for m in _RLO_RUN.finditer(text):
        start = bisect_left(forward.origin, m.start())
        end = bisect_left(forward.origin, m.end())
        pieces.append(forward.text[pos:start])
        pieces.append(forward.text[start:end][::-1])
        origin.extend(forward.origin[pos:start])
        run = forward.origin[start:end]
        run.reverse()
        origin.extend(run)
        pos = end
    pieces.append(forward.text[pos:])
    origin.extend(forward.origin[pos:])
    return Reading("".join(pieces), origin)


def entity_readings(text: str) -> list[Reading]:
    """The readings of ``text`` in which obfuscated values show (see the module docstring); none when
    reading changes nothing, which is decided without building a map (ASCII text costs one check)."""
    if text.isascii() or text.translate(_ENTITY_TABLE) == text:
        return []
    forward = _forward_reading(text)
    return [forward, _displayed_reading(text, forward)] if "\u202e" in text else [forward]
