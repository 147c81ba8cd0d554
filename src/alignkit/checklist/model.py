"""What a checklist item concludes: pass, warn or fail, with the evidence it looked at and how to fix it.

Fail closed: an item that could not look (a file missing, a gateway that did not answer, a figure that
could not be measured) fails and says why; it never passes for want of evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["pass", "warn", "fail"]
STATUSES: tuple[Status, ...] = ("pass", "warn", "fail")


@dataclass
class Evidence:
    """One thing an item looked at: what it is, what was found, and where (a file, a URL, a query)."""

    what: str
    found: str
    source: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"what": self.what, "found": self.found, "source": self.source}


@dataclass
class ItemResult:
    """One checklist item's verdict."""

    id: str  # "red_team", "content_filters", "rate_limits", ...
    title: str  # the guide's wording: "Red team testing completed"
    status: Status
    summary: str  # one line: what was concluded
    evidence: list[Evidence] = field(default_factory=list)
    fix: str | None = None  # how to make it pass (None when it passes)
    details: dict[str, Any] = field(default_factory=dict)  # figures for reports (JSON-able)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "status": self.status,
            "summary": self.summary,
            "evidence": [e.to_dict() for e in self.evidence],
            "fix": self.fix,
            "details": self.details,
        }


def worst(statuses: list[Status]) -> Status:
    """The checklist's overall status: fail if any item fails, else warn if any warns, else pass."""
    if "fail" in statuses:
        return "fail"
    return "warn" if "warn" in statuses else "pass"
