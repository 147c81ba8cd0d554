"""A gateway route whose guard checks answers against the sources in their own request (RAG apps)."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from alignkit.detectors.grounding import Source, format_sources
from alignkit.gateway.app import create_app
from alignkit.providers.mock import MockModel
from tests.gateway.test_api import make

SOURCES = format_sources([Source("1", "The museum opens at 9 am and closes at 5 pm on weekdays.")])
MESSAGES = [
    {"role": "system", "content": "Answer from the sources; cite them as [n]."},
    {"role": "user", "content": f"{SOURCES}\nWhen does the museum close?"},
]


def gateway(tmp_path: Path, answer: str) -> TestClient:
    tmp_path.mkdir(parents=True, exist_ok=True)
    spec = tmp_path / "guard.yaml"
    spec.write_text("output:\n  - {validator: grounded, on_fail: refrain, require_citations: true}\n")
    routes = [{"name": "m", "model": "mock/fixed", "guard": str(spec)}]
    gw = make(tmp_path, {"m": MockModel("fixed", text=answer)}, routes=routes)
    return TestClient(create_app(gw))


def test_a_grounded_answer_passes_and_a_miscited_one_is_refused(tmp_path: Path) -> None:
    with gateway(tmp_path / "a", "It closes at 5 pm on weekdays [1].") as c:
        r = c.post("/v1/chat/completions", json={"model": "m", "messages": MESSAGES})
        assert r.status_code == 200 and r.headers["x-alignkit-decision"] == "pass"
        assert r.json()["choices"][0]["message"]["content"] == "It closes at 5 pm on weekdays [1]."
    with gateway(tmp_path / "b", "It closes at 11 pm on Sundays [1].") as c:
        r = c.post("/v1/chat/completions", json={"model": "m", "messages": MESSAGES})
        body = r.json()
        assert body["choices"][0]["finish_reason"] == "content_filter"
        assert "11 pm" not in body["choices"][0]["message"]["content"]
        assert "grounded" in r.headers["x-alignkit-flagged"]


def test_a_streamed_ungrounded_answer_never_shows(tmp_path: Path) -> None:
    body = {"model": "m", "messages": MESSAGES, "stream": True}
    answer = "It closes at 11 pm on Sundays, and entry is free for everyone [1]."
    with gateway(tmp_path, answer) as c, c.stream("POST", "/v1/chat/completions", json=body) as r:
        events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: {")]
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e.get("choices"))
    assert text and "11 pm" not in text
