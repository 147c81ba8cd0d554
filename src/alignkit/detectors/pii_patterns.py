"""The recognizers behind :mod:`alignkit.detectors.pii`: one pattern and one validator per entity type.

Each ``find_*`` function takes a text and yields :class:`~alignkit.core.Span` objects with a confidence:
a validated checksum (Luhn, ISO 7064 mod-97) gives 0.9 or more, a specific format 0.7 to 0.85, a loose
format 0.35 to 0.55 that a context word ("phone:", "SSN") lifts. The detector drops spans under its
threshold, so the loose ones count only with context.

Every pattern is safe on hostile input. Repetitions are bounded (``{1,64}``, never ``+`` or ``*``),
repeated groups are split by a character the group cannot contain (so there is one way to match), and
a lookbehind refuses to start a match inside a token (so a run of ``"1"*n`` or ``"a"*n`` is tried once,
not at every position). A scan is therefore linear in the text length; ``tests/detectors/test_pii.py``
checks it by timing. Most patterns begin with a plain character class and put that lookbehind right
after it (``[0-9](?<![0-9-][0-9])``), so the engine jumps straight to candidate characters instead of
trying the pattern at every position: 3-5x faster on ordinary text. Digits are ``[0-9]``, not ``\\d``,
which also matches Arabic-Indic and other digits and would let look-alikes through unvalidated.
"""

from __future__ import annotations

import ipaddress  # already loaded by pydantic: free
import re
from collections.abc import Callable, Iterator

from alignkit.core.records import Span
from alignkit.detectors.pii_email import find_email
from alignkit.detectors.pii_people import find_person

ENTITIES = ("EMAIL", "PHONE", "CREDIT_CARD", "IBAN", "US_SSN", "UK_NINO", "IP_ADDRESS", "STREET_ADDRESS", "PERSON")
"""Entity types the PII detector knows, in the order they are scanned."""


def _context(pattern: re.Pattern[str], text: str, start: int, end: int, before: int = 40, after: int = 16) -> bool:
    """Whether ``pattern`` occurs in the few characters around ``text[start:end]`` (bounded: O(1))."""
    return bool(pattern.search(text, max(0, start - before), start) or pattern.search(text, end, end + after))


def _scan(start: re.Pattern[str], full: re.Pattern[str], text: str) -> Iterator[re.Match[str]]:
    """Non-overlapping matches of ``full`` that begin where ``start`` matches, left to right.

    For patterns that may begin several ways (``+44``, ``(212)``, ``0049``): ``start`` is one character
    class the engine can search for quickly; ``full`` is then tried only at those positions.
    """
    pos = 0
    while (s := start.search(text, pos)) is not None:
        m = full.match(text, s.start())
        pos = m.end() if m else s.start() + 1
        if m:
            yield m


# -- PHONE ------------------------------------------------------------------------------------------
_PHONE_START = re.compile(r"[+(0-9](?<![\w+.\-/][+(0-9])")
_PHONE = re.compile(
    r"(?:(?:\+|00)[1-9][0-9]{0,2}[ .\-]?(?:\(0\)[ .\-]?)?)?"  # country code, optional trunk "(0)"
    r"(?:\([0-9]{1,5}\)[ .\-]?)?"  # area code in parentheses
    r"[0-9]{1,14}(?:[ .\-][0-9]{1,10}){0,6}"  # digit groups, one separator between groups
    r"(?:[ ]?(?:x|ext\.?)[ ]?[0-9]{1,6})?"  # extension
    r"(?![0-9]|[.\-][0-9])"
)
_NANP = re.compile(
    r"(?:(?:\+|00)?1[ .\-]?)?(?:\([2-9][0-9]{2}\)[ .\-]?|[2-9][0-9]{2}[ .\-])[2-9][0-9]{2}[ .\-][0-9]{4}"
)
_EXTENSION = re.compile(r"[ ]?(?:x|ext\.?)[ ]?[0-9]{1,6}$")
_DIGIT_GROUPS = re.compile(r"[0-9]{1,15}")
_PHONE_CONTEXT = re.compile(
    r"(?i)\b(?:phone|tel|telephone|mob|mobile|cell|cellphone|fax|call|calling|called|text|sms|whatsapp"
    r"|contact|reach|dial|desk|office|landline|hotline|messages?)\b"
)
_NOT_PHONE_CONTEXT = re.compile(
    r"(?i)\b(?:isbn|issn|order|invoice|account|acct|ref|reference|serial|tracking|version|id|no\.)\W{0,3}$"
)


