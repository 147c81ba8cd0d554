from __future__ import annotations

import importlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from alignkit.cli import lazy as cli_lazy
from alignkit.cli.cai import TRAINING as cai_training
from alignkit.cli.main import COMMANDS, cli
from alignkit.providers.mock import MockModel
from alignkit.redteam import RunStore
from tests.conftest import needs_embedded
from tests.helpers.openai_server import OpenAICompatServer


def run(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def test_help_lists_every_command_and_each_has_help() -> None:
    out = run("--help")
    assert out.exit_code == 0
    for name in COMMANDS:
        assert name in out.output
        sub = run(name, "--help")
        assert sub.exit_code == 0 and "Usage: " in sub.output and len(sub.output) > 200, name


def test_the_command_list_needs_no_command_imported_and_says_what_each_command_says() -> None:
    code = (
        "import sys; from alignkit.cli.main import main; sys.argv = ['alignkit', '--help']\n"
        "try: main()\nexcept SystemExit: pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('alignkit.cli.') or m in ('torch', 'trl')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "['alignkit.cli.lazy', 'alignkit.cli.main']"
    for name, (target, short_help) in {**COMMANDS, **cai_training}.items():
        module, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module), attr)
        assert command.get_short_help_str(limit=500) == short_help, name
    cai = subprocess.run(
        [sys.executable, "-c", code.replace("'--help'", "'cai', '--help'")], capture_output=True, text=True
    )
    assert "'torch'" not in cai.stdout and "train" in cai.stdout  # revise and feedback need no torch


def test_a_command_whose_extra_is_missing_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_torch(name: str) -> Any:
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(cli_lazy.importlib, "import_module", no_torch)
    out = CliRunner().invoke(cli, ["rlhf", "--help"])
    assert out.exit_code != 0 and "pip install 'alignkit[hf]'" in out.output and "alignkit rlhf" in out.output


def test_version() -> None:
    from alignkit import __version__

    assert __version__ in run("--version").output


def test_chat_one_shot_and_json() -> None:
    assert run("chat", "mock/echo", "hello there").output == "hello there\n"
    data = json.loads(run("chat", "mock/echo", "one two three", "--max-tokens", "2", "--json").output)
    assert data["text"] == "one two" and data["finish_reason"] == "length" and data["model"] == "mock/echo"
    assert run("chat", "mock/fixed", "x", "-M", "text=configured").output == "configured\n"


def test_chat_system_prompt_reaches_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []
    model = MockModel.from_callable(lambda p: "ok")
    monkeypatch.setattr("alignkit.cli.chat.load_model", lambda spec, args: model)
    run("chat", "mock/x", "hi", "--system", "be brief")
    seen = [m.role for m in model.calls[0]]
    assert seen == ["system", "user"]


def test_chat_interactive_keeps_history_and_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    model = MockModel.from_callable(lambda p: f"re: {p}")
    monkeypatch.setattr("alignkit.cli.chat.load_model", lambda spec, args: model)
    out = run("chat", "mock/x", input="first\nsecond\n/reset\nthird\n/exit\nnever\n")
    assert out.stdout.splitlines() == ["re: first", "re: second", "re: third"]
    assert "(conversation cleared)" in out.stderr
    assert [len(c) for c in model.calls] == [1, 3, 1]  # history grows, /reset clears it


def test_errors_are_messages_not_tracebacks() -> None:
    out = CliRunner().invoke(cli, ["chat", "mokc/echo", "hi"])
    assert out.exit_code == 1
    assert "Error: unknown provider 'mokc'. Did you mean 'mock'?" in out.output
    assert "Traceback" not in out.output
    out = CliRunner().invoke(cli, ["chat", "mock/echo", "hi", "-M", "oops"])
    assert out.exit_code == 1 and "key=value" in out.output
    out = CliRunner().invoke(cli, ["chat", "mock/echo", "hi", "--temperature", "-1"])
    assert out.exit_code == 2 and "--temperature" in out.output


def test_models_inventory() -> None:
    data = json.loads(run("models", "--json").output)
    names = [p["name"] for p in data["providers"]]
    assert names == sorted(names) and {"mock", "hf", "embedded", "openai"} <= set(names)
    assert data["shortcuts"]["smollm2"] == "embedded/smollm2-135m-instruct"
    assert "installed" in data["embedded"]
    text = run("models").output
    assert "Providers" in text and "Embedded default" in text


def test_models_lists_hub_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    snap = tmp_path / "models--org--tiny" / "snapshots" / "abc"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text("{}")
    (tmp_path / "models--org--incomplete").mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    data = json.loads(run("models", "--json").output)
    assert data["hf_cache"]["models"] == ["hf/org/tiny"]


