"""Checklist item "Content filters in place": every model the gateway serves has a guard that checks
both what goes in and what comes out, with known validators that act, and each validator's measured
quality beside it.

Read from the gateway's config (``gateway.config``): each route's ``guard`` (``default``, a .yaml or
.rail spec, or none) is parsed the way the gateway parses it, without building its detectors. The item
fails when:

* the gateway config cannot be read;
* a route has no guard, or its guard has no validator on the input rail or none on the output rail;
* a guard spec cannot be read or names a validator no detector is registered under;
* a validator is not enabled: ``on_fail: noop`` records the verdict and lets everything through.

Beside each validator: the quality figures recorded in its detector's shipped manifest
(:mod:`alignkit.checklist.quality`), or "not measured".
"""

from __future__ import annotations

from typing import Any

from alignkit.checklist.checks import Check, conclude, failed, gateway_config, passed
from alignkit.checklist.config import DeployConfig
from alignkit.checklist.live_humans import guard_spec
from alignkit.checklist.model import ItemResult
from alignkit.checklist.quality import quality
from alignkit.core.errors import ConfigError
from alignkit.detectors import detectors
from alignkit.gateway.config import RouteConfig
from alignkit.guard.spec import ValidatorSpec

ITEM = "content_filters"
RAILS = ("input", "output")


def content_filters(config: DeployConfig) -> ItemResult:
    """The content-filters item for ``config``."""
    gw, read = gateway_config(config)
    if gw is None:
        return conclude(ITEM, [read], "")
    checks, routes = [read], {}
    for i, route in enumerate(gw.models):
        route_checks, validators = check_route(route, f"{config.gateway.config} models[{i}]")
        checks += route_checks
        routes[route.name] = validators
    guarded = sum(1 for v in routes.values() if v.get("input") and v.get("output"))
    summary = f"{guarded} of {len(routes)} model(s) guarded on input and output by known, enabled validators"
    return conclude(ITEM, checks, summary, {"routes": routes})


def check_route(route: RouteConfig, where: str) -> tuple[list[Check], dict[str, list[dict[str, Any]]]]:
    """A route's checks and its validators (with their figures) by rail; no validators when unguarded."""
    name = f"model {route.name}"
    if route.guard in (None, "none"):
        fix = f"Put a guard in front of {route.name}: `guard: default` (or a spec file) at {where}."
        return [failed(name, f"no guard: {route.model} is served unfiltered", fix=fix)], {}
    try:
        spec = guard_spec(str(route.guard))
    except ConfigError as e:  # an unreadable spec, or a validator no detector is registered under
        return [failed(name, f"its guard {route.guard} cannot be used: {e}", fix="Fix the guard spec.")], {}
    checks = [passed(name, f"guard {route.guard} ({spec.name})")]
    validators: dict[str, list[dict[str, Any]]] = {}
    for rail in RAILS:
        items: list[ValidatorSpec] = getattr(spec, rail)
        if not items:
            fix = f"Add {rail} validators to {route.guard} (the default guard has both rails)."
            checks.append(failed(f"{route.name} {rail}", f"nothing checks the {rail}", fix=fix))
        validators[rail] = []
        for v in items:
            check, figures = check_validator(route.name, rail, v)
            checks.append(check)
            validators[rail].append(figures)
    return checks, validators


def check_validator(route: str, rail: str, v: ValidatorSpec) -> tuple[Check, dict[str, Any]]:
    """One validator: registered, enabled, and its measured figures."""
    what = f"{route} {rail}: {v.validator}"
    threshold = "default" if v.threshold is None else v.threshold
    row: dict[str, Any] = {"validator": v.validator, "on_fail": v.on_fail, "threshold": threshold}
    if v.validator not in detectors:
        return failed(what, "no detector is registered under this name", fix="Use a registered validator."), row
    text, figures = quality(v.validator, v.threshold)
    row.update(quality=text, figures=figures)
    found = f"on_fail {v.on_fail}, threshold {threshold}; {text}"
    if v.on_fail == "noop":
        fix = f"Give {v.validator} an action that acts (refrain, fix, escalate, ...), or remove it."
        return failed(what, f"not enabled: on_fail noop lets everything through ({found})", fix=fix), row
    return passed(what, found), row