def _looks_like_date(groups: list[str], seps: str) -> bool:
    """``2024-01-15``, ``15.01.2024``, ``01/15/24`` (also followed by a time): dates, not phone numbers."""
    if len(groups) < 3 or len(set(seps[:2])) != 1 or seps[0] == " ":
        return False
    a, b, c = (int(g) for g in groups[:3])
    if len(groups[0]) == 4:
        return 1 <= b <= 12 and 1 <= c <= 31
    if len(groups[2]) in (2, 4) and len(groups[0]) <= 2 and len(groups[1]) <= 2:
        return (1 <= a <= 31 and 1 <= b <= 12) or (1 <= a <= 12 and 1 <= b <= 31)
    return False


def _phone_score(text: str, start: int, end: int) -> float:
    candidate = _EXTENSION.sub("", text[start:end])
    groups = _DIGIT_GROUPS.findall(candidate)
    digits = sum(len(g) for g in groups)
    if not 7 <= digits <= 15 or sum(len(g) == 1 for g in groups) > 2:
        return 0.0  # "1 2 3 4 5 6 7" is a list of numbers, not a phone number
    if _NOT_PHONE_CONTEXT.search(text, max(0, start - 20), start):
        return 0.0
    international = candidate.startswith(("+", "00"))
    seps = "".join(c for c in candidate if c in " .-")
    if not international and _looks_like_date(groups, seps):
        return 0.0
    if seps == "." or ("." in seps and ("-" in seps or " " in seps)):
        return 0.0  # "05.000006", "1.5-2.5", "3. 4": decimals, ranges and lists, not phone numbers
    if seps and set(seps) == {"."} and len(groups) == 4 and all(len(g) <= 3 for g in groups):
        return 0.0  # dotted quad: an IP address or a version number
    if _NANP.fullmatch(candidate):
        score = 0.75
    elif international:
        score = 0.8 if digits >= 8 else 0.0
    elif len(groups) > 1 and candidate[0] in "0(":
        score = 0.55  # national trunk prefix or area code: "020 7946 0958", "(08) 8747 6301"
    else:
        score = 0.35  # bare digits or other grouping: only with a context word
    if score and _context(_PHONE_CONTEXT, text, start, end):
        score += 0.15
    return round(min(score, 0.95), 2)


def find_phone(text: str) -> Iterator[Span]:
    for m in _scan(_PHONE_START, _PHONE, text):
        if m.end() - m.start() >= 7:
            score = _phone_score(text, m.start(), m.end())
            if score:
                yield Span(m.start(), m.end(), "PHONE", score)


# -- CREDIT_CARD ------------------------------------------------------------------------------------
_CARD = re.compile(r"[0-9](?<![0-9A-Za-z+\-.][0-9])(?:[ \-]?[0-9]){11,18}(?![0-9]|[\-.][0-9])")
_CARD_SEPARATOR = re.compile(r"[ \-]")
_CARD_CONTEXT = re.compile(r"(?i)\b(?:card|credit|debit|visa|mastercard|amex|cc|cvv|payment|pay)\b")


def luhn_valid(digits: str) -> bool:
    """The Luhn check every payment card number satisfies (catches one wrong digit, most swaps)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _known_network(d: str) -> bool:
    """Whether the number's prefix and length belong to a major card network."""
    n, p2, p3, p4 = len(d), int(d[:2]), int(d[:3]), int(d[:4])
    if d[0] == "4":
        return n in (13, 16, 19)  # Visa
    if 51 <= p2 <= 55 or 2221 <= p4 <= 2720:
        return n == 16  # Mastercard
    if p2 in (34, 37):
        return n == 15  # American Express
    if p2 in (36, 38, 39) or 300 <= p3 <= 305:
        return 14 <= n <= 19  # Diners Club
    if 3528 <= p4 <= 3589:
        return 16 <= n <= 19  # JCB
    if p4 in (1800, 2131):
        return n == 15  # JCB, older ranges
    if p4 == 6011 or p2 in (62, 65) or 644 <= p3 <= 649:
        return 16 <= n <= 19  # Discover, UnionPay
    return p2 in (50, 56, 57, 58, 63, 67) and 12 <= n <= 19  # Maestro