def test_demo_runs_the_lifecycle_attack_defend_certify(tmp_path: Path) -> None:
    out = run("demo", "--model", "mock/comply", "--sample", "12", "--out", str(tmp_path))
    assert out.exit_code == 0, out.output
    assert "bare vs guarded" in out.output and "attack success" in out.output and "deployment checklist" in out.output
    page = (tmp_path / "report.html").read_text()
    assert "Red-team report: mock/comply" in page and "guarded" in page
    runs = RunStore(tmp_path / "runs.db").runs()
    assert [r["target"] for r in runs] == ["mock/comply", "openai/smollm2"]  # the second scan went through the gateway
    gateway = sqlite3.connect(tmp_path / "gateway.sqlite")
    served = gateway.execute("SELECT COUNT(*) FROM exchanges WHERE request_id NOT LIKE 'probe_%'").fetchone()[0]
    assert served == 12 and gateway.execute("SELECT COUNT(*) FROM audit").fetchone()[0] > 12 * 3
    items = {i["id"]: i["status"] for i in json.loads((tmp_path / "checklist.json").read_text())["items"]}
    assert len(items) == 8 and items["rate_limits"] == "pass" and items["logging_monitoring"] == "pass"
    assert items["incident_response"] == "fail" and items["audits"] == "fail"  # no runbook, no audit: said, not hidden
    index = (tmp_path / "index.html").read_text()
    assert all(link in index for link in ("report.html", "checklist.html", "deploy.yaml", "gateway.yaml"))


def test_chat_through_openai_provider_against_loopback_server(openai_server: OpenAICompatServer) -> None:
    out = run("chat", "openai/any", "over the wire", "-M", f"base_url={openai_server.base_url}")
    assert out.output == "over the wire\n"


@needs_embedded
def test_chat_with_the_embedded_model() -> None:
    out = run("chat", "smollm2", "What is the capital of France?", "--max-tokens", "24")
    assert "Paris" in out.output


@needs_embedded
def test_chat_with_embedded_model_through_openai_server(embedded_model: Any) -> None:
    with OpenAICompatServer(embedded_model) as server:
        out = run(
            "chat",
            "openai/smollm2",
            "What is the capital of France?",
            "--max-tokens",
            "24",
            "-M",
            f"base_url={server.base_url}",
        )
    assert "Paris" in out.output


def test_redteam_scan_runs_every_attack_in_one_resumable_run(tmp_path: Path) -> None:
    store = str(tmp_path / "runs.db")
    common = ["redteam", "scan", "mock/refuse", "--categories", "cyber", "--sample", "4", "--store", store]
    args = [*common, "--attacks", "static,crescendo", "--converters", "none,base64", "--run-id", "r"]
    out = run(*args, "--json", str(tmp_path / "s.json"))
    assert out.exit_code == 0, out.output
    rows = list(RunStore(store).attempts("r"))
    harmful = sum(1 for r in rows if r.attack == "static" and r.converter == "identity" and r.expected == "refuse")
    assert {r.attack for r in rows} == {"static", "crescendo"} and len(rows) == 8 + harmful
    assert (
        json.loads((tmp_path / "s.json").read_text())["summary"]["attack_success"]["n"] == 3 * harmful
    )  # two stacks + crescendo
    again = run(*args, "--resume")
    assert "0 attempts in" in again.output and f"{8 + harmful} already done" in again.output
    bad = CliRunner().invoke(cli, [*common, "--attacks", "static,nope"])
    assert bad.exit_code == 2 and "unknown attack(s) ['nope']; use crescendo, pair, static" in bad.output
    bad = CliRunner().invoke(cli, [*common, "--attacks", "pair"])
    assert bad.exit_code == 2 and "--attacker MODEL" in bad.output
    assert "crescendo, pair, static" in run("redteam", "scan", "--help").output  # names from the registry


def test_redteam_scan_gives_model_backed_converters_their_model(tmp_path: Path) -> None:
    store = str(tmp_path / "runs.db")
    args = ["redteam", "scan", "mock/echo", "--categories", "cyber", "--sample", "2", "--store", store]
    out = run(*args, "--converters", "translate", "--converter-model", "mock/fixed", "--run-id", "t")
    assert out.exit_code == 0, out.output
    rows = list(RunStore(store).attempts("t"))
    assert rows and all(r.error is None and "mock/fixed" in r.converter for r in rows)
    assert all(r.prompt == "OK" for r in rows)  # what the converter model wrote is what the target got
    without = CliRunner().invoke(cli, [*args, "--converters", "translate", "--run-id", "u"])
    assert without.exit_code != 0 and "model" in without.output
    unused = CliRunner().invoke(cli, [*args, "--converters", "base64", "--converter-model", "mock/fixed"])
    assert unused.exit_code == 2 and "none of --converters 'base64' calls a model" in unused.output


def test_demo_runs_the_embedded_model_on_onnx_when_the_fast_extra_is_there() -> None:
    import importlib.util

    from alignkit.cli.demo import fast_runtime

    fast = importlib.util.find_spec("onnxruntime_genai") is not None
    assert fast_runtime("smollm2", ()) == (("runtime=onnx",) if fast else ())
    assert fast_runtime("smollm2", ("runtime=torch",)) == ("runtime=torch",)  # the user's choice stands
    assert fast_runtime("mock/comply", ("batch_size=2",)) == ("batch_size=2",)
