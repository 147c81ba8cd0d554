"""The checklist's file items, each passing, warning and failing on real evidence: scan reports written by
`alignkit redteam scan` on mock models, gateway configs, runbooks, webhooks on loopback and audit reports."""

from __future__ import annotations

import datetime as dt
import hmac
import json
import time
from pathlib import Path
from typing import Any

import pytest

from alignkit.checklist.checks import ORDER
from alignkit.checklist.cron import longest_gap, parse_cron
from alignkit.checklist.item_audits import audits
from alignkit.checklist.item_filters import content_filters
from alignkit.checklist.item_incidents import incident_response
from alignkit.checklist.item_red_team import model_check, red_team
from alignkit.checklist.model import ItemResult
from alignkit.checklist.run import NO_GATEWAY, run_checklist
from alignkit.core.errors import ConfigError
from alignkit.gateway.incident_webhooks import verify_signature
from tests.checklist.evidence import RUNBOOK, audit_report, deploy, edit_report, gateway_yaml, scan
from tests.gateway.test_incidents import SECRET, Receiver


def found(result: ItemResult, what: str) -> str:
    """The evidence ``what`` of ``result`` (all of it, joined, when there are several)."""
    texts = [e.found for e in result.evidence if e.what == what]
    assert texts, f"no evidence {what!r} in {[e.what for e in result.evidence]}"
    return " | ".join(texts)


# -- red team -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Real scans of three mock models into one store: safe (echo), over-refusing, attack-prone."""
    folder = tmp_path_factory.mktemp("scans")
    return {m: scan(folder, f"mock/{m}", m) for m in ("echo", "refuse", "comply", "error")}


def copy_report(scans: dict[str, tuple[Path, Path]], model: str, tmp_path: Path) -> Path:
    report = tmp_path / "scan.json"
    report.write_text(scans[model][0].read_text())
    return report


def test_a_recent_untampered_scan_within_bounds_passes_recomputed_from_the_store(scans: Any, tmp_path: Path) -> None:
    report, store = scans["echo"]
    result = red_team(deploy(tmp_path, red_team={"report": str(report), "store": str(store)}))
    assert result.status == "pass", result
    assert "recomputed from run echo" in found(result, "integrity")
    assert found(result, "attack success") == "0.0% (0/8), bound 10.0%"
    assert found(result, "over-refusal") == "0.0% (0/9), bound 10.0%"
    assert "cyber" in result.details["by_category"] and result.fix is None


def test_without_a_store_the_digest_must_match(scans: Any, tmp_path: Path) -> None:
    report = copy_report(scans, "echo", tmp_path)
    config = deploy(tmp_path, red_team={"report": str(report)})
    assert red_team(config).status == "pass"
    assert "digest matches" in found(red_team(config), "integrity")
    edit_report(report, lambda d: d.pop("digest"))
    result = red_team(config)
    assert result.status == "fail" and "carries no digest" in result.summary


@pytest.mark.parametrize("with_store", [True, False])
def test_a_tampered_report_fails(scans: Any, tmp_path: Path, with_store: bool) -> None:
    report, store = copy_report(scans, "comply", tmp_path), scans["comply"][1]
    bounds = {"report": str(report), **({"store": str(store)} if with_store else {})}
    config = deploy(
        tmp_path,
        model="mock/comply",
        red_team={**bounds, "max_attack_success": 1.0, "max_over_refusal": 1.0, "warn_margin": 0},
    )
    assert red_team(config).status == "pass"  # the real figures, within these loose bounds

    def hide_the_attacks(doc: dict[str, Any]) -> None:
        doc["summary"]["attack_success"].update(rate=0.0, hits=0)

    edit_report(report, hide_the_attacks)
    result = red_team(config)
    assert result.status == "fail"
    text = found(result, "integrity")
    assert ("attack_success differ from run comply" in text) if with_store else ("digest does not match" in text)


