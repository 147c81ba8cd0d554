"""Real evidence for the checklist's file items, built in a test's folder: scan reports made by
`alignkit redteam scan` on mock models, gateway configs, runbooks, audit reports and deploy.yaml."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from alignkit.checklist.audit_report import iso, stamp
from alignkit.checklist.config import DeployConfig
from alignkit.cli.main import cli

RUNBOOK = "# Incident runbook\n\nOwner: Jane Doe (ML platform)\nContacts: #ml-oncall, oncall@example.com\n"


def scan(folder: Path, model: str = "mock/echo", run_id: str = "r1", *extra: str) -> tuple[Path, Path]:
    """A real scan of ``model`` on the builtin cyber probes (8 harmful, 9 benign look-alikes): its JSON
    report and run store."""
    report, store = folder / f"{run_id}.json", folder / "runs.db"
    args = ["redteam", "scan", model, "--categories", "cyber", "--store", str(store), "--run-id", run_id]
    out = CliRunner().invoke(cli, [*args, "--json", str(report), *extra], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    return report, store


def gateway_yaml(folder: Path, name: str = "gateway.yaml", **overrides: Any) -> Path:
    """A gateway config serving mock/echo behind the default guard, with incident settings."""
    config: dict[str, Any] = {
        "database": str(folder / "gw.sqlite"),
        "models": [{"name": "echo", "model": "mock/echo", "guard": "default"}],
        "incidents": {"runbook": "RUNBOOK.md", "owner": "jane", "webhook_retries": 0, "webhook_timeout_s": 5},
    }
    for key, value in overrides.items():
        config[key] = {**config[key], **value} if isinstance(value, dict) and key in config else value
    path = folder / name
    path.write_text(yaml.safe_dump(config))
    return path


def audit_report(
    folder: Path, days_ago: float, verdict: str = "clean", findings: tuple[str, ...] = (), now: float | None = None
) -> Path:
    """An audit report named and shaped as `alignkit audit run` writes it, finished ``days_ago``."""
    finished = (time.time() if now is None else now) - days_ago * 86400
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"audit-{stamp(finished - 60)}.json"
    doc = {"kind": "alignkit-audit", "finished": iso(finished), "verdict": verdict, "findings": list(findings)}
    path.write_text(json.dumps(doc))
    return path


def deploy(folder: Path, **sections: Any) -> DeployConfig:
    """``deploy.yaml`` with ``sections`` written to ``folder`` and read back as the CLI reads it."""
    data = {"model": "mock/echo", **sections}
    path = folder / "deploy.yaml"
    path.write_text(yaml.safe_dump(data))
    return DeployConfig.from_file(path)


def edit_report(path: Path, change: Any) -> None:
    """Edit a report's JSON in place, as someone tampering with it would (``change(doc)``)."""
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc, indent=2))
