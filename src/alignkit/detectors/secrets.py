"""Credentials in text: cloud and API keys, tokens, private keys, JWTs and password assignments.

    >>> from alignkit.detectors import get_detector
    >>> v = get_detector("secrets").detect("export GITHUB_TOKEN=ghp_" + "a1B2c3D4e5" * 4)
    >>> v.flagged, v.label
    (True, 'GITHUB_TOKEN')

Why: a model that echoes a key from its context, or a user who pastes one into a prompt, leaks it to
logs and providers. Keys with a vendor prefix (``AKIA``, ``ghp_``, ``sk-ant-``, ``xoxb-``, ``AIza``,
``sk_live_``) are matched by format; JWTs are checked by decoding their header; a generic
``password = "..."`` or ``api_key: ...`` counts only when the value looks random (Shannon entropy), so
``password = "changeme"`` and ``token = os.environ["TOKEN"]`` do not.

As in :mod:`alignkit.detectors.pii`, every pattern is linear-time on hostile input (bounded repetitions,
token-boundary lookbehinds), spans cover the secret itself so :func:`~alignkit.detectors.pii.redact`
hides exactly it, and reasons name the kinds found, never the values.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Iterator

from alignkit.core.errors import ConfigError
from alignkit.core.records import Span, Verdict
from alignkit.detectors.base import Detector, Finding, detector
from alignkit.detectors.pii import find_in_readings, redact, resolve_overlaps, spans_finding

__all__ = ["KINDS", "SecretsDetector", "find_secrets", "redact_secrets", "shannon_entropy"]

# Vendor formats: (kind, literal markers one of which must occur, pattern, score). The markers are a
# cheap `in` test that skips the regex on the usual text with no key in it.
_VENDOR = (
    (
        "AWS_ACCESS_KEY_ID",
        ("AKIA", "ASIA", "ABIA", "ACCA"),
        re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}(?![A-Za-z0-9])"),
        0.9,
    ),
    (
        "GITHUB_TOKEN",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        re.compile(
            r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,251})(?![A-Za-z0-9_])"
        ),
        0.95,
    ),
    (
        "ANTHROPIC_KEY",
        ("sk-ant-",),
        re.compile(r"(?<![A-Za-z0-9_\-])sk-ant-[A-Za-z0-9_\-]{20,200}(?![A-Za-z0-9_\-])"),
        0.95,
    ),
    (
        "OPENAI_KEY",
        ("sk-",),
        re.compile(r"(?<![A-Za-z0-9_\-])sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,200}(?![A-Za-z0-9_\-])"),
        0.9,
    ),
    (
        "SLACK_TOKEN",
        ("xox",),
        re.compile(r"(?<![A-Za-z0-9\-])xox[abposr]-[A-Za-z0-9\-]{10,250}(?![A-Za-z0-9\-])"),
        0.9,
    ),
    (
        "SLACK_WEBHOOK",
        ("hooks.slack.com",),
        re.compile(r"https://hooks\.slack\.com/services/T[A-Z0-9]{6,12}/B[A-Z0-9]{6,12}/[A-Za-z0-9]{20,40}"),
        0.9,
    ),
    (
        "GOOGLE_API_KEY",
        ("AIza",),
        re.compile(r"(?<![A-Za-z0-9_\-])AIza[0-9A-Za-z_\-]{35}(?![A-Za-z0-9_\-])"),
        0.9,
    ),
    (
        "STRIPE_KEY",
        ("_live_", "_test_"),
        re.compile(r"(?<![A-Za-z0-9_])(?:sk|rk)_(?P<mode>live|test)_[0-9A-Za-z]{16,247}(?![A-Za-z0-9_])"),
        0.95,
    ),
)
_ANY_MARKER = re.compile("|".join(re.escape(m) for _, markers, _, _ in _VENDOR for m in markers))
_AWS_SECRET = re.compile(
    r"(?i)aws_?(?:secret_?(?:access_?)?key|secret)[\"']?[ \t]{0,3}(?::=|=>|=|:)[ \t]{0,3}[\"']?"
    r"(?P<value>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
)
_PEM_BEGIN = re.compile(r"-----BEGIN (?:[A-Z0-9]{1,12} ){0,3}PRIVATE KEY(?: BLOCK)?-----")
_PEM_END = re.compile(r"-----END (?:[A-Z0-9]{1,12} ){0,3}PRIVATE KEY(?: BLOCK)?-----")
_PEM_BODY = re.compile(r"[A-Za-z0-9+/=:,\- \t\r\n]{0,20000}")
_JWT = re.compile(
    r"(?<![A-Za-z0-9_\-.])(?P<header>eyJ[A-Za-z0-9_\-]{10,1000})\.[A-Za-z0-9_\-]{2,8000}\.[A-Za-z0-9_\-]{0,1000}"
    r"(?![A-Za-z0-9_\-])"
)
# `password = "..."`, `api_key: ...`, `"client_secret": "..."`: the key name is searched for in the
# lower-cased text (a case-sensitive alternation scans ~10x faster than an IGNORECASE one), then the
# operator and the value are matched right after it.
_KEY_NAMES = re.compile(
    r"(?:password|passwd|pwd|secret|token|api[_\-]?key|access[_\-]?key|auth[_\-]?key|client[_\-]?secret"
    r"|private[_\-]?key|credentials?)"
)
_ASSIGNED_VALUE = re.compile(
    r"(?P<suffix>[a-z0-9_\-]{0,20})[\"']?[ \t]{0,3}(?::=|=>|=|:)[ \t]{0,3}[\"'`]?(?P<value>[^\s\"'`,;]{8,200})"
)
# Keys about a secret rather than holding one: token_url, password_file, secret_name, token_type, ...
_NOT_A_SECRET_KEY = re.compile(r"url|uri|endpoint|path|file|name|type|len|count|size|limit|expir|ttl|_id|-id")
_BEARER = re.compile(r"(?i)(?<![A-Za-z])bearer[ ]{1,3}(?P<value>[A-Za-z0-9._~+/\-]{20,500}={0,3})")
# Values that name a secret rather than being one: references, templates and placeholders.
_REFERENCE = re.compile(r"[()\[\]{}<>]|^(?:\$[A-Za-z_{]|%\(|os\.|process\.env|env\.|self\.|settings\.|config\.)")
# Code that names a variable or a type: `max_tokens=cfg.max_tokens`, `pwd=new_pwd`, `secret: SecretStr`.
_IDENTIFIER = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]{0,80}(?:\.[A-Za-z_][A-Za-z0-9_]{0,80}){1,8}|[a-z_]{1,80}|(?:[A-Z][a-z]{0,30}){2,8}"
)
_PLACEHOLDER_WORDS = re.compile(r"(?i)your|example|placeholder|redacted|changeme|dummy|sample|xxxx|\*\*\*")

KINDS = (
    *(kind for kind, *_ in _VENDOR),
    "AWS_SECRET_KEY",
    "PRIVATE_KEY",
    "JWT",
    "BEARER_TOKEN",
    "GENERIC_SECRET",
)
"""Secret kinds the detector knows (span labels)."""


def shannon_entropy(s: str) -> float:
    """Bits per character of ``s``'s character distribution: ~2.5-3 for words, 4+ for random keys."""
    if not s:
        return 0.0
    n = len(s)
    return -sum(c / n * math.log2(c / n) for c in Counter(s).values())


