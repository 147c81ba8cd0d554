"""API keys: shown once, stored as SHA-256 hashes, compared in constant time, with scopes and model lists.

A key reads ``ak-<key_id>-<secret>``: ``key_id`` (16 hex characters) finds the row, the secret (43
URL-safe characters, 256 random bits) is checked against its stored hash with :func:`hmac.compare_digest`.
A hash of a 256-bit random secret needs no salt or slow hashing: nobody can guess the secret, and the
database never holds it. Revoked keys stay in the table (their id is in old audit rows) and never verify.

Scopes: ``user`` calls models and sends feedback; ``reviewer`` works the review queue; ``admin`` does
everything, including incidents and keys.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

from alignkit.core.errors import ConfigError
from alignkit.gateway.config import LimitConfig
from alignkit.gateway.db import SQL

Scope = Literal["user", "reviewer", "admin"]
SCOPES: tuple[Scope, ...] = ("user", "reviewer", "admin")
_KEY = re.compile(r"ak-([0-9a-f]{16})-([A-Za-z0-9_-]{43})")
_DUMMY_HASH = hashlib.sha256(b"not a key").hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key's record (never its secret)."""

    key_id: str
    name: str
    scopes: tuple[str, ...]
    models: tuple[str, ...] | None  # None: every model
    limits: LimitConfig | None
    created: float
    revoked: float | None

    def allows(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes

    def may_call(self, model: str) -> bool:
        return self.models is None or model in self.models

    def to_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "name": self.name,
            "scopes": list(self.scopes),
            "models": None if self.models is None else list(self.models),
            "limits": None if self.limits is None else self.limits.model_dump(exclude_none=True),
            "created": self.created,
            "revoked": self.revoked,
        }


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyStore:
    """``cache_s``: how long a verified key is trusted without reading the store again (a revocation takes
    effect within that time); the cache is keyed by the key's hash, never the key."""

    def __init__(self, db: SQL, *, cache_s: float = 2.0) -> None:
        self.db, self.cache_s = db, cache_s
        self._cache: dict[str, tuple[float, ApiKey]] = {}

    def create(
        self,
        name: str,
        scopes: tuple[str, ...] | list[str] = ("user",),
        models: list[str] | None = None,
        limits: LimitConfig | None = None,
    ) -> tuple[ApiKey, str]:
        """A new key: its record and the key itself, which is shown once and never stored."""
        bad = [s for s in scopes if s not in SCOPES]
        if bad or not scopes:
            raise ConfigError(f"scopes must be some of {', '.join(SCOPES)}; got {', '.join(bad) or 'none'}")
        if not name.strip():
            raise ConfigError("give the key a name (who or what uses it)")
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        rec = ApiKey(
            key_id,
            name.strip(),
            tuple(dict.fromkeys(scopes)),
            None if models is None else tuple(models),
            limits,
            time.time(),
            None,
        )
        self.db.write(
            "INSERT INTO api_keys (key_id, secret_hash, name, scopes, models, limits, created, revoked) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
            (
                key_id,
                _hash(secret),
                rec.name,
                json.dumps(list(rec.scopes)),
                None if models is None else json.dumps(list(models)),
                None if limits is None else limits.model_dump_json(exclude_none=True),
                rec.created,
            ),
        )
        return rec, f"ak-{key_id}-{secret}"

    def verify_cached(self, token: str) -> ApiKey | None:
        """:meth:`verify`, remembered for ``cache_s`` seconds (a server checks the same key many times a second)."""
        digest, now = _hash(token), time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        key = self.verify(token)
        if key is not None:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + self.cache_s, key)
        return key

    def verify(self, token: str) -> ApiKey | None:
        """The live key ``token`` is, or None. Takes the same time whether the id exists or not."""
        m = _KEY.fullmatch(token.strip()) if len(token) < 200 else None
        key_id, secret = (m.group(1), m.group(2)) if m else ("", token)
        row = self.db.read_one(_SELECT_WITH_HASH, (key_id,)) if m else None
        ok = hmac.compare_digest(_hash(secret), row[-1] if row else _DUMMY_HASH)
        if not (ok and row and m):
            return None
        rec = _record(row[:-1])
        return None if rec.revoked is not None else rec

    def get(self, key_id: str) -> ApiKey | None:
        row = self.db.read_one(_SELECT_BY_ID, (key_id,))
        return _record(row) if row else None

    def list(self, include_revoked: bool = False) -> list[ApiKey]:
        return [_record(r) for r in self.db.read(_SELECT_ALL if include_revoked else _SELECT_LIVE)]

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key (by id or by the whole key); an unknown id is an error, not a silent success."""
        m = _KEY.fullmatch(key_id.strip())
        key_id = m.group(1) if m else key_id.strip()
        changed = self.db.write(
            "UPDATE api_keys SET revoked = ? WHERE key_id = ? AND revoked IS NULL", (time.time(), key_id)
        )
        rec = self.get(key_id)
        self._cache.clear()  # this process stops trusting it at once; others within cache_s
        if rec is None:
            raise ConfigError(f"no key with id {key_id!r}; `alignkit keys list` shows the ids")
        if not changed:
            raise ConfigError(f"key {key_id} was already revoked")
        return rec


_SELECT_BY_ID = "SELECT key_id, name, scopes, models, limits, created, revoked FROM api_keys WHERE key_id = ?"
_SELECT_WITH_HASH = (
    "SELECT key_id, name, scopes, models, limits, created, revoked, secret_hash FROM api_keys WHERE key_id = ?"
)
_SELECT_ALL = "SELECT key_id, name, scopes, models, limits, created, revoked FROM api_keys ORDER BY created"
_SELECT_LIVE = (
    "SELECT key_id, name, scopes, models, limits, created, revoked FROM api_keys WHERE revoked IS NULL ORDER BY created"
)


def _record(row: Any) -> ApiKey:
    key_id, name, scopes, models, limits, created, revoked = row
    return ApiKey(
        key_id,
        name,
        tuple(json.loads(scopes)),
        None if models is None else tuple(json.loads(models)),
        None if limits is None else LimitConfig.model_validate_json(limits),
        float(created),
        None if revoked is None else float(revoked),
    )
