"""Checklist item "Incident response plan ready": a runbook with an owner and contacts, incident
triggers, and webhooks that answer.

* The runbook is ``incident_response.runbook`` in the deploy config (else the gateway's
  ``incidents.runbook`` when that is a path): the file must exist and name an owner and at least one
  contact (formats: :mod:`alignkit.checklist.runbook`). A runbook only reachable by URL fails: the
  checklist reads files.
* The gateway config's ``incidents`` section: its triggers and thresholds are listed; the item warns
  when the jailbreak-spike trigger counts validators that no served guard runs (it would never fire),
  when incidents carry no runbook link, and when new incidents have no owner.
* At least one webhook must be configured. With ``probe_webhooks`` (the default) each is sent a
  signed test event, ``incident.test``, exactly as the gateway sends incidents
  (:class:`alignkit.gateway.incident_webhooks.Webhooks`: same body shape, headers, signature, timeout
  and retries), and must answer 2xx. Without the probe the item warns that nobody checked.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from alignkit.checklist.checks import Check, conclude, failed, gateway_config, passed, warned
from alignkit.checklist.config import DeployConfig
from alignkit.checklist.live_humans import guard_spec
from alignkit.checklist.model import ItemResult
from alignkit.checklist.runbook import parse_runbook
from alignkit.core.errors import ConfigError
from alignkit.gateway.config import GatewayConfig, IncidentConfig
from alignkit.gateway.incident_store import Incident
from alignkit.gateway.incident_webhooks import Webhooks, Worker, target, webhook_secret
from alignkit.gateway.schema import new_id

ITEM = "incident_response"
MAX_RUNBOOK_BYTES = 5_000_000
TEST_MESSAGE = "a test event from `alignkit checklist`: no incident, no action needed"
RUNBOOK_FIX = (
    "Write a runbook (what to do per trigger) with `Owner: NAME` and `Contacts: ...` lines, and set "
    "incident_response.runbook to it."
)


def incident_response(
    config: DeployConfig, *, probe_webhooks: bool = True, transport: httpx.AsyncBaseTransport | None = None
) -> ItemResult:
    """The incident-response item; ``probe_webhooks``: send each webhook a test event; ``transport``:
    httpx's seam (tests)."""
    gw, read = gateway_config(config)
    checks = [read, *runbook_checks(config, gw)]
    if gw is not None:
        inc = gw.incidents
        checks += [trigger_check(gw), *link_checks(inc)]
        if not inc.webhooks:
            fix = "Add incidents.webhooks (a chat or paging URL) to the gateway config."
            checks.append(failed("webhooks", "none configured: nobody is told when an incident opens", fix=fix))
        elif probe_webhooks:
            checks += send_test_event(inc, transport)
        else:
            shown = ", ".join(target(u) for u in inc.webhooks)
            checks.append(warned("webhooks", f"{shown} configured, not sent a test event (probe skipped)"))
    return conclude(ITEM, checks, "runbook with owner and contacts, triggers on, webhooks answer a test event")


def runbook_path(config: DeployConfig, gw: GatewayConfig | None) -> tuple[Path | None, str]:
    """The runbook file and where it was named (``incident_response.runbook`` or the gateway's)."""
    if config.incident_response.runbook:
        return config.path(config.incident_response.runbook), "incident_response.runbook"
    linked = gw.incidents.runbook if gw is not None else None
    if linked and not urllib.parse.urlsplit(linked).scheme:
        base = config.path(config.gateway.config)
        p = Path(linked).expanduser()
        return (p if p.is_absolute() or base is None else base.parent / p), "the gateway's incidents.runbook"
    return None, "incident_response.runbook"


def runbook_checks(config: DeployConfig, gw: GatewayConfig | None) -> list[Check]:
    """The runbook exists and names an owner and contacts."""
    path, named_by = runbook_path(config, gw)
    if path is None:
        return [failed("runbook", f"{named_by} is not set (and no runbook file is linked)", fix=RUNBOOK_FIX)]
    try:
        data = path.read_bytes()
        if len(data) > MAX_RUNBOOK_BYTES:
            raise ValueError(f"over {MAX_RUNBOOK_BYTES:,} bytes")
        book = parse_runbook(data.decode("utf-8"))
    except (OSError, ValueError) as e:
        reason = getattr(e, "strerror", None) or e
        return [failed("runbook", f"cannot read it ({reason})", str(path), f"Fix {named_by}. {RUNBOOK_FIX}")]
    placeholders = f" (placeholders ignored: {', '.join(book.placeholders)})" if book.placeholders else ""
    checks = [passed("runbook", f"found ({named_by})", str(path))]
    if book.owners:
        checks.append(passed("owner", ", ".join(book.owners), str(path)))
    else:
        checks.append(failed("owner", f"the runbook names no owner{placeholders}", str(path), RUNBOOK_FIX))
    if book.contacts:
        checks.append(passed("contacts", ", ".join(book.contacts), str(path)))
    else:
        checks.append(failed("contacts", f"the runbook names no contacts{placeholders}", str(path), RUNBOOK_FIX))
    return checks


