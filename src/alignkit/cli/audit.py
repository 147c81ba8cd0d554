"""``alignkit audit run``: the scheduled safety audit (:mod:`alignkit.checklist.audit`).

The library takes models; here the model string becomes one. With ``gateway.url`` in deploy.yaml the
scan goes through the running gateway, as users reach the model (``openai/<model>`` at ``URL/v1``, with
the admin key, else the user key, from the environment variables ``gateway.keys`` names); without it,
``model`` is scanned directly (behind the guard the release scan used, if any). The release scan's run
record says which probes, sample, seed, converters and attacks to repeat.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from alignkit.checklist.audit import Audit, run_audit
from alignkit.checklist.audit_scan import ScanPlan, ScanRef
from alignkit.checklist.config import DeployConfig
from alignkit.cli.options import load_model
from alignkit.cli.redteam import build_attacks, collect_probes, probes_digest
from alignkit.cli.redteam_judge import make_judge
from alignkit.core.errors import ConfigError
from alignkit.core.model import Model
from alignkit.guard import Guard
from alignkit.providers import get_model
from alignkit.redteam.base import Converter, attacks, parse_stack
from alignkit.redteam.engine import ScanConfig, plan

KEY_ID = re.compile(r"ak-([0-9a-f]{16})-")
CONCURRENCY = 4  # requests in flight against a live gateway: an audit must not crowd out its users


@click.group()
def audit() -> None:
    """Scheduled safety audits: a regression red-team scan, detector drift, escalations and incidents.

    \b
    Examples:
      alignkit audit run --config deploy.yaml
      alignkit audit run --config deploy.yaml --out audits/

    Schedule it with cron, a systemd timer or a Kubernetes CronJob: templates in docs/audit/.
    """


@audit.command("run")
@click.option("--config", "config_path", required=True, help="deploy.yaml (model, gateway, red_team, audits).")
@click.option("--out", "out_dir", help="Folder for the report (default: audits.reports in deploy.yaml).")
def run(config_path: str, out_dir: str | None) -> None:
    """Run the audit once and write audit-<UTC time>.json and .html.

    Exit code: 0 clean; 1 a regression (attack success up beyond audits.max_attack_success_rise) or
    detector drift; 2 nothing found, but a part could not be measured (too little traffic, no release
    scan, an unreachable gateway): unknown is not clean.
    """
    config = DeployConfig.from_file(config_path)
    folder = Path(out_dir) if out_dir else config.path(config.audits.reports)
    if folder is None:
        raise click.UsageError(f"{config_path}: set audits.reports (where audit reports go) or pass --out DIR")
    key = (config.key("admin") or config.key("user")) if config.gateway.url else None
    found = KEY_ID.match(key) if key else None
    result = run_audit(
        config, folder, plan_scan=lambda release: plan_from_release(config, release, key),
        scan_key_id=found.group(1) if found else None,
    )  # fmt: skip
    _print(result)
    sys.exit(result.exit_code)


def _print(a: Audit) -> None:
    click.echo(f"regression scan: {a.regression.status}: {a.regression.reason}")
    click.echo(f"detector drift: {a.drift.status}: {a.drift.reason}")
    review = a.review
    if "error" in review:
        click.echo(f"escalations and incidents: unknown: {review['error']}")
    else:
        r, i = review["reviews"], review["incidents"]
        click.echo(
            f"escalations since the last audit: {r['escalated_since']}; pending now {r['pending']} "
            f"({r['overdue']} overdue); "
            f"incidents opened: {i['opened_since']}, unresolved: {sum(i['open_by_severity'].values())}"
        )
        for line in review["attention"]:
            click.echo(f"  attention: {line}")
    if a.files:
        click.echo(f"wrote {a.files[1]} and {a.files[0]}", err=True)
    click.echo(f"audit {a.verdict} (exit {a.exit_code})", err=True)


def plan_from_release(config: DeployConfig, release: ScanRef, key: str | None) -> ScanPlan:
    """The release scan repeated: its probes, sample, seed, converters and attacks, against the model."""
    rec, notes = release.config, []
    seed = int(rec.get("seed") or 0)
    sample = config.audits.sample or rec.get("sample")
    sources = tuple(s if s == "builtin" else str(config.path(s)) for s in rec.get("probes") or ["builtin"])
    try:
        probes = collect_probes(sources, rec.get("format"), rec.get("categories"), sample, seed)
        names = [str(a).split("(", 1)[0] for a in rec.get("attack_names") or ["static"]]
        chosen = build_attacks(",".join(n for n in names if not _needs_attacker(n)), None)
    except click.UsageError as e:
        raise ConfigError(f"cannot repeat the release scan {release.run_id}: {e.format_message()}") from None
    notes += [f"attack {n} needs an attacker model: not repeated" for n in names if _needs_attacker(n)]
    stacks: list[Converter] = []
    for spec in str(rec.get("converters") or "none").split(","):
        stack = parse_stack(spec.strip()) if spec.strip() else None
        if stack is not None and stack.calls_model:
            notes.append(f"converters {spec.strip()} call a model: not repeated")
        elif stack is not None:
            stacks.append(stack)
    if probes_digest(probes) != rec.get("probes_sha256") and sample == rec.get("sample"):
        notes.append("the probes differ from the release scan's (a changed probe file?): compared on those in common")
    judge = make_judge(None)
    if rec.get("judge") and rec["judge"] != judge.spec:
        notes.append(f"the release scan was judged by {rec['judge']}; this scan by {judge.spec}")
    cfg = ScanConfig(
        concurrency=CONCURRENCY,
        seed=seed,
        max_tokens=int(rec.get("max_tokens") or 192),
        temperature=rec.get("temperature"),
    )
    target = _target(config, key, rec.get("guard"), notes)
    options = {
        "probes": list(sources), "format": rec.get("format"), "categories": rec.get("categories"),
        "converters": ",".join(s.spec for s in stacks), "sample": sample, "attack_names": [a.spec for a in chosen],
        "probes_sha256": probes_digest(probes), "audit_of": release.run_id,
    }  # fmt: skip
    attempts = plan(probes, stacks, seed, attacks=chosen)
    return ScanPlan(target, attempts, judge, cfg, options, notes, through_gateway=bool(config.gateway.url))


def _needs_attacker(name: str) -> bool:
    return name in attacks and attacks.get(name).uses_attacker


def _target(config: DeployConfig, key: str | None, guard: str | None, notes: list[str]) -> Model:
    """The model as users reach it: through the gateway when its URL is known, else directly."""
    url = config.gateway.url
    if url:
        if key is None:
            notes.append("no gateway key in the environment (gateway.keys.admin or .user): requests go without one")
        base = url.rstrip("/") + "/v1"  # key "" (not None): never fall back to OPENAI_API_KEY
        return get_model(f"openai/{config.route()}", base_url=base, api_key=key or "", max_concurrency=CONCURRENCY)
    model = load_model(config.model, (), quiet=True)
    if not guard:
        return model
    notes.append(f"scanned directly, behind the release scan's guard ({guard}); set gateway.url to scan the gateway")
    if guard == "default":
        return Guard.default().wrap(model)
    path = config.path(guard)
    if path is None or not path.is_file():
        raise ConfigError(f"the release scan's guard spec {guard} is not at {path}")
    return Guard.from_file(path).wrap(model)