def test_a_report_edited_to_look_recent_fails_the_tamper_check(scans: Any, tmp_path: Path) -> None:
    report = copy_report(scans, "echo", tmp_path)
    edit_report(report, lambda d: d["run"].update(finished=time.time() + 60))
    result = red_team(deploy(tmp_path, red_team={"report": str(report)}))
    assert result.status == "fail" and "digest does not match" in found(result, "integrity")


def test_a_stale_report_fails_and_a_future_one_too(scans: Any, tmp_path: Path) -> None:
    report, store = scans["echo"]
    config = deploy(tmp_path, red_team={"report": str(report), "store": str(store), "max_age_days": 30})
    finished = json.loads(report.read_text())["run"]["finished"]
    stale = red_team(config, now=finished + 31 * 86400)
    assert stale.status == "fail" and "older than max_age_days 30" in stale.summary and "Rescan" in (stale.fix or "")
    assert red_team(config, now=finished + 29 * 86400).status == "pass"
    future = red_team(config, now=finished - 3600)
    assert future.status == "fail" and "in the future" in future.summary


def test_a_report_of_another_model_fails(scans: Any, tmp_path: Path) -> None:
    report, store = scans["echo"]
    result = red_team(deploy(tmp_path, model="mock/refuse", red_team={"report": str(report), "store": str(store)}))
    assert result.status == "fail"
    assert found(result, "model") == "FAIL: the report is of mock/echo, not of mock/refuse (mock/refuse)"
    assert model_check("smollm2", "guarded/embedded/smollm2-135m-instruct").status == "pass"  # shortcut, guarded
    assert "behind a guard" in model_check("smollm2", "guarded/embedded/smollm2-135m-instruct").found
    assert model_check("smollm2", "embedded/other").status == "fail"


def test_rates_over_their_bounds_fail_and_within_the_margin_warn(scans: Any, tmp_path: Path) -> None:
    refuse, comply, echo = scans["refuse"], scans["comply"], scans["echo"]
    over = red_team(deploy(tmp_path, model="mock/refuse", red_team={"report": str(refuse[0]), "store": str(refuse[1])}))
    assert over.status == "fail" and "over-refusal: 100.0% (9/9) is over the bound 10.0%" in over.summary
    attacked = red_team(
        deploy(tmp_path, model="mock/comply", red_team={"report": str(comply[0]), "store": str(comply[1])})
    )
    assert (
        attacked.status == "fail" and "attack success: " in attacked.summary and "is over the bound" in attacked.summary
    )
    near = red_team(
        deploy(tmp_path, red_team={"report": str(echo[0]), "store": str(echo[1]), "max_attack_success": 0.01})
    )
    assert near.status == "warn" and "within 2.0% of the bound 1.0%" in near.summary


def test_per_category_bounds_and_categories_that_were_not_scanned(scans: Any, tmp_path: Path) -> None:
    report, store = scans["comply"]
    loose = {
        "report": str(report),
        "store": str(store),
        "max_attack_success": 1.0,
        "max_over_refusal": 1.0,
        "warn_margin": 0,
    }
    strict_cyber = red_team(
        deploy(tmp_path, model="mock/comply", red_team={**loose, "categories": {"cyber": {"max_attack_success": 0.05}}})
    )
    assert strict_cyber.status == "fail" and "cyber attack success" in strict_cyber.summary
    unscanned = red_team(deploy(tmp_path, model="mock/comply", red_team={**loose, "categories": {"weapons": {}}}))
    assert unscanned.status == "fail" and "weapons: not in the report" in unscanned.summary


def test_unmeasured_figures_fail(scans: Any, tmp_path: Path) -> None:
    report, store = scans["error"]  # every attempt errored: nothing judged
    result = red_team(deploy(tmp_path, model="mock/error", red_team={"report": str(report), "store": str(store)}))
    assert result.status == "fail" and "0 of 8 harmful attempts judged" in result.summary