def trigger_check(gw: GatewayConfig) -> Check:
    """The triggers and their thresholds; a warning when the jailbreak spike counts what no guard runs."""
    inc = gw.incidents
    found = (
        f"jailbreak_spike {inc.jailbreak_spike} blocks in {inc.window_s:g} s "
        f"(by {', '.join(inc.jailbreak_validators)}); "
        f"upstream_outage on an open breaker or {inc.upstream_failures} failures in {inc.window_s:g} s; "
        f"escalation_backlog {inc.escalation_backlog} pending or any overdue; harmful_answer on a reviewer's finding"
    )
    running: set[str] = set()
    for route in gw.models:
        if route.guard not in (None, "none"):
            try:
                running |= {v.validator for v in guard_spec(str(route.guard)).input}
            except ConfigError:
                continue  # the content-filters item reports an unreadable guard
    if not running & set(inc.jailbreak_validators):
        fix = "List in incidents.jailbreak_validators validators your guards run on input (e.g. jailbreak)."
        return warned("triggers", f"{found}; no served guard runs those validators, so no spike can open", fix=fix)
    return passed("triggers", found)


def link_checks(inc: IncidentConfig) -> list[Check]:
    """Whether incidents link the runbook and start with an owner."""
    checks = []
    if not inc.runbook:
        fix = "Set incidents.runbook in the gateway config, so every incident links the plan."
        checks.append(warned("incident links", "incidents carry no runbook link", fix=fix))
    if not inc.owner:
        fix = "Set incidents.owner in the gateway config (who holds an incident until someone acknowledges it)."
        checks.append(warned("incident owner", "new incidents have no owner until acknowledged", fix=fix))
    return checks


def test_event(inc: IncidentConfig) -> Incident:
    """The incident the test event describes: a resolved sev4 that names itself a test."""
    now = time.time()
    return Incident(
        new_id("inc-test-"), "manual", "alignkit-checklist-test", "sev4", "alignkit checklist test event",
        "resolved", inc.owner, inc.runbook, now, None, now,
    )  # fmt: skip


def send_test_event(inc: IncidentConfig, transport: httpx.AsyncBaseTransport | None = None) -> list[Check]:
    """Send every webhook a signed test event, as the gateway would; one check per URL."""
    try:
        secret = webhook_secret(inc)
    except ConfigError as e:
        return [failed("webhooks", str(e), fix="Export the signing secret, as the gateway's environment does.")]
    results: list[Mapping[str, Any]] = []
    worker = Worker("alignkit-checklist-webhooks")
    hooks = Webhooks(
        inc.webhooks, worker, lambda _id, result: results.append(result), secret=secret,
        timeout_s=inc.webhook_timeout_s, retries=inc.webhook_retries, transport=transport,
    )  # fmt: skip
    try:
        hooks.notify("test", test_event(inc), TEST_MESSAGE)
        worker.wait_idle((inc.webhook_retries + 1) * (inc.webhook_timeout_s + 8.0) + 5.0)
    finally:
        worker.close(0.0)
    checks = []
    for r in results:
        where = str(r.get("target"))
        tries = f"after {r.get('attempts')} attempt(s), {r.get('ms')} ms"
        if r.get("ok"):
            checks.append(passed("webhook", f"{where} answered the test event with HTTP {r.get('status')} ({tries})"))
        else:
            fix = "Check the webhook URL and the receiver (the gateway sends incidents the same way)."
            checks.append(
                failed("webhook", f"{where} did not accept the test event: {r.get('error')} ({tries})", fix=fix)
            )
    for _ in range(len(inc.webhooks) - len(results)):
        checks.append(failed("webhook", "a delivery did not finish in time", fix="Check the webhook receivers."))
    return checks
