"""What the file-based items share: the guide's titles, one looked-at thing (:class:`Check`), and how an
item's checks become its verdict (:func:`conclude`).

An item is a list of checks, each pass, warn or fail with the evidence it rests on and, unless it
passes, how to fix it. The item is the worst of its checks, and an item with no checks fails: nothing
was looked at, so nothing is known (fail closed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alignkit.checklist.config import DeployConfig
from alignkit.checklist.live_probe import TITLES as LIVE_TITLES
from alignkit.checklist.model import Evidence, ItemResult, Status, worst
from alignkit.core.errors import ConfigError
from alignkit.gateway.config import GatewayConfig

ORDER = (
    "red_team",
    "content_filters",
    "rate_limits",
    "logging_monitoring",
    "escalation",
    "incident_response",
    "feedback",
    "audits",
)
"""Every item of the guide's checklist, in its order."""
TITLES: dict[str, str] = {
    "red_team": "Red team testing completed",
    "content_filters": "Content filters in place",
    "incident_response": "Incident response plan ready",
    "audits": "Regular safety audits scheduled",
    **LIVE_TITLES,
}
"""Each item's title, in the guide's wording (the live items' from :mod:`alignkit.checklist.live_probe`)."""


@dataclass(frozen=True)
class Check:
    """One thing an item looked at, and what it concluded from it."""

    status: Status
    what: str
    found: str
    source: str = ""
    fix: str | None = None

    def evidence(self) -> Evidence:
        """As evidence; a check that did not pass says so first, so a reader sees which one it was."""
        found = self.found if self.status == "pass" else f"{self.status.upper()}: {self.found}"
        return Evidence(self.what, found, self.source)


def passed(what: str, found: str, source: str = "") -> Check:
    return Check("pass", what, found, source)


def warned(what: str, found: str, source: str = "", fix: str | None = None) -> Check:
    return Check("warn", what, found, source, fix)


def failed(what: str, found: str, source: str = "", fix: str | None = None) -> Check:
    return Check("fail", what, found, source, fix)


def conclude(
    item: str, checks: list[Check], summary_if_passed: str, details: dict[str, Any] | None = None
) -> ItemResult:
    """The item's verdict: the worst of its checks (fail when there are none), a summary naming the
    checks that did not pass (or ``summary_if_passed``), every check as evidence, and their fixes."""
    if not checks:
        checks = [failed(item, "nothing was checked", fix="report this: an item must look at something")]
    status = worst([c.status for c in checks])
    bad = [c for c in checks if c.status == status] if status != "pass" else []
    summary = "; ".join(f"{c.what}: {c.found}" for c in bad) if bad else summary_if_passed
    fixes = list(dict.fromkeys(c.fix for c in checks if c.status != "pass" and c.fix))
    return ItemResult(
        id=item,
        title=TITLES[item],
        status=status,
        summary=summary,
        evidence=[c.evidence() for c in checks],
        fix=" ".join(fixes) if fixes else None,
        details={"checks": [{"status": c.status, "what": c.what} for c in checks], **(details or {})},
    )


def age_text(seconds: float) -> str:
    """``3.2 days``, ``5.0 hours`` or ``12 minutes``."""
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{max(0.0, seconds) / 60:.0f} minutes"


def percent(rate: float | None) -> str:
    """``4.2%``, or ``n/a`` for a rate that was not measured."""
    return "n/a" if rate is None else f"{100 * rate:.1f}%"


def gateway_config(config: DeployConfig) -> tuple[GatewayConfig | None, Check]:
    """The gateway's own config (``gateway.config``) and a check saying it was read, or None and a
    failed check saying why."""
    path = config.path(config.gateway.config)
    if path is None:
        fix = "Set gateway.config in the deploy config to the gateway's YAML (what `alignkit serve --config` reads)."
        return None, failed("gateway config", "gateway.config is not set in the deploy config", fix=fix)
    try:
        gw = GatewayConfig.from_file(path)
    except ConfigError as e:
        return None, failed("gateway config", str(e), str(path), "Fix the gateway config the message names.")
    return gw, passed("gateway config", f"{len(gw.models)} model(s) served", str(path))