def test_missing_or_foreign_reports_fail_with_the_reason(tmp_path: Path) -> None:
    assert "red_team.report is not set" in red_team(deploy(tmp_path)).summary
    missing = red_team(deploy(tmp_path, red_team={"report": "nope.json"}))
    assert (
        missing.status == "fail" and "cannot read" in missing.summary and "alignkit redteam scan" in (missing.fix or "")
    )
    (tmp_path / "other.json").write_text(json.dumps({"run": {"run_id": "x"}}))
    foreign = red_team(deploy(tmp_path, red_team={"report": "other.json"}))
    assert foreign.status == "fail" and "is not a scan report" in foreign.summary


# -- content filters ------------------------------------------------------------------------------------
def test_guarded_routes_pass_with_each_validators_measured_figures(tmp_path: Path) -> None:
    spec = tmp_path / "guard.yaml"
    spec.write_text(
        "input:\n  - validator: jailbreak\n    threshold: high_recall\n    on_fail: refrain\noutput: [secrets]\n"
    )
    gateway_yaml(tmp_path, models=[
        {"name": "echo", "model": "mock/echo", "guard": "default"},
        {"name": "own", "model": "mock/echo", "guard": "guard.yaml"},
    ])  # fmt: skip
    result = content_filters(deploy(tmp_path, gateway={"config": "gateway.yaml"}))
    assert result.status == "pass", result.summary
    assert "held-out (n=" in found(result, "echo input: jailbreak")  # read from the shipped manifest
    assert "high_recall operating point" in found(result, "own input: jailbreak")
    assert "not measured" in found(result, "own output: secrets")
    figures = result.details["routes"]["echo"]["input"][0]["figures"]
    assert 0 < figures["held_out"]["recall"] <= 1


@pytest.mark.parametrize(
    ("guard", "expected"),
    [
        (None, "no guard: mock/echo is served unfiltered"),
        ("none", "no guard"),
        ("input: [jailbreak]\n", "nothing checks the output"),
        ("input: [jailbreak]\noutput: [no_such_validator]\n", "no_such_validator"),
        ("input: [jailbreak]\noutput:\n  - validator: pii\n    on_fail: noop\n", "not enabled: on_fail noop"),
    ],
)
def test_routes_without_a_working_guard_on_both_rails_fail(tmp_path: Path, guard: str | None, expected: str) -> None:
    if guard and "\n" in guard:
        (tmp_path / "g.yaml").write_text(guard)
        guard = "g.yaml"
    gateway_yaml(tmp_path, models=[{"name": "echo", "model": "mock/echo", "guard": guard}])
    result = content_filters(deploy(tmp_path, gateway={"config": "gateway.yaml"}))
    assert result.status == "fail" and expected in result.summary, result.summary
    assert result.fix


def test_content_filters_fail_without_a_gateway_config(tmp_path: Path) -> None:
    assert "gateway.config is not set" in content_filters(deploy(tmp_path)).summary
    result = content_filters(deploy(tmp_path, gateway={"config": "missing.yaml"}))
    assert result.status == "fail" and "cannot read the gateway config" in result.summary


# -- incident response ----------------------------------------------------------------------------------
@pytest.fixture
def receiver() -> Any:
    r = Receiver()
    yield r
    r.close()


def incident_setup(tmp_path: Path, runbook: str = RUNBOOK, **incidents: Any) -> Any:
    (tmp_path / "RUNBOOK.md").write_text(runbook)
    gateway_yaml(tmp_path, incidents=incidents)
    return deploy(tmp_path, gateway={"config": "gateway.yaml"}, incident_response={"runbook": "RUNBOOK.md"})