def _find_vendor(text: str) -> Iterator[Span]:
    if not _ANY_MARKER.search(text):
        return  # one scan for all markers: the usual text has none
    for kind, markers, pattern, score in _VENDOR:
        if not any(marker in text for marker in markers):
            continue
        for m in pattern.finditer(text):
            if kind == "OPENAI_KEY" and shannon_entropy(m.group()) < 3.5:
                continue  # "sk-" then a long word: a slug, not a key
            test_mode = kind == "STRIPE_KEY" and m.group("mode") == "test"
            yield Span(m.start(), m.end(), kind, 0.6 if test_mode else score)


def _find_private_keys(text: str) -> Iterator[Span]:
    if "-----BEGIN" not in text:
        return
    ends = [(m.start(), m.end()) for m in _PEM_END.finditer(text)]
    starts = [e[0] for e in ends]
    covered = 0  # a BEGIN line inside a block already reported is part of it: skip (keeps the scan linear)
    for m in _PEM_BEGIN.finditer(text):
        if m.start() < covered:
            continue
        i = bisect_right(starts, m.end() - 1)
        body = _PEM_BODY.match(text, m.end())
        body_end = body.end() if body else m.end()
        if i < len(ends) and ends[i][0] <= body_end:
            covered = ends[i][1]
            yield Span(m.start(), covered, "PRIVATE_KEY", 0.99)
        else:  # truncated block: the header and whatever key material follows it
            covered = body_end
            yield Span(m.start(), body_end, "PRIVATE_KEY", 0.95)


def _jwt_header_ok(header: str) -> bool:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False
    return isinstance(decoded, dict) and "alg" in decoded


