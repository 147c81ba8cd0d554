"""Keeping credentials out of everything alignkit shows, logs and stores.

Two kinds of redaction, applied together by :func:`redact`:

- **known secrets**: exact values (the API key a provider holds), with their common encodings: as is,
  URL-encoded, JSON-escaped and inside base64 at any alignment, so ``Basic base64(user:key)`` is
  caught whatever the user name;
- **shapes**: ``Bearer ...`` and ``Basic ...`` credentials, ``Authorization: ...`` / ``api_key=...``
  pairs, and keys with a well-known prefix (``sk-...``, ``hf_...``, ``ghp_...``, ``AKIA...``).

Providers redact their errors at the source with the key they hold, and :func:`mask` it: the process's
mask list (what CI runners do with registered secrets) lets the last lines of defence (the run store,
reports, CLI output, the log record factory of :func:`install_log_scrubber`) redact it without being
told. Every pattern is a literal prefix followed by bounded repetitions of one character class, so a
hostile text of n characters costs O(n) steps, never a backtracking blow-up.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import urllib.parse
from collections.abc import Iterable
from typing import Any

__all__ = ["REDACTED", "install_log_scrubber", "mask", "masked", "redact", "scrub", "scrub_value"]

REDACTED = "[REDACTED]"
MIN_SECRET_CHARS = 6  # masking shorter values would mangle ordinary words; no real API key is that short

_VALUE = r"[A-Za-z0-9._~+/=:-]{4,4096}"  # a credential's characters, bounded so matching stays linear
_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    # a header or field that names a credential, with an optional scheme before its value
    (
        re.compile(
            r"(?i)\b((?:proxy-)?authorization|x-api-key|api[-_]?key|access[-_]?token|auth[-_]?token|"
            r"secret[-_]?key|client[-_]?secret|password)([\"']?\s{0,8}[:=]\s{0,8}[\"']?)"
            r"(?:(?:bearer|basic|token)\s{1,8})?[^\s\"',;&}<>]{1,4096}"
        ),
        rf"\1\2{REDACTED}",
    ),
    (re.compile(r"(?i)\b(bearer)\s{1,8}" + _VALUE), rf"\1 {REDACTED}"),
    (re.compile(r"\b(Basic)\s{1,8}[A-Za-z0-9+/]{8,4096}={0,2}"), rf"\1 {REDACTED}"),
    (re.compile(r"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{16,4096}"), REDACTED),
    (re.compile(r"\b(?:hf|ghp|gho|ghu|ghs|github_pat|glpat|xox[abprs])[_-][A-Za-z0-9_-]{16,4096}"), REDACTED),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), REDACTED),
)
_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{4,65536}={0,2}")

_masked: set[str] = set()
_lock = threading.Lock()


def _plain_forms(secret: str) -> set[str]:
    """The secret as it appears in text: as is, URL-encoded, JSON-escaped."""
    forms = {
        secret,
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
        json.dumps(secret)[1:-1],
    }
    return {f for f in forms if len(f) >= MIN_SECRET_CHARS}


def _base64_cores(secret: str) -> set[str]:
    """The base64 characters that depend on the secret alone, for each of the 3 alignments it can have
    after a prefix (``user:``): any base64 text holding the secret holds one of these (standard or URL-safe)."""
    raw, cores = secret.encode(), set()
    for offset in range(3):
        enc = base64.b64encode(b"\0" * offset + raw).decode()
        start, end = -(-8 * offset // 6), (8 * offset + 8 * len(raw)) // 6
        core = enc[start:end]
        if len(core) >= MIN_SECRET_CHARS:
            cores |= {core, core.translate(str.maketrans("+/", "-_"))}
    return cores


def redact(text: str, secrets: Iterable[str | None] = (), *, shapes: bool = True) -> str:
    """``text`` with ``secrets`` (in every form of the module docstring) and, with ``shapes``, anything
    shaped like a credential replaced by ``[REDACTED]``. Model answers are redacted without ``shapes``
    (an answer may legitimately show what a bearer header looks like); errors and logs with them."""
    if not text:
        return text
    known = [s for s in secrets if s and len(s) >= MIN_SECRET_CHARS]
    for secret in sorted(known, key=len, reverse=True):
        for form in sorted(_plain_forms(secret), key=len, reverse=True):
            text = text.replace(form, REDACTED)
    cores = {c for s in known for c in _base64_cores(s)}
    if cores:
        text = _B64_RUN.sub(lambda m: REDACTED if any(c in m.group(0) for c in cores) else m.group(0), text)
    for pattern, replacement in _SHAPES if shapes else ():
        text = pattern.sub(replacement, text)
    return text


def mask(secret: str | None) -> None:
    """Add ``secret`` to the process's mask list: :func:`scrub` redacts it from then on (values shorter
    than ``MIN_SECRET_CHARS`` are ignored)."""
    if secret and len(secret) >= MIN_SECRET_CHARS:
        with _lock:
            _masked.add(secret)


def masked() -> frozenset[str]:
    """The secrets masked so far."""
    with _lock:
        return frozenset(_masked)


def scrub(text: str, *, shapes: bool = True) -> str:
    """``text`` with every masked secret (and, with ``shapes``, anything shaped like a credential) redacted."""
    return redact(text, masked(), shapes=shapes)


def scrub_value(value: Any, *, shapes: bool = True) -> Any:
    """``value`` with :func:`scrub` applied to every string inside it (dicts, lists and tuples walked)."""
    if isinstance(value, str):
        return scrub(value, shapes=shapes)
    if isinstance(value, dict):
        return {k: scrub_value(v, shapes=shapes) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(scrub_value(v, shapes=shapes) for v in value)
    return value


_factory_lock = threading.Lock()


def install_log_scrubber() -> None:
    """Scrub every log record as it is made (message, arguments and traceback text), whichever handler
    later receives it. Idempotent; the CLI installs it at start."""
    with _factory_lock:
        previous = logging.getLogRecordFactory()
        if getattr(previous, "alignkit_scrubs", False):
            return

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            try:
                message = record.getMessage()
            except Exception:  # a bad format string is for logging to report, at emit
                return record
            cleaned = scrub(message)
            if cleaned != message:
                record.msg, record.args = cleaned, ()
            if record.exc_info and record.exc_info[1] is not None:
                record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            return record

        factory.alignkit_scrubs = True  # type: ignore[attr-defined]
        logging.setLogRecordFactory(factory)