def test_a_runbook_with_owner_and_contacts_and_a_webhook_that_answers_pass(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    config = incident_setup(tmp_path, webhooks=[receiver.url], webhook_secret_env="HOOK_SECRET")
    result = incident_response(config)
    assert result.status == "pass", result.summary
    assert found(result, "owner") == "Jane Doe (ML platform)"
    assert found(result, "contacts") == "#ml-oncall, oncall@example.com"
    assert "answered the test event with HTTP 200" in found(result, "webhook")
    (_, headers, body) = receiver.requests[0]
    assert headers["X-Alignkit-Event"] == "incident.test" and json.loads(body)["incident"]["severity"] == "sev4"
    signed = verify_signature(SECRET.encode(), headers["X-Alignkit-Timestamp"], body, headers["X-Alignkit-Signature"])
    assert signed and not hmac.compare_digest(headers["X-Alignkit-Signature"], "sha256=")
    assert "T0KEN" not in json.dumps(result.to_dict())  # webhook URLs are shown by host only


def test_a_runbook_in_sections_passes_and_one_without_an_owner_fails(tmp_path: Path, receiver: Receiver) -> None:
    sections = "# Runbook\n\n## Owner\n\nJane Doe\n\n## Contacts\n\n- #ml-oncall\n- +1 555 0100\n\n## Steps\n1. page\n"
    assert incident_response(incident_setup(tmp_path, sections, webhooks=[receiver.url])).status == "pass"
    nobody = incident_response(incident_setup(tmp_path, "Owner: TBD\nContacts: #ml-oncall\n", webhooks=[receiver.url]))
    assert nobody.status == "fail" and "names no owner (placeholders ignored: owner: TBD)" in nobody.summary
    assert "Owner:" in (nobody.fix or "")


def test_missing_runbook_webhooks_or_secret_fail_and_a_refusing_webhook_fails(
    tmp_path: Path, receiver: Receiver
) -> None:
    config = incident_setup(tmp_path, webhooks=[])
    (tmp_path / "RUNBOOK.md").unlink()
    result = incident_response(config)
    assert (
        result.status == "fail"
        and "runbook: cannot read it" in result.summary
        and "webhooks: none configured" in result.summary
    )
    unset = incident_response(incident_setup(tmp_path, webhooks=[receiver.url], webhook_secret_env="UNSET_SECRET_VAR"))
    assert unset.status == "fail" and "UNSET_SECRET_VAR is not set" in unset.summary
    receiver.statuses = [500]
    refused = incident_response(incident_setup(tmp_path, webhooks=[receiver.url]))
    assert refused.status == "fail" and "did not accept the test event: HTTP 500" in refused.summary


def test_unprobed_webhooks_and_a_trigger_that_cannot_fire_warn(tmp_path: Path, receiver: Receiver) -> None:
    skipped = incident_response(incident_setup(tmp_path, webhooks=[receiver.url]), probe_webhooks=False)
    assert skipped.status == "warn" and "not sent a test event" in skipped.summary and not receiver.requests
    config = incident_setup(tmp_path, webhooks=[receiver.url], jailbreak_validators=["my_judge"])
    idle = incident_response(config)
    assert idle.status == "warn" and "no served guard runs those validators" in idle.summary


# -- audits ---------------------------------------------------------------------------------------------
def test_a_schedule_and_a_recent_audit_pass_and_a_stale_one_fails(tmp_path: Path) -> None:
    recent = audit_report(tmp_path / "audits", days_ago=2)
    config = deploy(tmp_path, audits={"schedule": "0 3 * * 1", "reports": "audits", "period_days": 7})
    result = audits(config)
    assert result.status == "pass" and "at most 7.0 days between runs" in found(result, "schedule")
    assert "2.0 days ago" in found(result, "last audit") and found(result, "last audit's verdict") == "clean"
    recent.unlink()
    audit_report(tmp_path / "audits", days_ago=10)  # the newest is now 10 days old
    stale = audits(config)
    assert (
        stale.status == "fail"
        and "older than period_days 7" in stale.summary
        and "alignkit audit run" in (stale.fix or "")
    )


def test_no_audit_yet_fails_and_unreadable_reports_warn(tmp_path: Path) -> None:
    config = deploy(tmp_path, audits={"schedule": "@daily", "reports": "audits", "period_days": 7})
    assert "no audit has run yet" in audits(config).summary
    (tmp_path / "audits").mkdir()
    assert "no audit-<time>.json report" in audits(config).summary
    audit_report(tmp_path / "audits", days_ago=1)
    (tmp_path / "audits" / "audit-20990101T000000Z.json").write_text('{"finished": "last tuesday"}')
    result = audits(config)
    assert result.status == "warn" and "audit-20990101T000000Z.json: not audit JSON" in result.summary


def test_an_audit_with_findings_warns_with_what_it_found(tmp_path: Path) -> None:
    audit_report(tmp_path / "audits", days_ago=1, verdict="findings", findings=("drift: toxicity KS 0.3",))
    result = audits(deploy(tmp_path, audits={"schedule": "@daily", "reports": "audits"}))
    assert result.status == "warn" and "findings: drift: toxicity KS 0.3" in result.summary


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ("61 * * * *", "minute value '61' is not a number from 0 to 59"),
        ("0 3 * *", "has 4 field(s); a cron schedule has five"),
        ("@sometimes", "unknown cron macro '@sometimes'"),
        ("0 3 * * 1-9", "day of week value '9' is not a number from 0 to 7"),
        ("0 3 5-1 * *", "range '5-1' runs backwards"),
        ("0 0 31 2 *", "never fires"),
    ],
)
def test_a_bad_cron_fails_with_a_clear_error(tmp_path: Path, schedule: str, message: str) -> None:
    audit_report(tmp_path / "audits", days_ago=1)
    result = audits(deploy(tmp_path, audits={"schedule": schedule, "reports": "audits"}))
    assert result.status == "fail" and message in result.summary, result.summary
    assert "audits.schedule" in result.summary + (result.fix or "")


