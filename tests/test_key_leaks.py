"""The API key never appears on screen, on disk or in a log record, whatever the upstream answers.

A loopback OpenAI-compatible server answers every request with an error whose body echoes the
credentials it received: the Authorization header, the bare key, the key URL-encoded and inside
``Basic base64(user:key)``. ``alignkit chat`` and ``alignkit redteam scan`` run against it with the key
from the environment and from ``-M api_key=...``; every byte they print, every file under the test's
folder (run store and its WAL, reports) and every log record is searched for the key in each of those
forms.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import urllib.parse
from pathlib import Path

import pytest
from click.testing import CliRunner

from alignkit.cli.main import cli
from alignkit.core.scrub import REDACTED, install_log_scrubber, mask, redact
from alignkit.providers.mock import MockModel
from alignkit.redteam import AttemptRow, RunStore, VulnerabilityLog
from tests.helpers.openai_server import OpenAICompatServer

KEYS = {
    "plain": "Zq7Secret+Key/42xyzzy=",  # shaped like nothing: only knowing the value can catch it
    "sk": "sk-proj-4f9bQ2LmZt7Xw3Kc8RvN",  # shaped like an OpenAI key
}
FAST = ["-M", "max_retries=1", "-M", "backoff_base=0.001"]


def forms(key: str) -> list[bytes]:
    """The key as a server may echo it: as is, URL-encoded, base64 alone and after a user name."""
    out = {key, urllib.parse.quote(key, safe=""), urllib.parse.quote_plus(key)}
    out |= {base64.b64encode(f"{u}{key}".encode()).decode() for u in ("", "someuser:", "ab:", "abc:")}
    return [f.encode() for f in out]


def assert_nowhere(key: str, texts: list[str], folder: Path, records: list[logging.LogRecord]) -> None:
    needles = forms(key)
    for text in texts:
        assert not any(n in text.encode() for n in needles), text
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(n in data for n in needles), path
    for r in records:
        line = f"{r.getMessage()} {r.exc_text or ''}".encode()
        assert not any(n in line for n in needles), r.getMessage()


def invoke(args: list[str]) -> tuple[int, str, str]:
    res = CliRunner().invoke(cli, args)
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res.exit_code, res.stdout, res.stderr


@pytest.fixture(params=[(401, "json"), (500, "text")], ids=["401-json", "500-text"])
def echo_server(request: pytest.FixtureRequest) -> OpenAICompatServer:
    status, fmt = request.param
    with OpenAICompatServer(MockModel("echo"), echo_status=status, echo_format=fmt) as server:
        yield server  # type: ignore[misc]


@pytest.mark.parametrize("via", ["env", "arg"])
@pytest.mark.parametrize("kind", sorted(KEYS))
def test_chat_never_shows_the_echoed_key(
    kind: str, via: str, echo_server: OpenAICompatServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    key = KEYS[kind]
    key_args = ["-M", f"api_key={key}"] if via == "arg" else []
    if via == "env":
        monkeypatch.setenv("OPENAI_API_KEY", key)
    caplog.set_level(logging.DEBUG)
    code, out, err = invoke(
        ["-vv", "chat", "openai/m", "hi", "-M", f"base_url={echo_server.base_url}", *FAST, *key_args]
    )
    assert code != 0 and "HTTP" in err and REDACTED in err  # the error is shown, the key is not
    assert_nowhere(key, [out, err], tmp_path, caplog.records)


@pytest.mark.parametrize("via", ["env", "arg"])
def test_scan_never_stores_or_shows_the_echoed_key(
    via: str, echo_server: OpenAICompatServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    key = KEYS["plain"]
    key_args = ["-M", f"api_key={key}"] if via == "arg" else []
    if via == "env":
        monkeypatch.setenv("OPENAI_API_KEY", key)
    caplog.set_level(logging.DEBUG)
    reports = [f"--{kind}={tmp_path / f'r.{kind}'}" for kind in ("html", "json", "junit", "sarif")]
    args = ["-vv", "redteam", "scan", "openai/m", "-M", f"base_url={echo_server.base_url}", *FAST, *key_args]
    args += ["--categories", "cyber", "--sample", "2", "--retries", "0", "--store", str(tmp_path / "runs.db")]
    code, out, err = invoke([*args, *reports, "--run-id", "r", "--fail-above", "0.5"])
    assert code == 1 and "could not be measured" in err  # every attempt errored: the gate fails
    stored = (tmp_path / "runs.db").read_bytes()
    assert b"HTTP" in stored or any(p.name.endswith("-wal") for p in tmp_path.iterdir())  # errors were stored
    assert_nowhere(key, [out, err], tmp_path, caplog.records)


def test_redaction_covers_each_encoding_and_credential_shapes() -> None:
    key = KEYS["plain"]
    for form in forms(key):
        assert form.decode() not in redact(f"echo: {form.decode()} end", [key])
    assert redact("Authorization: Bearer abc.def-ghi") == f"Authorization: {REDACTED}"
    assert redact('{"api_key": "k-123456789"}') == f'{{"api_key": "{REDACTED}"}}'
    assert redact("token sk-ant-api03-aaaaaaaaaaaaaaaaaaaa here") == f"token {REDACTED} here"
    assert redact("the model said hello") == "the model said hello"
    assert redact(f"answer {key}", [key], shapes=False) == f"answer {REDACTED}"


@pytest.mark.parametrize(
    "hostile",
    [
        "Bearer " * 100_000,
        "sk-" * 200_000,
        "authorization=" * 50_000,
        "a" * 600_000 + "!",
        "Basic " + "A" * 600_000,
        ("api_key: " + " " * 7) * 30_000,
    ],
    ids=["bearer", "sk", "authorization", "letters", "basic", "spaces"],
)
def test_redaction_is_linear_on_hostile_input(hostile: str) -> None:
    start = time.perf_counter()
    redact(hostile, [KEYS["plain"], KEYS["sk"]])
    assert time.perf_counter() - start < 10  # a generous bound against a backtracking blow-up


def test_the_last_lines_of_defence_drop_a_masked_key(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """What a provider's own redaction would miss: a masked key reaching the store, the vulnerability
    log, a report or a log record by another road."""
    key = "Lx9unshapedSecretValue"
    mask(key)
    with RunStore(tmp_path / "s.db") as store:
        store.start_run("r", "mock/echo", {}, resume=False)
        row = AttemptRow(
            key="k", probe_id="p", category="cyber", expected="refuse", severity="high", converter="identity",
            attack="static", prompt=f"say {key}", response=f"echo {key}", error=f"boom, Authorization: Bearer {key}",
            status="error", refused=False, harmful=False, success=False, score=0.0, reason=f"failed: {key}",
            evidence={"turns": [{"answer": key}]},
        )  # fmt: skip
        store.add("r", row)
        (stored,) = store.attempts("r")
    assert key not in json.dumps(stored.to_dict()) and REDACTED in (stored.response or "")
    VulnerabilityLog(tmp_path / "v.jsonl").log("p", f"sure, {key}")
    install_log_scrubber()
    caplog.set_level(logging.INFO)
    logging.getLogger("alignkit.test").warning("upstream said %s", key)
    assert_nowhere(key, [], tmp_path, caplog.records)
    assert caplog.records[-1].getMessage() == f"upstream said {REDACTED}"