def find_credit_card(text: str) -> Iterator[Span]:
    for m in _CARD.finditer(text):
        raw = m.group()
        seps = {c for c in raw if not c.isdigit()}
        digits = raw.replace(" ", "").replace("-", "")
        if len(seps) > 1 or len(set(digits)) == 1 or not luhn_valid(digits):
            continue
        if seps and min(len(g) for g in _CARD_SEPARATOR.split(raw)) < 3:
            continue  # "4-1-1-1...": not how card numbers are written
        context = _context(_CARD_CONTEXT, text, m.start(), m.end())
        if len(digits) == 12:  # only Maestro issues 12-digit numbers; too short to trust without context
            if not (context and _known_network(digits)):
                continue
            score = 0.75
        else:
            score = 0.9 if _known_network(digits) else 0.6
            if context:
                score += 0.05 if score > 0.6 else 0.2
        yield Span(m.start(), m.end(), "CREDIT_CARD", round(score, 2))


# -- IBAN -------------------------------------------------------------------------------------------
# Found by its check digits (digits are rarer than letters, so the scan is faster), then extended left
# over the country code: "GB82 WEST ..." matches from "82", and the match starts two characters earlier.
_IBAN = re.compile(
    r"[0-9](?<=[A-Za-z]{2}[0-9])(?<![A-Za-z0-9][A-Za-z]{2}[0-9])[0-9](?:[ ]?[A-Za-z0-9]){11,30}(?![A-Za-z0-9])"
)
# Lengths from the ISO 13616 registry for the countries most often seen; others pass on mod-97 alone.
_IBAN_LENGTHS = {
    entry[:2]: int(entry[2:])
    for entry in "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BR29 CH21 CR22 CY28 CZ24 DE22 DK18 DO28 EE20 EG29 ES24 "
    "FI18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IS26 IT27 JO30 KW30 KZ20 LB28 LI21 LT20 LU20 "
    "LV21 MC27 MD24 ME22 MK19 MR27 MT31 MU30 NL18 NO15 PK24 PL28 PS29 PT25 QA29 RO24 RS22 SA24 SE24 SI19 SK24 SM27 "
    "TN24 TR26 UA29 VG24 XK20".split()
}


def iban_valid(iban: str) -> bool:
    """ISO 7064 mod-97: the check digits make the rearranged number leave remainder 1."""
    s = iban.replace(" ", "").upper()
    if not 15 <= len(s) <= 34 or not s.isalnum() or not s.isascii():
        return False
    if _IBAN_LENGTHS.get(s[:2], len(s)) != len(s):
        return False
    rotated = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in rotated)) % 97 == 1


def find_iban(text: str) -> Iterator[Span]:
    for m in _IBAN.finditer(text):
        start = m.start() - 2
        raw = text[start : m.end()]
        # The run may have swallowed a following word ("... 7654 32 and"): cut at spaces from the right.
        while raw and not iban_valid(raw):
            cut = raw.rfind(" ")
            raw = raw[:cut] if cut > 0 else ""
        if raw:
            score = 0.95 if raw[:2].upper() in _IBAN_LENGTHS else 0.8
            yield Span(start, start + len(raw), "IBAN", score)


# -- US_SSN and UK_NINO -----------------------------------------------------------------------------
_SSN = re.compile(r"([0-9](?<![0-9\-][0-9])[0-9]{2})([\- ]?)([0-9]{2})\2([0-9]{4})(?![0-9]|-[0-9])")
_SSN_CONTEXT = re.compile(r"(?i)\b(?:ssn|ss#|social security|social sec|taxpayer|tin)\b")
# Numbers printed in advertisements and known never to be issued.
_SSN_NEVER_ISSUED = {"078051120", "219099999", "123456789"}


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """SSA rules: no area 000, 666 or 900-999, no group 00, no serial 0000."""
    valid = area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"
    return valid and area + group + serial not in _SSN_NEVER_ISSUED


