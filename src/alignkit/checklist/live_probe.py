"""One session of live probes against a running gateway: an HTTP client with bounded timeouts, the
gateway's own config (its store, log file, guards) and the model the probes call.

Probe traffic is marked three ways, so it can be told apart from users' traffic and left out of what
matters: every request carries the header ``x-alignkit-probe: checklist`` (for proxies and access
logs), every request id is ``probe_...`` (:data:`PROBE_ID_PREFIX`: it lands in the gateway's request
log, audit rows, exchanges and reviews), and every prompt starts with :data:`PROBE_PREFIX`. Feedback
probes carry a comment only (no rating, no correction), so feedback exports never turn them into
training pairs. Nothing is deleted from the gateway's store: the checklist only reads it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from alignkit.checklist.config import DeployConfig
from alignkit.checklist.model import Evidence, ItemResult, Status
from alignkit.core.errors import ConfigError
from alignkit.gateway.config import GatewayConfig
from alignkit.gateway.db import SQL, open_database
from alignkit.gateway.postgres import redact_url
from alignkit.gateway.schema import MIGRATIONS, new_id

PROBE_HEADER = "x-alignkit-probe"
PROBE_PREFIX = "[alignkit checklist probe] "
PROBE_ID_PREFIX = "probe_"
CONNECT_TIMEOUT_S = 5.0  # a gateway that does not accept a connection in 5 s is down, not slow
HEALTH_TIMEOUT_S = 10.0  # /health does no work: an answer slower than this is no answer
TITLES = {
    "rate_limits": "Rate limiting enabled",
    "logging_monitoring": "Logging and monitoring active",
    "escalation": "Human escalation path defined",
    "feedback": "User feedback mechanism",
}
"""The live items, in the guide's order, with its wording."""


class ProbeError(Exception):
    """A probe could not be made or read: the item fails with this message (and ``fix``, when known)."""

    def __init__(self, message: str, fix: str | None = None, evidence: list[Evidence] | None = None) -> None:
        super().__init__(message)
        self.message, self.fix, self.evidence = message, fix, evidence or []


def item(
    item_id: str,
    status: Status,
    summary: str,
    evidence: list[Evidence],
    fix: str | None = None,
    details: dict[str, Any] | None = None,
) -> ItemResult:
    return ItemResult(
        item_id, TITLES[item_id], status, summary, evidence, None if status == "pass" else fix, details or {}
    )


def probe_id() -> str:
    """A request id the gateway keeps verbatim in its logs (its own id shape: a hex letter among the
    hex digits, so the log redactor never takes it for a phone number)."""
    while True:
        rid = new_id(PROBE_ID_PREFIX)
        if any(c in "abcdef" for c in rid.removeprefix(PROBE_ID_PREFIX)):
            return rid


def show(r: httpx.Response, *names: str) -> str:
    """A response's status and the named headers (those it has)."""
    found = [f"{n}: {r.headers[n]}" for n in names if n in r.headers]
    return f"HTTP {r.status_code}" + (f" ({', '.join(found)})" if found else "")


def error_text(r: httpx.Response, *, hint: bool = True) -> str:
    """The gateway's error message, or the start of the body; on a 429 (unless not ``hint``) why a probe
    may meet one."""
    try:
        body = r.json()
        err = body.get("error") if isinstance(body, dict) else None
        text = str(err.get("message", err))[:300] if isinstance(err, dict) else str(body)[:200]
    except ValueError:
        text = r.text[:200]
    if hint and r.status_code == 429:
        text += (
            f" (the probe key is over its limit: did a checklist run less than a minute ago? run it again after "
            f"{r.headers.get('retry-after', '60')} s, and keep the probe key for the checklist alone)"
        )
    return text


