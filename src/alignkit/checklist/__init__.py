"""Layer 4: certify. A deployment checklist that checks evidence, not promises (issue 14).

Each item of the guide's checklist (red team testing completed, content filters in place, rate limiting
enabled, logging and monitoring active, human escalation path defined, incident response plan ready, user
feedback mechanism, regular safety audits scheduled) is verified from files (scan reports, guard specs, the
gateway's config, a runbook, audit reports) and from live probes of a running gateway, and concludes pass,
warn or fail with its evidence and how to fix it. ``alignkit checklist`` gates a release on it.

    from alignkit.checklist import DeployConfig, run_checklist

    results = run_checklist(DeployConfig.from_file("deploy.yaml"), gateway_url="http://127.0.0.1:8000")
"""

from alignkit.checklist.config import DeployConfig
from alignkit.checklist.model import STATUSES, Evidence, ItemResult, Status, worst
from alignkit.checklist.run import run_checklist

__all__ = ["STATUSES", "DeployConfig", "Evidence", "ItemResult", "Status", "run_checklist", "worst"]