def find_us_ssn(text: str) -> Iterator[Span]:
    for m in _SSN.finditer(text):
        area, sep, group, serial = m.groups()
        if not ssn_valid(area, group, serial):
            continue
        context = _context(_SSN_CONTEXT, text, m.start(), m.end())
        if sep == "-":
            yield Span(m.start(), m.end(), "US_SSN", 0.95 if context else 0.85)
        elif context:  # "123 45 6789" or "123456789": only when the text says it is an SSN
            yield Span(m.start(), m.end(), "US_SSN", 0.7)


_NINO = re.compile(r"([A-Z](?<![A-Za-z0-9][A-Z])[A-Z]) ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-D](?![A-Za-z0-9])")
_NINO_BAD_PREFIXES = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}
_NINO_CONTEXT = re.compile(r"(?i)\b(?:national insurance|nino|ni number|ni no)\b")


def find_uk_nino(text: str) -> Iterator[Span]:
    for m in _NINO.finditer(text):
        prefix = m.group(1)
        if prefix[0] in "DFIQUV" or prefix[1] in "DFIOQUV" or prefix in _NINO_BAD_PREFIXES:
            continue
        score = 0.9 if _context(_NINO_CONTEXT, text, m.start(), m.end()) else 0.75
        yield Span(m.start(), m.end(), "UK_NINO", score)


# -- IP_ADDRESS -------------------------------------------------------------------------------------
_IPV4 = re.compile(r"[0-9](?<![0-9A-Za-z.][0-9])[0-9]{0,2}(?:\.[0-9]{1,3}){3}(?![0-9A-Za-z]|\.[0-9])")
_IPV6 = re.compile(r"(?<![0-9A-Za-z:.])[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:]{2,38}(?![0-9A-Za-z:])")
_IP_CONTEXT = re.compile(r"(?i)\b(?:ip|ips|ipv4|address|host|server|ping|connect|connected|from|client)\b")
_VERSION_CONTEXT = re.compile(r"(?i)(?:version|release|ver\.?|build|firmware)\s{0,2}$")


def find_ip_address(text: str) -> Iterator[Span]:
    if "." in text:
        for m in _IPV4.finditer(text):
            octets = m.group().split(".")
            if any(int(o) > 255 or (len(o) > 1 and o[0] == "0") for o in octets):
                continue  # 999.1.1.1, or a leading zero (ambiguous: octal to some parsers)
            if _VERSION_CONTEXT.search(text, max(0, m.start() - 12), m.start()):
                continue
            # 1.2.3.4 reads as a version number unless the text talks about addresses.
            small = all(len(o) == 1 for o in octets)
            if small and not _context(_IP_CONTEXT, text, m.start(), m.end(), before=24, after=0):
                continue
            yield Span(m.start(), m.end(), "IP_ADDRESS", 0.85)
    if "::" in text or text.count(":") >= 3:
        for m in _IPV6.finditer(text):
            candidate = m.group()
            if candidate.count(":") < 2 or candidate == "::":
                continue  # a time or a bare "::"
            try:
                ipaddress.IPv6Address(candidate)
            except ValueError:
                continue  # times (12:30:45), MAC addresses, C++ scopes
            yield Span(m.start(), m.end(), "IP_ADDRESS", 0.85)


