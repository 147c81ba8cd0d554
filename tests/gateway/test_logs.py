"""The gateway's JSON logs: one line per request, every gateway log record as JSON, nothing personal or
secret in any line, and a full disk that never fails a request."""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from alignkit.core.completion import Completion
from alignkit.core.config import GenerateConfig
from alignkit.core.errors import ConfigError, ProviderError
from alignkit.core.messages import Message
from alignkit.core.model import ModelBase
from alignkit.core.scrub import mask
from alignkit.gateway.app import Gateway, create_app
from alignkit.gateway.config import GatewayConfig, LogConfig
from alignkit.gateway.events import Events, GuardDecision, RequestDone
from alignkit.gateway.logs import LOGGER, MAX_TEXT_CHARS, LogWriteFailed, RequestLog, setup_logging
from alignkit.gateway.metrics import Metrics

GATEWAY_KEY = "ak-0123456789abcdef-" + "Zq7_x9-LmN2pQr8sT1uV4wX6yZ0aB3cD5eF7gH9iJkL"[:43]
PROVIDER_KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4"
GITHUB = "ghp_" + "a1B2c3D4e5" * 4
MASKED = "zebra-violet-9931-secret"  # a value only the mask list knows
EMAIL, PHONE, CARD = "jane.doe@example.com", "+44 20 7946 0958", "4111 1111 1111 1111"
LEAKS = [GATEWAY_KEY, PROVIDER_KEY, GITHUB, MASKED, EMAIL, PHONE, CARD, "Jane Doe"]
HOSTILE = (
    f"upstream said 401 for Authorization: Bearer {PROVIDER_KEY}; caller key {GATEWAY_KEY}, "
    f"user {EMAIL} (My name is Jane Doe, tel {PHONE}, card {CARD}), token {GITHUB}, {MASKED}"
)


def done(**kw: object) -> RequestDone:
    base: dict[str, object] = {
        "request_id": "req_0190abcdef01" + "23456789abcdef01",
        "key_id": "0123456789abcdef",
        "model": "m",
        "endpoint": "/v1/chat/completions",
        "status": 200,
        "blocked": True,
        "escalated": False,
        "stream": True,
        "prompt_tokens": 7,
        "completion_tokens": 11,
        "stages_s": {"auth": 0.00001, "input_guard": 0.0004, "upstream": 0.2, "total": 0.2105},
        "at": 1_790_000_000.25,
    }
    return RequestDone(**{**base, **kw})  # type: ignore[arg-type]


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[tuple[Path, Events, RequestLog]]:
    path = tmp_path / "gateway.log"
    events = Events()
    request_log = setup_logging(LogConfig(path=str(path)), events)
    yield path, events, request_log
    request_log.close()


def test_one_json_line_per_request_in_a_private_file(log_file: tuple[Path, Events, RequestLog]) -> None:
    path, events, _ = log_file
    events.emit(done())
    events.emit(done(status=429, blocked=False, stream=False, stages_s={"auth": 0.0, "limits": 0.001, "total": 0.002}))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first, second = lines(path)  # line-buffered: on disk before close
    assert first == {
        "ts": "2026-09-21T14:13:20.250Z",
        "type": "request",
        "request_id": "req_0190abcdef0123456789abcdef01",
        "key_id": "0123456789abcdef",
        "model": "m",
        "endpoint": "/v1/chat/completions",
        "status": 200,
        "blocked": True,
        "escalated": False,
        "stream": True,
        "prompt_tokens": 7,
        "completion_tokens": 11,
        "flagged": [],
        "latency_ms": {"auth": 0.01, "input_guard": 0.4, "upstream": 200.0, "total": 210.5},
    }
    assert second["status"] == 429 and second["latency_ms"] == {"auth": 0.0, "limits": 1.0, "total": 2.0}


def test_an_existing_log_is_appended_to(tmp_path: Path) -> None:
    path = tmp_path / "gateway.log"
    path.write_text('{"old": 1}\n')
    events = Events()
    request_log = setup_logging(LogConfig(path=str(path)), events)
    events.emit(done())
    request_log.close()
    assert [line.get("old") for line in lines(path)] == [1, None]


def test_gateway_log_records_are_json_and_redacted(log_file: tuple[Path, Events, RequestLog]) -> None:
    path, events, _ = log_file
    mask(MASKED)
    log = logging.getLogger(LOGGER + ".upstream")
    log.warning("upstream m failed: %s", HOSTILE, extra={"model": "m", "attempt": 2, "prompt": f"mail {EMAIL}"})
    try:
        raise RuntimeError(HOSTILE)
    except RuntimeError:
        log.exception("validator pii failed; reason: %s", HOSTILE)
    log.info("x" * (MAX_TEXT_CHARS * 3))
    events.emit(done(request_id=f"client-chose-{EMAIL}", model=f"{PHONE}", endpoint="/v1/completions"))
    events.emit(done(request_id=CARD.replace(" ", ""), key_id=CARD.replace(" ", "")))  # hex-shaped, not an id
    text = path.read_text()
    for leak in [*LEAKS, CARD.replace(" ", "")]:
        assert leak not in text, leak
    warn, exc, long_line, request, _ = lines(path)
    assert warn["type"] == "log" and warn["level"] == "warning" and warn["logger"] == "alignkit.gateway.upstream"
    assert str(warn["message"]).startswith("upstream m failed: upstream said 401")
    assert "<EMAIL>" in str(warn["message"]) and "[REDACTED]" in str(warn["message"])
    assert warn["model"] == "m" and warn["attempt"] == 2 and "prompt" not in warn  # conversation text never
    assert "RuntimeError" in str(exc["exc"]) and exc["level"] == "error"
    assert len(str(long_line["message"])) < MAX_TEXT_CHARS + 100
    assert request["type"] == "request" and "<EMAIL>" in str(request["request_id"])


