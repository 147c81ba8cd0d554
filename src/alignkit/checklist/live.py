"""The checklist's live items: probes of a running gateway (rate limits, logging and monitoring, human
escalation, user feedback), each concluding pass, warn or fail with the URLs, statuses, headers and
counts it saw.

    results = live_items(DeployConfig.from_file("deploy.yaml"), "http://127.0.0.1:8000")

A gateway that does not answer ``/health`` fails every item at once, with the reason. Every request is
bounded (``gateway.timeout_s`` in deploy.yaml, 5 s to connect) and the rate-limit probe by a budget of
its own, so the checklist never hangs. Probe traffic is marked (see :mod:`alignkit.checklist.live_probe`):
header ``x-alignkit-probe: checklist``, request ids ``probe_...``, prompts starting with
``[alignkit checklist probe]``.

What the probes need: a user key with a small ``requests_per_min`` (the rate-limit probe exceeds it and
leaves it limited for up to a minute, so it runs last), a reviewer key, and the gateway's config file
(``gateway.config``: its store, log file and guards are read, never written).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from alignkit.checklist.config import DeployConfig
from alignkit.checklist.live_humans import check_escalation, check_feedback
from alignkit.checklist.live_limits import check_rate_limits
from alignkit.checklist.live_logs import check_logging
from alignkit.checklist.live_probe import HEALTH_TIMEOUT_S, TITLES, Probe, ProbeError, item
from alignkit.checklist.model import Evidence, ItemResult
from alignkit.core.errors import ConfigError

__all__ = ["LIVE_ITEMS", "live_items"]

LIVE_ITEMS = tuple(TITLES)
"""The ids of the live items, in the guide's order."""
RATE_BUDGET_FACTOR = 4
"""The rate-limit probe's budget: this many times ``gateway.timeout_s`` (at least a minute)."""


def live_items(config: DeployConfig, url: str, *, transport: httpx.BaseTransport | None = None) -> list[ItemResult]:
    """Probe the gateway at ``url``; one result per live item, in the guide's order. ``transport``:
    httpx's seam (tests)."""
    probe = Probe.open(config, url, transport)
    try:
        down = _health(probe)
        if down is not None:
            return [item(i, "fail", down.message, down.evidence, down.fix) for i in LIVE_ITEMS]
        probe.pick_model()
        budget = max(60.0, RATE_BUDGET_FACTOR * config.gateway.timeout_s)
        checks: dict[str, Callable[[Probe], ItemResult]] = {  # run in this order: the rate-limit probe is last
            "logging_monitoring": check_logging,
            "feedback": check_feedback,
            "escalation": check_escalation,
            "rate_limits": lambda p: check_rate_limits(p, budget),
        }
        results = {i: _run(i, check, probe) for i, check in checks.items()}
        return [results[i] for i in LIVE_ITEMS]
    finally:
        probe.close()


def _health(probe: Probe) -> ProbeError | None:
    """Why the gateway cannot be probed at all (it does not answer /health with 200), or None."""
    source = f"{probe.url}/health"
    try:
        r = probe.request("GET", "/health", timeout=min(HEALTH_TIMEOUT_S, probe.config.gateway.timeout_s))
    except ProbeError as e:
        return ProbeError(
            f"the gateway does not answer: {e.message}", e.fix, [Evidence("GET /health", e.message, source)]
        )
    if r.status_code != 200:
        return ProbeError(
            f"the gateway is not healthy: GET /health answered {r.status_code}",
            "check the gateway's log; is --gateway the alignkit gateway's URL?",
            [Evidence("GET /health", f"HTTP {r.status_code}", source)],
        )
    return None


def _run(item_id: str, check: Callable[[Probe], ItemResult], probe: Probe) -> ItemResult:
    """One check; a probe that could not be made fails the item with the reason (fail closed)."""
    started = time.monotonic()
    try:
        result = check(probe)
    except ProbeError as e:
        result = item(item_id, "fail", e.message, e.evidence, e.fix or "see the evidence")
    except ConfigError as e:
        result = item(item_id, "fail", str(e), [], "fix the file the message names")
    except Exception as e:  # a store that broke mid-read, ...: the item could not measure, so it fails
        result = item(item_id, "fail", f"the probe broke: {type(e).__name__}: {e}", [], "see the message")
    if probe.model is not None and item_id != "escalation":
        result.evidence.insert(0, Evidence("model the probes call", probe.model_note, f"{probe.url}/v1/models"))
    result.details["seconds"] = round(time.monotonic() - started, 3)
    return result
