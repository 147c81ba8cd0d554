"""`alignkit checklist`: exit 0 when no item fails (warnings allowed) against a real gateway and real
evidence, 1 when one fails, 2 for a config or option it cannot use; every format on stdout or in a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import yaml
from click.testing import CliRunner, Result

from alignkit.checklist.checks import ORDER
from alignkit.cli.main import cli
from tests.checklist.evidence import RUNBOOK, audit_report, scan
from tests.checklist.test_live import ENV, serving
from tests.gateway.test_incidents import Receiver


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["checklist", *args], catch_exceptions=False)


def write_deploy(folder: Path, **sections: Any) -> Path:
    path = folder / "deploy.yaml"
    path.write_text(yaml.safe_dump({"model": "mock/echo", **sections}))
    return path


@pytest.fixture
def receiver() -> Any:
    r = Receiver()
    yield r
    r.close()


def test_a_deployment_with_all_its_evidence_exits_0_even_with_warnings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    report, store = scan(tmp_path, "mock/echo", "release")
    (tmp_path / "RUNBOOK.md").write_text(RUNBOOK)
    audit_report(tmp_path / "audits", days_ago=1)
    incidents = {"webhooks": [receiver.url], "runbook": "RUNBOOK.md", "owner": "jane", "webhook_retries": 0}
    with serving(tmp_path, monkeypatch, incidents=incidents) as (url, gateway):
        config = write_deploy(
            tmp_path,
            gateway={"config": gateway.name, "keys": ENV, "timeout_s": 10},
            red_team={"report": report.name, "store": store.name},
            incident_response={"runbook": "RUNBOOK.md"},
            audits={"schedule": "0 3 * * *", "reports": "audits", "period_days": 7},
        )
        out = run("--config", str(config), "--gateway", url, "--format", "json")
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    statuses = {i["id"]: i["status"] for i in doc["items"]}
    assert list(statuses) == list(ORDER)
    # the test gateway's guard escalates secrets and runs no jailbreak validator: the spike trigger warns
    assert statuses == {**dict.fromkeys(ORDER, "pass"), "incident_response": "warn"}, {
        i["id"]: i["summary"] for i in doc["items"] if i["status"] != "pass"
    }
    assert doc["status"] == "warn" and receiver.requests  # the webhook got its test event
    assert "checklist WARN: 7 pass, 1 warn, 0 fail" in out.stderr


def test_failing_items_exit_1_in_every_format(tmp_path: Path) -> None:
    report, store = scan(tmp_path, "mock/comply", "r")  # attack-prone: the red-team item fails
    config = write_deploy(tmp_path, model="mock/comply", red_team={"report": report.name, "store": store.name})
    junit = tmp_path / "out" / "checklist.xml"
    out = run("--config", str(config), "--format", "junit", "--out", str(junit), "--skip-webhook-test")
    assert out.exit_code == 1, out.output
    root = ET.parse(junit).getroot()
    assert root.get("failures") == "8" and root.get("tests") == "8"  # no gateway, nothing else configured
    assert f"wrote {junit}" in out.stderr and "Red team testing completed" in out.stdout
    html_out = run("--config", str(config), "--format", "html")
    assert html_out.exit_code == 1 and html_out.stdout.startswith("<!doctype html>")
    text = run("--config", str(config))
    assert text.exit_code == 1 and "no gateway to probe: give --gateway URL or gateway.url" in text.stdout
    md = run("--config", str(config), "--format", "md")
    assert md.exit_code == 1 and md.stdout.startswith("# Deployment checklist: checklist FAIL")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--config", "{missing}"], "cannot read the deploy config"),
        (["--config", "{bad}"], "red_team.max_age_days"),
        (["--config", "{good}", "--gateway", "localhost:8000"], "--gateway 'localhost:8000' is not an http(s) URL"),
        (["--config", "{good}", "--out", "{good}"], "--out"),
        (["--config", "{good}", "--format", "pdf"], "'pdf' is not one of"),
        ([], "Missing option '--config'"),
    ],
)
def test_configs_and_options_it_cannot_use_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    good = write_deploy(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"model": "m", "red_team": {"max_age_days": -1}}))
    paths = {"missing": str(tmp_path / "nope.yaml"), "bad": str(bad), "good": str(good)}
    out = run(*(a.format(**paths) for a in args))
    assert out.exit_code == 2 and message in out.output, out.output
    assert good.read_text().startswith("model:")  # --out never wrote over the config