def test_without_a_path_lines_go_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    events = Events()
    request_log = setup_logging(LogConfig(), events)
    events.emit(done())
    logging.getLogger(LOGGER).error("bad key %s", GATEWAY_KEY)
    request_log.close()
    err = capsys.readouterr().err.splitlines()
    assert json.loads(err[0])["type"] == "request"
    assert json.loads(err[1])["message"] == "bad key [REDACTED]"


def test_level_and_close(tmp_path: Path) -> None:
    path = tmp_path / "g.log"
    events = Events()
    request_log = setup_logging(LogConfig(path=str(path), level="warning"), events)
    logging.getLogger(LOGGER).info("not shown")
    logging.getLogger(LOGGER).warning("shown")
    request_log.close()
    request_log.close()  # idempotent
    logging.getLogger(LOGGER).warning("after close: not in the file")
    assert [line["message"] for line in lines(path)] == ["shown"]
    assert request_log.handler not in logging.getLogger(LOGGER).handlers


def test_a_request_that_ends_after_close_still_gets_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = Events()
    request_log = setup_logging(LogConfig(path=str(tmp_path / "g.log")), events)
    request_log.close()
    events.emit(done())  # an in-flight request during shutdown: on stderr, not lost, not raised
    assert json.loads(capsys.readouterr().err)["type"] == "request"
    assert request_log.write_errors == 0


def test_flagged_verdicts_join_their_request_line(log_file: tuple[Path, Events, RequestLog]) -> None:
    path, events, _ = log_file
    rid = done().request_id
    decision = {"request_id": rid, "key_id": None, "model": "m", "score": 0.9, "category": "EMAIL"}
    events.emit(GuardDecision(**decision, rail="input", validator="jailbreak", flagged=False, action=None))
    events.emit(GuardDecision(**decision, rail="output", validator="pii", flagged=True, action="fix"))
    events.emit(
        GuardDecision(
            **{**decision, "request_id": "req_other"}, rail="input", validator="x", flagged=True, action="refrain"
        )
    )
    events.emit(done())
    events.emit(done())  # the verdicts went with the first line
    first, second = lines(path)
    assert first["flagged"] == [{"rail": "output", "validator": "pii", "action": "fix"}]
    assert second["flagged"] == []


def test_a_full_disk_never_fails_a_request_and_is_counted(capfd: pytest.CaptureFixture[str]) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full (Linux)")
    events = Events()
    metrics = Metrics(events)
    failures: list[LogWriteFailed] = []
    events.subscribe(LogWriteFailed, failures.append)
    request_log = setup_logging(LogConfig(path="/dev/full"), events)
    for _ in range(3):
        events.emit(done())  # the subscriber swallows ENOSPC: nothing reaches the request path
    logging.getLogger(LOGGER).warning("also dropped")
    request_log.close()
    assert request_log.write_errors >= 4
    assert failures and failures[0].error == "ENOSPC"
    assert metrics.registry.get_sample_value("alignkit_gateway_log_write_errors_total") == len(failures)
    err = capfd.readouterr().err
    assert err.count("cannot write the log to /dev/full (ENOSPC)") == 1  # said once, not per line


def test_a_log_path_that_cannot_be_opened_says_how_to_fix_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"logging\.path: cannot open .* create its folder"):
        setup_logging(LogConfig(path=str(tmp_path / "missing" / "g.log")), Events())


class Failing(ModelBase):
    """An upstream whose error message carries personal data and keys."""

    provider = "test"

    def __init__(self) -> None:
        super().__init__("failing")

    async def _generate_batch(self, prompts: list[tuple[Message, ...]], config: GenerateConfig) -> list[Completion]:
        raise ProviderError(HOSTILE)


def test_a_real_gateway_logs_no_pii_or_key_from_a_failing_upstream(tmp_path: Path) -> None:
    mask(MASKED)
    log = tmp_path / "requests.log"
    config = {
        "auth": "none",
        "allowed_hosts": ["testserver"],
        "database": str(tmp_path / "g.sqlite"),
        "logging": {"path": str(log), "level": "debug"},
        "models": [{"name": "m", "model": "mock/echo", "guard": None, "retries": 0}],
    }
    gw = Gateway(GatewayConfig.model_validate(config), models={"m": Failing()})
    with TestClient(create_app(gw)) as c:
        r = c.post(
            "/v1/chat/completions",
            json={"model": "m", "messages": [{"role": "user", "content": f"I am Jane Doe, mail me at {EMAIL}"}]},
            headers={"x-request-id": f"trace-{EMAIL}"},
        )
        assert r.status_code in (502, 503, 504)
        # what a module of the gateway would log about it, reason and all
        logging.getLogger(LOGGER + ".upstream").error("upstream m failed: %s", HOSTILE)
        logging.getLogger(LOGGER + ".guard").warning("validator pii escalated; reason: %s", HOSTILE)
    text = log.read_text()
    for leak in LEAKS:
        assert leak not in text, leak
    request = next(line for line in lines(log) if line["type"] == "request")
    assert request["status"] == r.status_code and request["model"] == "m"
    assert sum(line["type"] == "log" for line in lines(log)) >= 2