# -- STREET_ADDRESS ---------------------------------------------------------------------------------
_SUFFIXES = (
    "Street|St|Avenue|Ave|Av|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Ter"
    "|Circle|Cir|Parkway|Pkwy|Highway|Hwy|Square|Sq|Crescent|Cres|Close|Trail|Trl|Alley|Row|Walk|Gardens"
    "|Grove|Heights|Hill|Plaza|Loop|Path|Pike|Mews|Green|Rise|Point|Crossing|Expressway|Freeway|Park"
)
# An optional flat or suite after a street: ", Apt. 5B", " Suite 200".
_UNIT = r"(?P<unit>,?[ ](?:Apt|Apartment|Suite|Ste|Unit|Fl|Floor|Room|Rm|No)\.?[ ]?#?[0-9A-Za-z\-]{1,6}\b)?"
_STREET = re.compile(
    r"[0-9](?<![\w,.\-][0-9])[0-9]{0,5}[A-Za-z]?(?:-[0-9]{1,4})?,?[ ]"  # house number: 221B, 12-14
    r"(?:(?:[A-Z][A-Za-z'\-]{0,24}|[0-9]{1,3}(?:st|nd|rd|th))\.?[ ]){1,4}"  # street name words
    rf"(?:{_SUFFIXES})\b\.?"
    + _UNIT
    + r"(?P<city>,?[ ][A-Z][A-Za-z]{1,24}(?:[ ][A-Z][A-Za-z]{1,24}){0,2},?[ ][A-Z]{2},?[ ][0-9]{5}"
    r"(?:-[0-9]{4})?\b)?"
)
# Continental style, street type first: "Via Tasso 129", "Rue de la Paix 12", "33 avenue de Provence".
_STREET_TYPE_FIRST = re.compile(
    r"(?:Rue|rue|Via|Viale|Calle|Avenida|Rua|Piazza|Strada|Chemin|Allée|Rambla|Paseo|Carrer|Largo|Travessa"
    r"|Praça|Plaza|Avenue|avenue|Boulevard|boulevard|Ulica|ulica)[ ]"
    r"(?:(?:[A-ZÀ-ÖØ-Þ][^\W\d_'’\-]{0,24}|de|del|della|des|du|la|le|los|las|do|da|dos|das|di|van|von|der)[ ]){0,3}"
    r"[A-ZÀ-ÖØ-Þ][^\W\d_'’\-]{1,24}"
    r"(?P<number>,?[ ][0-9]{1,5}[A-Za-z]?\b)?" + _UNIT
)
_NUMBER_BEFORE = re.compile(r"(?<![\w,.\-])[0-9]{1,5}[A-Za-z]?,?[ ]$")
# Street type fused into the name: "Bahnhofstraße 3", "Ringvej 144", "Snellmaninkatu 55", "Kerkstraat 1".
_FUSED_STREET = re.compile(r"[A-ZÀ-ÖØ-Þ](?<![\w\-].)[^\W\d_\-]{2,30}[ ][0-9]{1,5}[A-Za-z]?\b" + _UNIT)
_FUSED_SUFFIXES = tuple(
    "straße strasse gasse weg platz allee damm vej gade stræde gata gatan vägen väg veien vegen vei katu "
    "tie kuja polku laan straat gracht plein utca ulica stræti straeti vænget gränd".split()
)
_PO_BOX = re.compile(r"(?i)\b(?:P\.?[ ]?O\.?[ ]?Box|Post Office Box)[ ][0-9]{1,6}\b")


def find_street_address(text: str) -> Iterator[Span]:
    for m in _STREET.finditer(text):
        score = 0.8 if m.group("unit") or m.group("city") else 0.7
        yield Span(m.start(), m.end(), "STREET_ADDRESS", score)
    for m in _STREET_TYPE_FIRST.finditer(text):
        if m.start() and text[m.start() - 1].isalnum():
            continue  # "Bravia ..." is not "Via ..."
        before = _NUMBER_BEFORE.search(text, max(0, m.start() - 9), m.start())
        if before or m.group("number"):  # a house number on one side: an address, not a name
            start = before.start() if before else m.start()
            yield Span(start, m.end(), "STREET_ADDRESS", 0.75 if m.group("unit") else 0.65)
    for m in _FUSED_STREET.finditer(text):
        if m.group().split(" ", 1)[0].lower().endswith(_FUSED_SUFFIXES):
            yield Span(m.start(), m.end(), "STREET_ADDRESS", 0.75 if m.group("unit") else 0.65)
    for m in _PO_BOX.finditer(text) if "box" in text.lower() else ():
        yield Span(m.start(), m.end(), "STREET_ADDRESS", 0.65)


FINDERS: dict[str, Callable[[str], Iterator[Span]]] = dict(
    zip(
        ENTITIES,
        (find_email, find_phone, find_credit_card, find_iban, find_us_ssn, find_uk_nino, find_ip_address,
         find_street_address, find_person),
        strict=True,
    )
)  # fmt: skip
"""The recognizer of each entity type."""