def _find_jwts(text: str) -> Iterator[Span]:
    if "eyJ" not in text:
        return
    for m in _JWT.finditer(text):
        if _jwt_header_ok(m.group("header")):
            yield Span(m.start(), m.end(), "JWT", 0.9)


def _value_score(value: str) -> float:
    if _REFERENCE.search(value) or _IDENTIFIER.fullmatch(value) or _PLACEHOLDER_WORDS.search(value):
        return 0.0
    if len(set(value)) < 4:
        return 0.0
    if "://" in value and "@" not in value:
        return 0.0  # a URL, unless it carries credentials (https://user:pass@host)
    entropy = shannon_entropy(value)
    return 0.8 if entropy >= 3.5 else 0.6 if entropy >= 3.0 else 0.0


def _find_assignments(text: str) -> Iterator[Span]:
    lowered = text.lower()
    if "aws" in lowered:
        for m in _AWS_SECRET.finditer(text):
            if shannon_entropy(m.group("value")) >= 3.5:
                yield Span(m.start("value"), m.end("value"), "AWS_SECRET_KEY", 0.95)
    # Lower-casing keeps offsets only when no character changes length ("İ" becomes two).
    keyed = lowered if len(lowered) == len(text) else text
    covered = 0  # a key name inside the previous value is part of that value (keeps the scan linear)
    for key in _KEY_NAMES.finditer(keyed):
        if key.start() < covered or (key.start() and keyed[key.start() - 1].isalpha()):
            continue  # inside a longer word ("bypassword", "mytoken"); "db_password" and "api-token" count
        assigned = _ASSIGNED_VALUE.match(keyed, key.end())
        if assigned:
            covered = assigned.end()
            if _NOT_A_SECRET_KEY.search(assigned.group("suffix")):
                continue
            start, end = assigned.span("value")
            score = _value_score(text[start:end])  # the value in its original case
            if score:
                yield Span(start, end, "GENERIC_SECRET", score)
    if "bearer" in lowered:
        for m in _BEARER.finditer(text):
            score = _value_score(m.group("value"))
            if score:
                yield Span(m.start("value"), m.end("value"), "BEARER_TOKEN", score)


def find_secrets(text: str, kinds: Iterable[str] = KINDS, min_score: float = 0.0) -> list[Span]:
    """Every secret of the given kinds in ``text`` scoring at least ``min_score``, overlaps resolved
    (a vendor key inside ``api_key = ...`` keeps its vendor label)."""
    wanted = set(kinds)
    found = [
        s
        for finder in (_find_vendor, _find_private_keys, _find_jwts, _find_assignments)
        for s in finder(text)
        if s.label in wanted and s.score >= min_score
    ]
    return resolve_overlaps(found)


def resolve_kinds(kinds: Iterable[str] | str | None) -> tuple[str, ...]:
    if kinds is None:
        return KINDS
    asked = {str(k).strip().upper() for k in ([kinds] if isinstance(kinds, str) else kinds)}
    unknown = sorted(asked - set(KINDS))
    if unknown or not asked:
        raise ConfigError(f"secrets: unknown kind(s) {', '.join(unknown) or '(none given)'}; known: {', '.join(KINDS)}")
    return tuple(k for k in KINDS if k in asked)


@detector("secrets", aliases=("secrets_present", "guardrails/secrets_present", "api_keys"))
class SecretsDetector(Detector):
    """Flags API keys, tokens, private keys, JWTs and high-entropy password assignments."""

    name = "secrets"

    def __init__(self, kinds: Iterable[str] | str | None = None, *, threshold: float | None = None) -> None:
        self.kinds = resolve_kinds(kinds)
        super().__init__(threshold=threshold, kinds=list(self.kinds) if kinds is not None else None)

    def find(self, text: str) -> Finding:
        # A key split by zero-width characters or soft hyphens, written in full-width or look-alike letters,
        # or reversed behind a right-to-left override is found in a de-obfuscated reading, and its span
        # mapped back to the original text covers every character of it.
        return spans_finding(*find_in_readings(lambda t: find_secrets(t, self.kinds, self.threshold), text))

    def fix(self, text: str, verdict: Verdict) -> str:
        """The guard's "fix" action: each secret replaced by its kind, e.g. ``<GITHUB_TOKEN>``."""
        return redact(text, verdict.spans)


def redact_secrets(text: str, style: str = "label") -> str:
    """``text`` with every secret the default detector finds replaced (see :func:`pii.redact`)."""
    return redact(text, SecretsDetector().find(text).spans, style)
