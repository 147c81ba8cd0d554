"""``alignkit serve`` and ``alignkit keys``: configs with errors that name the field, keys shown once and
never listed, revocation that says when it did nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from alignkit.cli import serve as serve_cli
from alignkit.cli.main import cli
from alignkit.gateway.app import Gateway


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def write_config(tmp_path: Path, **config: Any) -> str:
    base = {"database": str(tmp_path / "g.sqlite"), "models": [{"name": "m", "model": "mock/echo"}]}
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump({**base, **config}))
    return str(path)


def test_keys_create_shows_the_key_once_list_never_shows_it_and_revoke_stops_it(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    made = run("keys", "create", "alice", "--scope", "user", "--model", "m", "--rpm", "5", "--config", config)
    assert made.exit_code == 0, made.output
    token = made.stdout.strip().splitlines()[-1]
    assert token.startswith("ak-")
    listed = run("keys", "list", "--json", "--config", config)
    assert listed.exit_code == 0 and token not in listed.output and token.split("-")[-1] not in listed.output
    key_id = token.split("-")[1]
    assert f'"key_id": "{key_id}"' in listed.output and '"requests_per_min": 5' in listed.output
    assert run("keys", "revoke", key_id, "--config", config).exit_code == 0
    again = run("keys", "revoke", key_id, "--config", config)
    assert again.exit_code == 1 and "already revoked" in again.output
    unknown = run("keys", "revoke", "0123456789abcdef", "--config", config)
    assert unknown.exit_code == 1 and "keys list" in unknown.output
    assert key_id not in run("keys", "list", "--json", "--config", config).output
    assert key_id in run("keys", "list", "--all", "--json", "--config", config).output


def test_keys_create_refuses_an_unknown_scope(tmp_path: Path) -> None:
    out = run("keys", "create", "bob", "--scope", "root", "--config", write_config(tmp_path))
    assert out.exit_code == 2 and "root" in out.output


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"models": []}, "models"),
        ({"port": "eighty"}, "port"),
        ({"auth": "none", "host": "0.0.0.0"}, "auth: none"),
        ({"models": [{"name": "m", "model": "mock/echo", "guard": "missing.yaml"}]}, "missing.yaml"),
        ({"models": [{"name": "m", "model": "mock/echo", "temperature": 2}]}, "temperature"),
        ({"database": "mysql://db/x"}, "postgresql://"),
    ],
)
def test_serve_refuses_a_bad_config_naming_the_field(tmp_path: Path, config: dict[str, Any], expected: str) -> None:
    out = run("serve", "--config", write_config(tmp_path, **config))
    assert out.exit_code == 1 and expected in out.output and "Traceback" not in out.output, out.output


def test_serve_builds_the_gateway_from_its_config_and_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: dict[str, Any] = {}

    def fake_run(app: Any, config: Any) -> None:
        served["gateway"], served["config"] = app.state.gateway, config

    monkeypatch.setattr(serve_cli, "run", fake_run)
    out = run("serve", "--config", write_config(tmp_path, auth="keys"), "--port", "9123")
    assert out.exit_code == 0, out.output
    assert served["config"].port == 9123 and isinstance(served["gateway"], Gateway)
    assert "no API keys yet" in out.output and "alignkit keys create" in out.output
    asyncio.run(served["gateway"].aclose())
    both = run("serve", "--config", write_config(tmp_path), "--model", "mock/echo")
    assert both.exit_code == 1 and "--model" in both.output


def test_relative_paths_in_a_config_are_read_from_its_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from alignkit.gateway.config import GatewayConfig

    folder = tmp_path / "deploy"
    folder.mkdir()
    (folder / "guard.yaml").write_text("input: [jailbreak]\n")
    (folder / "gateway.yaml").write_text(
        "logging: {path: logs/requests.log}\nmodels: [{name: m, model: mock/echo, guard: guard.yaml}]\n"
    )
    monkeypatch.chdir(tmp_path)
    config = GatewayConfig.from_file(folder / "gateway.yaml")
    assert config.database == str(folder / "gateway.sqlite")
    assert config.logging.path == str(folder / "logs" / "requests.log")
    assert config.models[0].guard == str(folder / "guard.yaml")