@dataclass
class Probe:
    """What every live check uses: ``request`` (bounded, marked, failing as :class:`ProbeError`), the
    gateway's config and store (from ``gateway.config`` in deploy.yaml), and the model to call."""

    config: DeployConfig
    url: str
    client: httpx.Client
    gateway: GatewayConfig | None = None
    gateway_error: str | None = None
    model: str | None = None
    model_note: str = ""
    chats: int = 0  # chat requests sent with the user key (they count against its rate limit)
    _db: SQL | None = field(default=None, repr=False)

    @classmethod
    def open(cls, config: DeployConfig, url: str, transport: httpx.BaseTransport | None = None) -> Probe:
        t = config.gateway.timeout_s
        timeout = httpx.Timeout(t, connect=min(CONNECT_TIMEOUT_S, t))
        client = httpx.Client(
            base_url=url.rstrip("/"), timeout=timeout, transport=transport, headers={PROBE_HEADER: "checklist"}
        )
        probe = cls(config, url.rstrip("/"), client)
        path = config.path(config.gateway.config)
        if path is None:
            probe.gateway_error = "deploy.yaml names no gateway config (gateway.config)"
        else:
            try:
                probe.gateway = GatewayConfig.from_file(path)
            except ConfigError as e:
                probe.gateway_error = str(e)
        return probe

    def close(self) -> None:
        self.client.close()
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- HTTP ----------------------------------------------------------------------------------------------
    def request(
        self, method: str, path: str, scope: str | None = None, *, timeout: float | None = None, **kw: Any
    ) -> httpx.Response:
        """``method path`` with the key of ``scope`` (none with ``auth: none`` or no scope)."""
        headers = dict(kw.pop("headers", {}))
        key = self.config.key(scope) if scope else None
        if key:
            headers["authorization"] = f"Bearer {key}"
        if timeout is not None:
            kw["timeout"] = httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT_S, timeout))
        try:
            return self.client.request(method, path, headers=headers, **kw)
        except httpx.TimeoutException as e:
            raise ProbeError(
                f"{method} {self.url}{path}: no answer ({type(e).__name__})",
                "start the gateway, or raise gateway.timeout_s in deploy.yaml for a slow model",
            ) from None
        except httpx.HTTPError as e:
            raise ProbeError(
                f"{method} {self.url}{path}: {type(e).__name__}: {e}",
                "start the gateway (alignkit serve --config gateway.yaml) or give the right --gateway URL",
            ) from None

    def need_key(self, scope: str) -> None:
        """Fail when the gateway needs keys and deploy.yaml gives none for ``scope``."""
        if self.config.key(scope) or (self.gateway is not None and self.gateway.auth == "none"):
            return
        var = getattr(self.config.gateway.keys, scope)
        where = f"the environment variable {var} is not set" if var else f"deploy.yaml sets no gateway.keys.{scope}"
        raise ProbeError(
            f"no {scope} key for the probe: {where}",
            f"create one (alignkit keys create checklist-{scope} --scope {scope} --config gateway.yaml) and put it "
            f"in the environment variable that gateway.keys.{scope} names",
        )

    def chat(self, text: str, *, request_id: str | None = None, scope: str = "user") -> httpx.Response:
        """The cheapest chat completion: one marked user message, one token."""
        if self.model is None:
            raise ProbeError(
                f"no model to probe: {self.model_note}", "serve at least one model (models: in gateway.yaml)"
            )
        body = {"model": self.model, "max_tokens": 1, "messages": [{"role": "user", "content": PROBE_PREFIX + text}]}
        headers = {"x-request-id": request_id or probe_id()}
        self.chats += scope == "user"
        return self.request("POST", "/v1/chat/completions", scope, json=body, headers=headers)

    def pick_model(self) -> None:
        """``config.model`` when the gateway serves it under that name, else the first model it lists."""
        try:
            r = self.request("GET", "/v1/models", "user")
            data = r.json().get("data") if r.status_code == 200 else None
        except (ProbeError, ValueError, AttributeError) as e:
            self.model_note = f"GET /v1/models failed: {getattr(e, 'message', e)}"
            return
        if not isinstance(data, list):
            self.model_note = f"GET /v1/models answered {r.status_code}: {error_text(r)}"
            return
        names = [str(m.get("id")) for m in data if isinstance(m, dict) and m.get("id")]
        if self.config.route() in names:
            self.model, self.model_note = self.config.route(), f"{self.config.route()} (deploy.yaml's model)"
        elif names:
            self.model = names[0]
            self.model_note = (
                f"{names[0]} (the gateway does not serve {self.config.model!r} by that name; first listed)"
            )
        else:
            self.model_note = "GET /v1/models lists no model this key may call"

    # -- the gateway's own files -----------------------------------------------------------------------------
    def need_gateway(self) -> GatewayConfig:
        if self.gateway is None:
            raise ProbeError(
                f"cannot read the gateway's config: {self.gateway_error}",
                "set gateway.config in deploy.yaml to the file `alignkit serve --config` runs with",
            )
        return self.gateway

    def gateway_path(self, value: str) -> Path:
        """A path from the gateway's config: relative ones are read from the gateway config's folder."""
        p = Path(value).expanduser()
        base = self.config.path(self.config.gateway.config)
        return p if p.is_absolute() or base is None else base.resolve().parent / p

    @property
    def store_name(self) -> str:
        """The store, for evidence: its database (a URL without its password) and the config naming it."""
        if self.gateway is None:
            return "the gateway's store"
        return f"{redact_url(self.gateway.database)} (database in {self.config.gateway.config})"

    def store(self) -> SQL:
        """The gateway's store (its ``database``), opened once; a SQLite file that does not exist is an
        error, never a new empty store."""
        if self._db is not None:
            return self._db
        url = self.need_gateway().database
        if "://" not in url or url.startswith("sqlite:///"):
            path = self.gateway_path(url.removeprefix("sqlite:///"))
            if not path.is_file():
                raise ProbeError(
                    f"no gateway store at {path} (database in {self.config.gateway.config})",
                    "run the checklist where the gateway's store is, or point database: at it (a PostgreSQL URL "
                    "works from anywhere)",
                )
            url = str(path)
        try:
            self._db = open_database(url, MIGRATIONS)
        except (ConfigError, OSError) as e:
            raise ProbeError(f"cannot open the gateway store {redact_url(url)}: {e}") from None
        except Exception as e:  # a PostgreSQL server that refuses us: the items that need it fail
            raise ProbeError(f"cannot open the gateway store: {type(e).__name__}: {e}") from None
        return self._db


def wait_until(check: Any, timeout_s: float, every_s: float = 0.05) -> Any:
    """``check()`` until it returns something truthy or ``timeout_s`` passes; its last result."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = check()
        if got or time.monotonic() >= deadline:
            return got
        time.sleep(every_s)
