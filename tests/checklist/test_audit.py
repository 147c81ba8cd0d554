"""``alignkit audit run``, the scheduled safety audit, end to end: a release scan made with the real CLI,
a real gateway store with seeded validator scores, reviews and incidents, mock models scanned directly
and through a gateway served over real HTTP; and the scheduling templates in docs/audit/."""

from __future__ import annotations

import configparser
import json
import random
import re
import shlex
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from alignkit.checklist.audit_drift import BASELINE_FILE
from alignkit.checklist.audit_report import NAME, parse_iso
from alignkit.checklist.audit_review import review_summary
from alignkit.checklist.drift_stats import ks_distance, ks_p_value, proportion_p_value
from alignkit.cli.audit import audit as audit_group
from alignkit.cli.main import cli
from alignkit.gateway.app import Gateway, create_app
from alignkit.gateway.config import GatewayConfig, ReviewConfig
from alignkit.gateway.db import SQL, open_database
from alignkit.gateway.events import Events
from alignkit.gateway.incident_store import IncidentStore
from alignkit.gateway.keys import KeyStore
from alignkit.gateway.reviews import ReviewQueue
from alignkit.gateway.schema import MIGRATIONS, new_id
from tests.gateway.live import live_server

DAY = 86_400.0
DOCS = Path(__file__).resolve().parents[2] / "docs" / "audit"
KEY_ENV = "CK_AUDIT_ADMIN_KEY"


def cli_run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


# -- the statistics ---------------------------------------------------------------------------------------
def brute_ks(a: list[float], b: list[float]) -> float:
    """D by its definition: the largest gap between the two ECDFs at any observed value."""
    return max(abs(sum(x <= t for x in a) / len(a) - sum(y <= t for y in b) / len(b)) for t in a + b)


def test_ks_distance_is_the_definition_ties_included() -> None:
    r = random.Random(7)
    for _ in range(50):
        a = [round(r.random(), 1) for _ in range(r.randint(1, 30))]  # rounded: many ties
        b = [round(r.random() ** 2, 1) for _ in range(r.randint(1, 30))]
        assert ks_distance(a, b) == pytest.approx(brute_ks(a, b))
    assert ks_distance([1, 2, 3], [4, 5, 6]) == 1.0 and ks_distance([0.0] * 5, [0.0] * 9) == 0.0


def test_p_values_separate_same_and_shifted_samples() -> None:
    r = random.Random(3)
    same = [r.random() for _ in range(400)], [r.random() for _ in range(400)]
    moved = [r.random() for _ in range(400)], [0.3 + r.random() for _ in range(400)]
    assert ks_p_value(ks_distance(*same), 400, 400) > 0.05
    assert ks_p_value(ks_distance(*moved), 400, 400) < 1e-6
    assert proportion_p_value(10, 100, 11, 100) > 0.5
    assert proportion_p_value(10, 1000, 40, 1000) < 1e-4
    assert proportion_p_value(0, 50, 0, 80) == 1.0


# -- fixtures: a release scan, a gateway store, deploy.yaml -----------------------------------------------
def release_scan(folder: Path, target: str = "mock/refuse", days_ago: float = 30.0) -> float:
    """`alignkit redteam scan` as a release would run it, moved ``days_ago`` into the past; its finish time."""
    store, report = str(folder / "runs.db"), str(folder / "release.json")
    out = cli_run("redteam", "scan", target, "--sample", "14", "--seed", "3", "--store", store, "--run-id", "release")
    assert out.exit_code == 0, out.output
    with sqlite3.connect(store) as conn:
        conn.execute("UPDATE runs SET created = created - ?, finished = finished - ?", (days_ago * DAY,) * 2)
    assert cli_run("redteam", "report", "release", "--store", store, "--json", report).exit_code == 0
    return float(json.loads(Path(report).read_text())["run"]["finished"])


