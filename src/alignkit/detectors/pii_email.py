"""The EMAIL recognizer behind :mod:`alignkit.detectors.pii`: addresses as written (``jane@example.com``)
and as spelled out to dodge filters (``jane at example dot com``, ``jane [at] example [dot] com``,
``jane(at)example.com``, ``JANE AT EXAMPLE DOT COM``, ``jane dot doe at example dot co dot uk``).

The patterns follow the safety rules of :mod:`alignkit.detectors.pii_patterns` (bounded repetitions,
one way to match, matches start only at a token's first character), so a scan is linear in the text.
A spelled-out address is looked for only where a separator (`` at ``, ``[at]``, ``(at)``, ``@``) is
followed by a domain that ends in a known top-level domain: ordinary prose is full of "at", so the
engine never tries every word as the start of an address. Prose about sites is not an address: "look
at the dot com era" (a domain never starts with "the", "a", "my", ...), "I work at google.com" (a bare
"at" needs a spelled "dot" too), "find us at example dot com" (nor is "us" a local part after a bare
"at"). The price: ``john at example.com``, with only the "at" spelled out, is missed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from alignkit.core.records import Span

_EMAIL = re.compile(
    r"[A-Za-z0-9._%+\-](?<![A-Za-z0-9._%+\-][A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]{0,63}@"
    r"[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,8}\.[A-Za-z]{2,24}(?![A-Za-z0-9\-])"
)

# Separators: the character itself, the word between spaces, or the word in brackets.
_SP = r"[ \t]"
_AT = rf"(?:{_SP}{{0,3}}[\[({{<]{_SP}{{0,2}}(?i:at){_SP}{{0,2}}[\])}}>]{_SP}{{0,3}}|{_SP}{{1,3}}(?i:at){_SP}{{1,3}}|@)"
_DOT = (
    rf"(?:{_SP}{{0,3}}[\[({{<]{_SP}{{0,2}}(?i:dot){_SP}{{0,2}}[\])}}>]{_SP}{{0,3}}|{_SP}{{1,3}}(?i:dot){_SP}{{1,3}}|\.)"
)
# Top-level domains people spell out (the generic ones and the country codes most often seen).
_TLDS = (
    "com|org|net|edu|gov|mil|int|info|biz|io|co|ai|app|dev|me|tv|xyz|online|site|tech|email|mail|eu|uk|us|ca|au|nz"
    "|de|fr|es|it|nl|be|ch|at|se|no|dk|fi|pl|cz|ru|ua|cn|jp|kr|in|br|mx|ar|za|ie|pt|gr|tr|il|sg|hk"
)
_NOT_A_DOMAIN = r"(?!(?i:the|a|an|this|that|my|your|our|his|her|their|its|some|any|no|every|one)(?![A-Za-z0-9\-]))"
# "at" followed by what may end a separator, searched for in the lower-cased text: a pattern that starts
# with a literal lets the engine skip ahead to each "at" instead of trying every position.
_AT_WORD = re.compile(r"at(?=[ \t\])}>])")
_AT_SIGN = re.compile("@")
_SPELLED_TAIL = re.compile(
    rf"{_AT}{_NOT_A_DOMAIN}[A-Za-z0-9\-]{{1,63}}(?:{_DOT}[A-Za-z0-9\-]{{1,63}}){{0,4}}{_DOT}(?i:{_TLDS})"
    r"(?![A-Za-z0-9\-])"
)
_SPELLED_DOT_BEFORE = re.compile(rf"{_DOT}\Z")
_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_%+-")
_SPELLED_WORD = re.compile(r"[ \t\[({<](?i:at|dot)[ \t\])}>]")
_SPELLED_DOT = re.compile(r"[ \t\[({<](?i:dot)[ \t\])}>]")
# Words that come before "at <site>" in prose ("find us at example dot com", "I work at ..."): with a bare
# " at ", such a word is not taken for the local part of an address.
_PROSE_BEFORE_AT = frozenset(
    "us me him her them it you up in out on online here there available found located hosted live visit see "
    "is are was were be been work works worked working job jobs look looking".split()
)


def find_email(text: str) -> Iterator[Span]:
    """E-mail addresses, written or spelled out."""
    if "@" in text:
        for m in _EMAIL.finditer(text):
            local = m.group().split("@", 1)[0]
            if local.startswith(".") or local.endswith(".") or ".." in local:
                continue
            yield Span(m.start(), m.end(), "EMAIL", 0.95)
    yield from find_spelled_email(text)


def _label_start(text: str, end: int) -> int:
    """Where the run of local-part characters ending at ``end`` starts (``end`` if there is none; -1 if
    the run is longer than a local part may be)."""
    i = end
    while i > 0 and text[i - 1] in _LOCAL_CHARS:
        i -= 1
        if end - i > 64:
            return -1
    return i


def _local_start(text: str, end: int) -> int:
    """The start of the local part ending at ``end``: up to four labels joined by dots, written or
    spelled (-1 when there is none)."""
    start = _label_start(text, end)
    if start in (-1, end):
        return -1
    for _ in range(3):
        dot = _SPELLED_DOT_BEFORE.search(text, max(0, start - 16), start)
        if dot is None:
            break
        before = _label_start(text, dot.start())
        if before in (-1, dot.start()):
            break
        start = before
    if start and text[start - 1] in "._%+-@":
        return -1  # inside a longer token
    return start


def _separator_start(text: str, at: int) -> tuple[int, bool]:
    """Where the separator around the "at" (or "@") at ``at`` starts, blanks and bracket included, and
    whether it is a bare word (no bracket)."""
    i = at
    while i > at - 2 and i > 0 and text[i - 1] in " \t":
        i -= 1
    bracketed = i > 0 and text[i - 1] in "[({<"
    if bracketed:
        i -= 1
        while i > at - 6 and i > 0 and text[i - 1] in " \t":
            i -= 1
    return i, not bracketed and text[at] != "@"


def find_spelled_email(text: str) -> Iterator[Span]:
    """Addresses with the "@" or a "." spelled out; a plain address is :func:`find_email`'s."""
    lowered = text.lower()
    keyed = lowered if len(lowered) == len(text) else text  # lower-casing keeps offsets unless "İ" grows
    covered = 0
    anchors = [m.start() for m in _AT_WORD.finditer(keyed)]
    if "@" in text:
        anchors = sorted([*anchors, *(m.start() for m in _AT_SIGN.finditer(text))])
    for anchor in anchors:
        at, bare = _separator_start(text, anchor)
        if at < covered or (bare and at == anchor):
            continue  # inside a word ("that", "data") or inside the last address
        tail = _SPELLED_TAIL.match(text, at)
        if tail is None:
            continue
        start = _local_start(text, at)
        if start < 0 or not _SPELLED_WORD.search(text, start, tail.end()):
            continue  # no local part, or nothing spelled out (a plain address: find_email's)
        if bare and (text[start:at].lower() in _PROSE_BEFORE_AT or not _SPELLED_DOT.search(text, at, tail.end())):
            continue  # "work at google.com", "find us at example dot com": prose about a site
        covered = tail.end()
        yield Span(start, tail.end(), "EMAIL", 0.95)