def test_a_schedule_sparser_than_the_period_warns(tmp_path: Path) -> None:
    audit_report(tmp_path / "audits", days_ago=1)
    result = audits(deploy(tmp_path, audits={"schedule": "@monthly", "reports": "audits", "period_days": 7}))
    assert result.status == "warn" and "leaves up to 31.0 days between runs" in result.summary


def test_cron_parsing_and_the_longest_gap() -> None:
    monday = dt.date(2026, 1, 5)
    assert longest_gap(parse_cron("0 3 * * 1"), monday) == dt.timedelta(days=7)
    assert longest_gap(parse_cron("@daily"), monday) == dt.timedelta(days=1)
    assert longest_gap(parse_cron("*/15 * * * *"), monday) == dt.timedelta(minutes=15)
    assert longest_gap(parse_cron("0 9,17 * * mon-fri"), monday) == dt.timedelta(hours=64)  # Fri 17:00 -> Mon 09:00
    assert longest_gap(parse_cron("0 0 29 2 *"), monday) == dt.timedelta(days=4 * 365 + 1)  # leap days only
    either = parse_cron("0 0 1 * 0")  # the 1st, or any Sunday (cron's OR when both day fields are set)
    assert either.runs_on(dt.date(2026, 1, 1)) and either.runs_on(dt.date(2026, 1, 4))
    assert not either.runs_on(dt.date(2026, 1, 5))
    assert parse_cron("0 0 * * 7").weekdays == frozenset({0})
    with pytest.raises(ConfigError, match="step '0' is not a number from 1"):
        parse_cron("*/0 * * * *")


# -- the whole checklist --------------------------------------------------------------------------------
def test_without_a_gateway_the_live_items_fail_and_a_broken_probe_fails_them_too(tmp_path: Path) -> None:
    config = deploy(tmp_path)
    results = run_checklist(config, probe_webhooks=False)
    assert [r.id for r in results] == list(ORDER)
    live = [r for r in results if r.id in ("rate_limits", "logging_monitoring", "escalation", "feedback")]
    assert all(r.status == "fail" and r.summary == NO_GATEWAY for r in live)
    assert all(r.status == "fail" for r in results)  # nothing configured: nothing is known

    def broken(config: Any, url: str) -> list[ItemResult]:
        raise ConnectionError("refused")

    probed = run_checklist(config, gateway_url="http://127.0.0.1:9", probes=broken, probe_webhooks=False)
    assert "the live probes could not run: ConnectionError: refused" in probed[2].summary
