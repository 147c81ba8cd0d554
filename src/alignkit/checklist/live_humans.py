"""The human side of a running gateway: user feedback reaches the store, and escalations reach reviewers.

- feedback: a probe chat, then ``POST /v1/feedback`` on its response id (a comment only, so exports never
  make a training pair of it); the returned feedback id must be in the store's ``feedback`` table, for
  that response.
- escalation: ``GET /v1/reviews`` answers the reviewer probe key; the store holds at least one live key
  with the reviewer (or admin) scope; some route's guard sends cases to review (``on_fail: escalate``),
  else escalations only come from people reading transcripts and the item warns; ``review.sla_s`` is set
  (warns when the default applies).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from alignkit.checklist.live_probe import Probe, ProbeError, error_text, item, show
from alignkit.checklist.model import Evidence, ItemResult
from alignkit.core.errors import ConfigError
from alignkit.gateway.config import GatewayConfig
from alignkit.gateway.keys import KeyStore
from alignkit.guard.spec import DEFAULT_SPEC, GuardSpec, parse_spec, read_spec
from alignkit.guard.spec_rail import parse_rail
from alignkit.guard.spec_yaml import parse_yaml

FEEDBACK_COMMENT = "alignkit checklist probe: checks that feedback reaches the store; ignore"
MAX_NAMES = 10  # reviewer key names shown in the evidence


def check_feedback(probe: Probe) -> ItemResult:
    """See the module docstring."""
    probe.need_key("user")
    chat = probe.chat("Reply with OK.")
    url = f"{probe.url}/v1/chat/completions"
    evidence = [Evidence("probe chat", f"{show(chat, 'x-request-id')}", url)]
    response_id = _field(chat, "id") if chat.status_code == 200 else None
    if response_id is None:
        raise ProbeError(f"the probe chat answered {chat.status_code}: {error_text(chat)}", None, evidence)
    r = probe.request("POST", "/v1/feedback", "user", json={"response_id": response_id, "comment": FEEDBACK_COMMENT})
    evidence.append(Evidence(f"POST /v1/feedback for {response_id}", show(r), f"{probe.url}/v1/feedback"))
    feedback_id = _field(r, "id") if r.status_code == 200 else None
    if feedback_id is None:
        return item(
            "feedback",
            "fail",
            f"POST /v1/feedback answered {r.status_code}: {error_text(r)}",
            evidence,
            "keep the feedback endpoint reachable for user keys, and store_text: true (feedback needs the exchange)",
        )
    try:
        row = probe.store().read_one("SELECT response_id, comment FROM feedback WHERE id = ?", (feedback_id,))
    except ProbeError as e:
        raise ProbeError(e.message, e.fix, evidence) from None
    found = "absent" if row is None else f"present, for response {row[0]}"
    evidence.append(Evidence(f"feedback {feedback_id} in the store", found, probe.store_name))
    details = {"response_id": response_id, "feedback_id": feedback_id}
    if row is None or row[0] != response_id:
        return item(
            "feedback",
            "fail",
            f"the gateway acknowledged feedback {feedback_id}, but its store's row is {found}",
            evidence,
            "point gateway.config at the config of the gateway the checklist probes (the same database)",
            details,
        )
    return item(
        "feedback", "pass", f"feedback {feedback_id} on {response_id} reached the store", evidence, details=details
    )


def check_escalation(probe: Probe) -> ItemResult:
    """See the module docstring."""
    gw = probe.need_gateway()
    probe.need_key("reviewer")
    fails: list[str] = []
    warns: list[str] = []
    r = probe.request("GET", "/v1/reviews", "reviewer", params={"limit": 1})
    pending = _field(r, "pending") if r.status_code == 200 else None
    evidence = [Evidence("GET /v1/reviews with the reviewer probe key", show(r) + _queue(r), f"{probe.url}/v1/reviews")]
    if pending is None:
        fails.append(f"the review queue answered {r.status_code}: {error_text(r)}")
    if gw.auth == "none":
        warns.append("auth: none: anyone on this machine may review, and nobody is named as a reviewer")
    else:
        reviewers = [k for k in KeyStore(probe.store()).list() if k.allows("reviewer")]
        names = ", ".join(k.name for k in reviewers[:MAX_NAMES]) + (" ..." if len(reviewers) > MAX_NAMES else "")
        where = f"api_keys in {probe.store_name}"
        evidence.append(
            Evidence("live keys with the reviewer or admin scope", f"{len(reviewers)}: {names or '-'}", where)
        )
        if not reviewers:
            fails.append("no live key has the reviewer or admin scope: escalated cases have nobody to decide them")
    escalating = _escalating_guards(gw, evidence, fails)
    if not escalating:
        warns.append("no route's guard escalates (on_fail: escalate): cases reach review only by hand")
    sla_set = "review" in gw.model_fields_set and "sla_s" in gw.review.model_fields_set
    sla = f"{gw.review.sla_s:g} s" + ("" if sla_set else " (the default)")
    evidence.append(Evidence("review.sla_s", sla, str(probe.config.gateway.config)))
    if not sla_set:
        warns.append(f"review.sla_s is not set: the default {gw.review.sla_s:g} s applies")
    details = {"pending": pending, "escalating_routes": escalating, "sla_s": gw.review.sla_s}
    if fails:
        return item("escalation", "fail", "; ".join(fails), evidence, _FIX, details)
    if warns:
        return item("escalation", "warn", "; ".join(warns), evidence, _FIX, details)
    return item(
        "escalation",
        "pass",
        f"the review queue answers ({pending} pending), reviewers have keys, the guards of {', '.join(escalating)} "
        "escalate, "
        f"SLA {gw.review.sla_s:g} s",
        evidence,
        details=details,
    )


_FIX = (
    "create reviewer keys (alignkit keys create NAME --scope reviewer --config gateway.yaml), give a route a "
    "guard spec with on_fail: escalate for the validators people should see, and set review.sla_s"
)


def _field(r: httpx.Response, name: str) -> Any:
    try:
        body = r.json()
    except ValueError:
        return None
    return body.get(name) if isinstance(body, dict) else None


def _queue(r: httpx.Response) -> str:
    pending, overdue = _field(r, "pending"), _field(r, "overdue")
    return "" if pending is None else f": {pending} pending, {overdue} overdue"


def guard_spec(guard: str) -> GuardSpec:
    """A route's guard spec (``default`` or a .yaml/.rail file), parsed without building its detectors."""
    if guard == "default":
        return parse_spec(DEFAULT_SPEC)
    suffix = Path(guard).suffix.lower()
    if suffix in (".rail", ".xml"):
        return parse_rail(*read_spec(guard, "RAIL", False))[0]
    return parse_yaml(*read_spec(guard, "YAML", False))[0]


def _escalating_guards(gw: GatewayConfig, evidence: list[Evidence], fails: list[str]) -> list[str]:
    """The routes whose guard has a validator with ``on_fail: escalate``."""
    out, seen = [], []
    for route in gw.models:
        if route.guard in (None, "none"):
            seen.append(f"{route.name}: no guard")
            continue
        try:
            spec = guard_spec(str(route.guard))
        except ConfigError as e:
            fails.append(f"route {route.name}: cannot read its guard: {e}")
            continue
        rails = [
            f"{v.validator} ({rail})"
            for rail, vs in (("input", spec.input), ("output", spec.output))
            for v in vs
            if v.on_fail == "escalate"
        ]
        seen.append(f"{route.name}: {', '.join(rails) or 'nothing escalates'}")
        if rails:
            out.append(route.name)
    evidence.append(Evidence("guards that escalate to review", "; ".join(seen), "models[].guard in the gateway config"))
    return out
