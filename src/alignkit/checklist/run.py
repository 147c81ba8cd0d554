"""The whole checklist: the file-based items and, given a running gateway, the live ones, in the
guide's order.

    results = run_checklist(DeployConfig.from_file("deploy.yaml"), gateway_url="http://127.0.0.1:8000")

Without a gateway URL (``--gateway`` or ``gateway.url``) the live items fail: they are not shown
safe by not looking. An item that breaks while it looks fails with what broke; it never stops the
others.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from alignkit.checklist.checks import ORDER, TITLES
from alignkit.checklist.config import DeployConfig
from alignkit.checklist.item_audits import audits
from alignkit.checklist.item_filters import content_filters
from alignkit.checklist.item_incidents import incident_response
from alignkit.checklist.item_red_team import red_team
from alignkit.checklist.live import LIVE_ITEMS, live_items
from alignkit.checklist.model import Evidence, ItemResult

LiveProbes = Callable[[DeployConfig, str], list[ItemResult]]
"""What probes a running gateway: ``(config, url) -> one result per live item`` (:func:`live_items`)."""

NO_GATEWAY = "no gateway to probe: give --gateway URL or gateway.url"


def run_checklist(
    config: DeployConfig,
    *,
    gateway_url: str | None = None,
    probes: LiveProbes = live_items,
    probe_webhooks: bool = True,
    now: float | None = None,
) -> list[ItemResult]:
    """Every item for ``config``, in the guide's order. ``gateway_url`` wins over ``gateway.url``;
    ``probes``: the live probes (tests pass their own); ``probe_webhooks``: send each incident webhook
    a test event; ``now``: the clock for the age checks."""
    file_items: dict[str, Callable[[], ItemResult]] = {
        "red_team": lambda: red_team(config, now=now),
        "content_filters": lambda: content_filters(config),
        "incident_response": lambda: incident_response(config, probe_webhooks=probe_webhooks),
        "audits": lambda: audits(config, now=now),
    }
    results = {item: guarded(item, check) for item, check in file_items.items()}
    results.update({r.id: r for r in live(config, gateway_url or config.gateway.url, probes)})
    return [results[item] for item in ORDER]


def live(config: DeployConfig, url: str | None, probes: LiveProbes) -> list[ItemResult]:
    """The live items: probed when there is a gateway, failed (with the reason) when there is not or
    when the probes could not run at all."""
    if not url:
        return [
            unknown(item, NO_GATEWAY, "Start the gateway (`alignkit serve`) and pass its URL.") for item in LIVE_ITEMS
        ]
    started = time.monotonic()
    try:
        results = probes(config, url.rstrip("/"))
    except Exception as e:  # a config the probes cannot use, ...: every live item is unknown, so fails
        reason = f"the live probes could not run: {type(e).__name__}: {e}"
        return [unknown(item, reason, "Fix what the message names and rerun.") for item in LIVE_ITEMS]
    missing = [item for item in LIVE_ITEMS if item not in {r.id for r in results}]
    seconds = round(time.monotonic() - started, 3)
    return results + [unknown(item, f"the probes gave no result ({seconds} s)", "Report this.") for item in missing]


def guarded(item: str, check: Callable[[], ItemResult]) -> ItemResult:
    """Run one item; one that breaks fails with what broke (fail closed) and the others still run."""
    try:
        return check()
    except Exception as e:
        return unknown(item, f"the check broke: {type(e).__name__}: {e}", "Report this with the message.")


def unknown(item: str, reason: str, fix: str) -> ItemResult:
    """An item that could not look: it fails, and says why."""
    return ItemResult(item, TITLES[item], "fail", reason, [Evidence(item, reason)], fix)