def gateway_yaml(folder: Path, route_model: str = "mock/refuse", **overrides: Any) -> Path:
    config = {
        "database": "gateway.sqlite",  # relative: the audit reads it from this file's folder
        "limits": {"requests_per_min": 100_000, "concurrent": 64},
        "models": [{"name": "m", "model": route_model, "guard": None, "system_prompt": None}],
        **overrides,
    }
    path = folder / "gateway.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def deploy_yaml(folder: Path, model: str = "mock/refuse", **sections: Any) -> Path:
    doc = {
        "model": model,
        "gateway": {"config": "gateway.yaml"},
        "red_team": {"report": "release.json", "store": "runs.db"},
        "audits": {"schedule": "0 3 * * 1", "reports": "audits", "drift": {"min_samples": 60}},
    }
    for name, section in sections.items():
        doc[name] = {**doc.get(name, {}), **section}
    path = folder / "deploy.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQL]:
    db = open_database(str(tmp_path / "gateway.sqlite"), MIGRATIONS)
    yield db
    db.close()


def seed(
    db: SQL, model: str, start: float, end: float, n: int, draw: Callable[[random.Random], float], seed: int
) -> None:
    """``n`` requests spread over [start, end), each scored by an input and an output validator."""
    r = random.Random(seed)
    rows = []
    for i in range(n):
        at = start + (end - start) * i / n
        request = new_id("req-")
        jb = draw(r)
        rows.append((new_id("aud_"), at, request, None, model, "input", "jailbreak", None, jb, int(jb > 0.5), None))
        pii = 1.0 if r.random() < 0.05 else 0.0
        rows.append((new_id("aud_"), at, request, None, model, "output", "pii", None, pii, int(pii > 0.5), None))
    db.write_many(
        "INSERT INTO audit (id, at, request_id, key_id, model, rail, validator, category, score, flagged, action) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def calm(r: random.Random) -> float:
    return r.random() ** 3  # most requests look harmless


def tense(r: random.Random) -> float:
    return r.random() ** 0.8  # the same validator, far more alarmed: what a new attack wave looks like


def newest_report(folder: Path) -> tuple[dict[str, Any], str]:
    names = sorted(p.name for p in folder.iterdir() if NAME.fullmatch(p.name))
    doc = json.loads((folder / names[-1]).read_text())
    return doc, (folder / doc["html"]).read_text()


# -- a full audit, scanning the model directly ------------------------------------------------------------
@pytest.mark.parametrize(
    ("now_draw", "now_n", "drift", "exit_code"),
    [(tense, 300, "drift", 1), (calm, 300, "stable", 0), (calm, 20, "unknown", 2)],
    ids=["shifted", "same", "too-little-traffic"],
)
def test_full_audit_measures_drift_on_gateway_traffic(
    tmp_path: Path, store: SQL, now_draw: Callable[[random.Random], float], now_n: int, drift: str, exit_code: int
) -> None:
    released = release_scan(tmp_path)
    gateway_yaml(tmp_path)
    config = deploy_yaml(tmp_path)
    now = time.time()
    seed(store, "mock/refuse", released + 3600, released + 6 * DAY, 300, calm, seed=1)
    seed(store, "mock/refuse", now - 6 * DAY, now - 60, now_n, now_draw, seed=2)
    seed(store, "other-model", now - 6 * DAY, now - 60, 300, tense, seed=3)  # another model's traffic: not counted

    out = cli_run("audit", "run", "--config", str(config))
    assert out.exit_code == exit_code, out.output
    doc, page = newest_report(tmp_path / "audits")
    assert doc["drift"]["status"] == drift and doc["regression"]["status"] == "ok"
    by_name = {v["validator"]: v for v in doc["drift"]["validators"]}
    assert set(by_name) == {"input:jailbreak", "output:pii"}
    jb = by_name["input:jailbreak"]
    assert jb["baseline"]["n"] == 300 and jb["now"]["n"] == now_n
    if drift == "drift":
        assert jb["status"] == "drift" and jb["ks"] > 0.3 and jb["now"]["mean"] > jb["baseline"]["mean"] + 0.2
        assert by_name["output:pii"]["status"] == "stable"
        assert doc["findings"] == [f"drift: {doc['drift']['reason']}"] and "input:jailbreak" in doc["drift"]["reason"]
    elif drift == "stable":
        assert all(v["status"] == "stable" for v in by_name.values()) and doc["verdict"] == "clean"
    else:
        assert jb["status"] == "not enough data" and "not enough data" in doc["drift"]["reason"]
        assert doc["verdict"] == "incomplete" and doc["unmeasured"]
    assert f'Detector drift: <span class="{drift}">{drift}</span>' in page
    # the baseline window (the first week after the release) ended: it is frozen for later audits
    frozen = json.loads((tmp_path / "audits" / BASELINE_FILE).read_text())
    assert frozen["release_run"] == "release" and frozen["validators"]["input:jailbreak"]["n"] == 300


def test_a_second_audit_compares_with_the_first_and_reads_the_frozen_baseline(tmp_path: Path, store: SQL) -> None:
    released = release_scan(tmp_path)
    gateway_yaml(tmp_path)
    config = deploy_yaml(tmp_path)
    now = time.time()
    seed(store, "mock/refuse", released + 3600, released + 6 * DAY, 300, calm, seed=1)
    seed(store, "mock/refuse", now - 6 * DAY, now - 60, 300, calm, seed=2)
    assert cli_run("audit", "run", "--config", str(config)).exit_code == 0
    first, _ = newest_report(tmp_path / "audits")
    store.write("DELETE FROM audit WHERE at < ?", (released + 7 * DAY,))  # the gateway pruned old rows
    time.sleep(1.1)  # reports are named by the second
    out = cli_run("audit", "run", "--config", str(config))
    assert out.exit_code == 0, out.output
    second, _ = newest_report(tmp_path / "audits")
    assert second["previous_audit"] == f"audit-{first['started'].replace('-', '').replace(':', '')}.json"
    assert second["regression"]["previous"]["run_id"] == first["regression"]["run"]["run_id"]
    assert second["regression"]["release"]["run_id"] == "release"
    assert "frozen" not in second["drift"]["baseline_source"]  # read from the file, not the (pruned) store
    assert second["drift"]["baseline_source"].endswith(BASELINE_FILE) and second["drift"]["status"] == "stable"
    assert second["since"] == first["finished"]


def test_without_a_release_scan_the_audit_is_incomplete_and_says_why(tmp_path: Path, store: SQL) -> None:
    gateway_yaml(tmp_path)
    config = deploy_yaml(tmp_path, red_team={"report": "missing.json"})
    out = cli_run("audit", "run", "--config", str(config), "--out", str(tmp_path / "elsewhere"))
    assert out.exit_code == 2, out.output
    doc, _ = newest_report(tmp_path / "elsewhere")
    assert doc["regression"]["status"] == "unknown" and "missing.json" in doc["regression"]["reason"]
    assert doc["drift"]["status"] == "unknown" and doc["verdict"] == "incomplete"
    assert doc["review"]["reviews"]["escalated_since"] == 0  # the store was read all the same


def test_a_missing_gateway_store_is_unknown_not_empty(tmp_path: Path) -> None:
    release_scan(tmp_path)
    gateway_yaml(tmp_path)
    out = cli_run("audit", "run", "--config", str(deploy_yaml(tmp_path)))
    assert out.exit_code == 2
    doc, _ = newest_report(tmp_path / "audits")
    assert "no gateway store at" in doc["review"]["error"] and "no gateway store at" in doc["drift"]["reason"]
    assert not (tmp_path / "gateway.sqlite").exists()  # not created empty


def test_reports_need_a_folder(tmp_path: Path) -> None:
    (tmp_path / "deploy.yaml").write_text(yaml.safe_dump({"model": "mock/refuse"}))
    out = CliRunner().invoke(cli, ["audit", "run", "--config", str(tmp_path / "deploy.yaml")])
    assert out.exit_code == 2 and "audits.reports" in out.output


# -- the regression scan, through a gateway served over real HTTP ----------------------------------------
@pytest.mark.parametrize(
    ("route_model", "status", "exit_code"),
    [("mock/comply", "regression", 1), ("mock/refuse", "ok", 2)],
    ids=["model-now-complies", "model-still-refuses"],
)
def test_the_scan_goes_through_the_gateway_and_finds_a_regression(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, route_model: str, status: str, exit_code: int
) -> None:
    release_scan(tmp_path, "mock/refuse")
    gw_config = gateway_yaml(tmp_path, route_model, auth="keys")
    gw = Gateway(GatewayConfig.from_file(gw_config).model_copy(update={"database": str(tmp_path / "gateway.sqlite")}))
    record, key = KeyStore(gw.db).create("audit", ("admin",))
    monkeypatch.setenv(KEY_ENV, key)
    with live_server(create_app(gw)) as url:
        config = deploy_yaml(tmp_path, "m", gateway={"url": url, "keys": {"admin": KEY_ENV}})
        out = cli_run("audit", "run", "--config", str(config))
        served = gw.db.read_one("SELECT COUNT(*) FROM exchanges WHERE key_id = ?", (record.key_id,))[0]
    assert out.exit_code == exit_code, out.output
    doc, page = newest_report(tmp_path / "audits")
    reg = doc["regression"]
    assert reg["status"] == status and reg["run"]["target"] == "openai/m"
    assert served == reg["attempts"]["total"] == reg["compared"] == 14  # every attempt went through the gateway
    assert doc["scan_traffic"]["key_id"] == record.key_id  # later audits leave this traffic out of drift
    asr = reg["attack_success"]
    assert asr["release"]["rate"] == asr["previous"]["rate"] == 0.0
    if status == "regression":
        assert asr["now"]["rate"] > 0.2 and reg["new_vulnerabilities"]
        assert doc["findings"][0].startswith("regression: attack success 0.0% -> ")
        assert "New vulnerabilities" in page and reg["new_vulnerabilities"][0]["probe_id"] in page
    else:
        assert asr["now"]["rate"] == 0.0 and not reg["new_vulnerabilities"]
        assert doc["drift"]["status"] == "unknown"  # no guard on the route: no validator scores at all
    assert key not in json.dumps(doc) and key not in page


# -- escalations and incidents -----------------------------------------------------------------------------
def test_review_summary_counts_escalations_and_incidents_since_the_last_audit(store: SQL) -> None:
    since = time.time() - 3600
    queue = ReviewQueue(store, ReviewConfig(sla_s=0.01), Events())
    ids = [
        queue.enqueue(
            request_id=f"req-{i}", response_id=None, model="m", rail="input", validator="jailbreak",
            reason="flagged", messages=[{"role": "user", "content": "hi"}], answer=None,
        )
        for i in range(5)
    ]  # fmt: skip
    store.write("UPDATE reviews SET created = ?, due = ? WHERE id = ?", (since - DAY, since - DAY + 1, ids[0]))
    queue.record_decision(ids[1], "approve", reviewer="k1")
    queue.record_decision(ids[2], "reject", reviewer="k1", harmful=True)
    incidents = IncidentStore(store)
    sev1, _ = incidents.observe("harmful_answer_delivered", "m", "sev1", "<script>alert(1)</script>", {})
    incidents.observe("escalation_backlog", None, "sev3", "Backlog", {})
    done, _ = incidents.observe("upstream_outage", "m", "sev2", "Outage", {})
    incidents.resolve(done.id, actor="cli")
    time.sleep(0.02)  # past the 10 ms SLA

    s = review_summary(store, since=since, now=time.time())
    r, i = s["reviews"], s["incidents"]
    assert r["escalated_since"] == 4  # the one from before the last audit is not counted
    assert r["since_by_status"] == {"pending": 2, "approved": 1, "edited": 0, "rejected": 1}
    assert r["confirmed_harmful_since"] == 1
    assert r["pending"] == 3 and r["overdue"] == 3 and r["oldest_pending_hours"] >= 24
    assert i["since_by_severity"] == {"sev1": 1, "sev2": 1, "sev3": 1, "sev4": 0}
    assert i["since_by_status"] == {"open": 2, "acknowledged": 0, "resolved": 1}
    assert i["open_by_severity"] == {"sev1": 1, "sev2": 0, "sev3": 1, "sev4": 0}
    assert i["open"][0]["id"] == sev1.id  # the worst first
    assert s["attention"] == [
        "3 escalated conversation(s) waiting past the review SLA",
        "1 sev1/sev2 incident(s) not resolved",
    ]


def test_the_report_shows_escalations_and_escapes_what_it_stores(tmp_path: Path, store: SQL) -> None:
    release_scan(tmp_path)
    gateway_yaml(tmp_path)
    IncidentStore(store).observe("manual", None, "sev1", "<script>alert(1)</script><img src=x>", {})
    out = cli_run("audit", "run", "--config", str(deploy_yaml(tmp_path)))
    assert "1 sev1/sev2 incident(s) not resolved" in out.output
    doc, page = newest_report(tmp_path / "audits")
    assert doc["review"]["incidents"]["open"][0]["title"] == "<script>alert(1)</script><img src=x>"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x&gt;" in page
    assert "<script" not in page and "<img" not in page and "http://" not in page and "https://" not in page
    assert abs(parse_iso(doc["finished"]) - time.time()) < 120 and doc["finished"].endswith("Z")
    assert not list((tmp_path / "audits").glob(".*.tmp"))  # written atomically: no temporary file left


# -- scheduling templates ----------------------------------------------------------------------------------
CRON_FIELD = re.compile(r"(\*|\d+(-\d+)?|[a-z]{3}(-[a-z]{3})?)(/\d+)?(,(\d+(-\d+)?|[a-z]{3}))*", re.I)


def check_schedule(text: str) -> None:
    """Five cron fields (minute hour day-of-month month day-of-week), each of a shape cron reads."""
    fields = text.split()
    assert len(fields) == 5 and all(CRON_FIELD.fullmatch(f) for f in fields), text


def audit_command(words: list[str]) -> list[str]:
    """The words after ``alignkit``, checked to be a real ``alignkit audit run`` invocation."""
    at = next(i for i, w in enumerate(words) if w == "alignkit" or w.endswith("/alignkit"))
    args = words[at + 1 :]
    assert args[:2] == ["audit", "run"], words
    options = {o for p in audit_group.commands["run"].params for o in p.opts}
    flags = [a for a in args[2:] if a.startswith("-")]
    assert flags and set(flags) <= options and "--config" in flags, flags
    return args


def test_cron_line_has_five_fields_and_runs_the_audit() -> None:
    lines = [x for x in (DOCS / "cron.txt").read_text().splitlines() if x.strip() and not x.startswith("#")]
    assert len(lines) == 1
    fields = lines[0].split()
    check_schedule(" ".join(fields[:5]))
    assert not fields[5][0].isdigit() and not fields[5].startswith("*")
    audit_command(shlex.split(" ".join(fields[5:]).split("&&")[-1].split(">>")[0]))


def test_systemd_units_have_what_systemd_needs() -> None:
    service, timer = configparser.ConfigParser(), configparser.ConfigParser()
    service.optionxform = timer.optionxform = str  # type: ignore[assignment,method-assign]
    service.read(DOCS / "alignkit-audit.service")
    timer.read(DOCS / "alignkit-audit.timer")
    assert service["Service"]["Type"] == "oneshot" and service["Unit"]["Description"]
    audit_command(shlex.split(service["Service"]["ExecStart"]))
    assert timer["Timer"]["OnCalendar"] and timer["Timer"]["Unit"] == "alignkit-audit.service"
    assert timer["Install"]["WantedBy"] == "timers.target"


def test_kubernetes_cronjob_parses_and_runs_the_audit() -> None:
    doc = yaml.safe_load((DOCS / "cronjob.yaml").read_text())
    assert doc["apiVersion"] == "batch/v1" and doc["kind"] == "CronJob"
    check_schedule(doc["spec"]["schedule"])
    pod = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] in ("Never", "OnFailure")
    audit_command(pod["containers"][0]["command"])
