"""Structured JSON logs: one line per request, and every ``alignkit.gateway`` log record, PII and keys redacted.

    request_log = setup_logging(config.logging, events)   # subscribes to RequestDone, adds the handler
    request_log.close()                                    # flushes, removes the handler

Both kinds of line go to ``config.path`` (appended, line-buffered, created with mode 0600) or to stderr:

    {"ts": "2026-12-01T10:00:00.123Z", "type": "request", "request_id": "req_...", "key_id": "3f2a...",
     "model": "smollm2", "endpoint": "/v1/chat/completions", "status": 200, "blocked": false,
     "escalated": false, "stream": false, "prompt_tokens": 12, "completion_tokens": 30,
     "flagged": [{"rail": "output", "validator": "pii", "action": "fix"}],
     "latency_ms": {"auth": 0.01, "limits": 0.05, "input_guard": 0.4, "upstream": 210.5, "total": 211.2}}
    {"ts": "...", "type": "log", "level": "warning", "logger": "alignkit.gateway.upstream", "message": "..."}

Prompts and answers are never logged. Every free text that does reach a line (a log message, its
traceback, its extra fields, a client-chosen request id) is cut to :data:`MAX_TEXT_CHARS` and passes
:class:`LogRedactor`: masked secrets and credential shapes (:func:`alignkit.core.scrub.scrub`), gateway
keys (``ak-...``), then whatever the ``secrets`` and ``pii`` detectors find. A line that cannot be
written (disk full) never fails the request: it is counted (:class:`LogWriteFailed`, which
:class:`~alignkit.gateway.metrics.Metrics` exports) and reported once on stderr.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import sys
import threading
import time
import traceback
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from alignkit.core.errors import ConfigError
from alignkit.core.scrub import REDACTED, scrub
from alignkit.detectors import Detector, get_detector, redact
from alignkit.gateway.config import LogConfig
from alignkit.gateway.events import Events, GuardDecision, RequestDone

__all__ = ["LOGGER", "MAX_TEXT_CHARS", "JsonFormatter", "LogRedactor", "LogWriteFailed", "RequestLog", "setup_logging"]

LOGGER = "alignkit.gateway"
MAX_FLAGGED = 32  # flagged verdicts kept per request line
MAX_PENDING = 10_000  # requests whose verdicts wait for their RequestDone
MAX_TEXT_CHARS = 4000  # a log message or traceback longer than this is cut: logs are not a data channel
_GATEWAY_KEY = re.compile(r"(?<![A-Za-z0-9])ak-[A-Za-z0-9_-]{8,256}")
# new_id(prefix) ids and key ids, kept as they are; a hex letter is required, so a card number is not one
_OWN_ID = re.compile(r"[a-z]{1,12}[_-](?=[0-9]{0,27}[a-f])[0-9a-f]{28}|(?=[0-9]{0,15}[a-f])[0-9a-f]{16}")
# Extra fields a log call may carry that are never written: they would hold conversation text or keys.
_NEVER = frozenset(
    "prompt prompts messages message_text answer content text completion authorization api_key key token "
    "secret password body".split()
)
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}


@dataclass(frozen=True, slots=True)
class LogWriteFailed:
    """A log line could not be written (the event :class:`~alignkit.gateway.metrics.Metrics` counts)."""

    kind: str  # "request" | "record"
    error: str  # the errno name (ENOSPC, EIO, ...) or the exception's type
    at: float = field(default_factory=time.time)


class LogRedactor:
    """Free text made safe for a log line (see the module docstring). If a detector fails, the whole
    text is withheld: a log line never shows what could not be checked."""

    def __init__(self) -> None:
        self.detectors: list[Detector] = [get_detector("secrets"), get_detector("pii")]

    def __call__(self, text: str) -> str:
        if len(text) > MAX_TEXT_CHARS:
            text = text[:MAX_TEXT_CHARS] + f"... [{len(text) - MAX_TEXT_CHARS} more characters]"
        text = _GATEWAY_KEY.sub(REDACTED, scrub(text))
        try:
            for det in self.detectors:
                spans = det.detect(text).spans
                if spans:
                    text = redact(text, spans)
        except Exception:  # fail closed
            return f"{REDACTED} (redaction failed)"
        return text


def iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Sink:
    """Where lines go: a file opened 0600 for appending, or stderr (also once the file is closed: a request
    that finishes during shutdown still gets its line); errors counted, reported once."""

    def __init__(self, path: str | None, events: Events) -> None:
        self.path, self.events = path, events
        self.lock = threading.Lock()
        self.errors = 0
        self._reporting = threading.local()
        self._file: TextIO | None = None
        if path is not None:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            except OSError as e:
                raise ConfigError(
                    f"logging.path: cannot open {path} for appending ({e.strerror}); create its folder, "
                    "fix the permissions, or leave logging.path out to log to stderr"
                ) from None
            self._file = os.fdopen(fd, "a", buffering=1, encoding="utf-8")

    @property
    def stream(self) -> TextIO:
        return self._file if self._file is not None else sys.stderr

    def write(self, line: str, kind: str) -> None:
        try:
            with self.lock:
                self.stream.write(line + "\n")
        except Exception as e:  # a full disk must not fail the request
            self.failed(kind, e)

    def failed(self, kind: str, e: BaseException) -> None:
        self.errors += 1
        name = _error_name(e)
        if self.errors == 1:
            where = self.path or "stderr"
            print(
                f"alignkit gateway: cannot write the log to {where} ({name}); lines are being dropped and "
                "counted in alignkit_gateway_log_write_errors_total. Free the disk or fix logging.path.",
                file=sys.__stderr__,
            )
        if not getattr(self._reporting, "on", False):  # a subscriber that logs must not loop back here
            self._reporting.on = True
            try:
                self.events.emit(LogWriteFailed(kind, name))
            finally:
                self._reporting.on = False

    def close(self) -> None:
        with self.lock:
            f, self._file = self._file, None
            try:
                if f is not None:
                    f.close()
                else:
                    sys.stderr.flush()
            except Exception as e:  # the last buffered line could not be written
                self.errors += 1
                self.events.emit(LogWriteFailed("request", _error_name(e)))


def _safe(redactor: LogRedactor, value: object) -> str:
    """``value`` as log text: the gateway's own ids as they are (the detectors could take their digits for
    a phone number), anything else redacted."""
    text = str(value)
    return text if _OWN_ID.fullmatch(text) else redactor(text)


def _error_name(e: BaseException) -> str:
    code = getattr(e, "errno", None)
    return errno.errorcode.get(code, type(e).__name__) if isinstance(code, int) else type(e).__name__


class JsonFormatter(logging.Formatter):
    """A log record as one JSON line: time, level, logger, redacted message, traceback and extra fields."""

    def __init__(self, redactor: LogRedactor) -> None:
        super().__init__()
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: log the template, not the arguments
            message = str(record.msg)
        out: dict[str, Any] = {
            "ts": iso(record.created),
            "type": "log",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": self.redactor(message),
        }
        if record.exc_info and record.exc_info[1] is not None:
            out["exc"] = self.redactor(record.exc_text or "".join(traceback.format_exception(*record.exc_info)))
        for name, value in vars(record).items():
            if name in _STANDARD or name in _NEVER or name.startswith("_") or name in out:
                continue
            out[name] = value if isinstance(value, bool | int | float) or value is None else _safe(self.redactor, value)
        return json.dumps(out, ensure_ascii=False)


class _Handler(logging.Handler):
    def __init__(self, sink: _Sink, formatter: JsonFormatter) -> None:
        super().__init__()
        self.sink = sink
        self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception as e:  # never the record's text: it may be what failed to redact
            line = json.dumps(
                {
                    "ts": iso(time.time()),
                    "type": "log",
                    "level": "error",
                    "logger": LOGGER,
                    "message": f"a log record could not be formatted ({type(e).__name__})",
                }
            )
        self.sink.write(line, "record")


class RequestLog:
    """The request log of one gateway (see the module docstring)."""

    def __init__(self, config: LogConfig, events: Events) -> None:
        self.config = config
        self.redactor = LogRedactor()
        self.sink = _Sink(config.path, events)
        self.handler = _Handler(self.sink, JsonFormatter(self.redactor))
        self._cache: dict[str, str] = {}
        self._flagged: OrderedDict[str, list[dict[str, str | None]]] = OrderedDict()
        self._flagged_lock = threading.Lock()
        self._logger = logging.getLogger(LOGGER)
        self._previous_level = self._logger.level
        self._logger.setLevel(config.level.upper())
        self._logger.addHandler(self.handler)
        events.subscribe(GuardDecision, self.on_decision)
        events.subscribe(RequestDone, self.on_request)

    @property
    def write_errors(self) -> int:
        return self.sink.errors

    def _name(self, value: str | None) -> str | None:
        """A model name or endpoint, redacted (a client may have invented it); cached, routes are few."""
        if value is None:
            return None
        cached = self._cache.get(value)
        if cached is None:
            cached = self.redactor(value[:200])
            if len(self._cache) < 1024:  # routes are few; a flood of invented names is not cached
                self._cache[value] = cached
        return cached

    def _id(self, value: str | None) -> str | None:
        return None if value is None else _safe(self.redactor, value[:200])

    def on_decision(self, d: GuardDecision) -> None:
        """Keep a flagged verdict (validator, rail, action: never its text) for the request's line."""
        if not d.flagged:
            return
        with self._flagged_lock:
            checks = self._flagged.setdefault(d.request_id, [])
            if len(checks) < MAX_FLAGGED:
                checks.append(
                    {
                        "rail": "output" if d.rail == "output" else "input",
                        "validator": self._name(d.validator),
                        "action": self._name(d.action),
                    }
                )
            while len(self._flagged) > MAX_PENDING:  # requests that never finished: forget the oldest
                self._flagged.popitem(last=False)

    def on_request(self, e: RequestDone) -> None:
        with self._flagged_lock:
            flagged = self._flagged.pop(e.request_id, [])
        line = {
            "ts": iso(e.at),
            "type": "request",
            "request_id": self._id(e.request_id),
            "key_id": self._id(e.key_id),
            "model": self._name(e.model),
            "endpoint": self._name(e.endpoint),
            "status": int(e.status),
            "blocked": bool(e.blocked),
            "escalated": bool(e.escalated),
            "stream": bool(e.stream),
            "prompt_tokens": int(e.prompt_tokens),
            "completion_tokens": int(e.completion_tokens),
            "flagged": flagged,
            "latency_ms": {k: round(v * 1000, 3) for k, v in e.stages_s.items()},
        }
        self.sink.write(json.dumps(line, ensure_ascii=False), "request")

    def close(self) -> None:
        """Flush and close the file; stop handling ``alignkit.gateway`` records. Idempotent."""
        if self.handler in self._logger.handlers:
            self._logger.removeHandler(self.handler)
            if not any(isinstance(h, _Handler) for h in self._logger.handlers):
                self._logger.setLevel(self._previous_level)
        self.sink.close()


def setup_logging(config: LogConfig, events: Events) -> RequestLog:
    """The gateway's request log and JSON log handler (see the module docstring)."""
    return RequestLog(config, events)
