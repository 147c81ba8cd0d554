"""User feedback: POST /v1/feedback (scopes, ownership, limits, committed before the answer), and its
exports as preference pairs for `alignkit rlhf` and as items the labelling app imports."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from fastapi.testclient import TestClient

from alignkit.cli.main import cli
from alignkit.core.errors import ConfigError
from alignkit.gateway.app import Gateway, create_app
from alignkit.gateway.events import FeedbackReceived
from alignkit.gateway.exports import export_feedback, feedback_items, feedback_pairs, write_export
from alignkit.gateway.feedback import MAX_COMMENT_CHARS, MAX_CORRECTION_CHARS
from alignkit.rlhf.data import load_preferences
from alignkit.rlhf.labelling import items_from_file
from tests.gateway.humans import Keys, bearer, make_gateway, make_keys, seed_exchange


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, Gateway, Keys]]:
    gateway = make_gateway(tmp_path)
    keys = make_keys(gateway)
    with TestClient(create_app(gateway)) as client:
        yield client, gateway, keys


def rows(gw: Gateway) -> list[tuple[object, ...]]:
    return [
        tuple(r)
        for r in gw.db.read("SELECT response_id, key_id, rating, comment, correction FROM feedback ORDER BY at")
    ]


def test_feedback_on_a_real_completion_is_committed_before_the_answer(api: tuple[TestClient, Gateway, Keys]) -> None:
    client, gw, keys = api
    received: list[FeedbackReceived] = []
    gw.events.subscribe(FeedbackReceived, received.append)
    chat = client.post(
        "/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": "Say hello"}]},
        headers=bearer(keys.user),
    )
    assert chat.status_code == 200, chat.text
    rid = chat.json()["id"]
    got = client.post(
        "/v1/feedback",
        json={"response_id": rid, "thumbs": "down", "comment": " too short ", "correction": "Hello there!"},
        headers=bearer(keys.user),
    )
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["id"].startswith("fb-") and body["object"] == "feedback" and body["rating"] == -1
    assert rows(gw) == [(rid, keys.user_id, -1, "too short", "Hello there!")]  # already in the store
    assert [(e.response_id, e.rating) for e in received] == [(rid, -1)]
    pairs = list(feedback_pairs(gw.db))
    assert len(pairs) == 1 and pairs[0].chosen == "Hello there!" and pairs[0].prompt[-1].content == "Say hello"


def test_ratings_thumbs_and_what_a_request_must_hold(api: tuple[TestClient, Gateway, Keys]) -> None:
    client, gw, keys = api
    rid = seed_exchange(gw.db, keys.user_id, "q", "a")
    h = bearer(keys.user)

    def post(**body: object) -> int:
        return client.post("/v1/feedback", json={"response_id": rid, **body}, headers=h).status_code

    assert post(rating=1) == 200 and post(thumbs="up") == 200 and post(rating=None, comment="meh") == 200
    assert post(rating=-1, thumbs="down") == 200  # agreeing forms are fine
    assert post(rating=1, thumbs="down") == 400  # contradicting ones are not
    assert post() == 400 and post(comment="   ") == 400  # nothing to record
    assert post(rating=2) == 400 and post(rating=0) == 400 and post(thumbs="sideways") == 400
    assert post(rating=1, stars=5) == 400  # a misspelt field is an error, not dropped
    assert post(comment="x" * (MAX_COMMENT_CHARS + 1)) == 400
    assert post(correction="x" * (MAX_CORRECTION_CHARS + 1)) == 400
    assert client.post("/v1/feedback", json={"rating": 1}, headers=h).status_code == 400
    assert [r[2] for r in rows(gw)] == [1, 1, None, -1]


def test_a_key_gives_feedback_only_on_its_own_responses(api: tuple[TestClient, Gateway, Keys]) -> None:
    client, gw, keys = api
    mine = seed_exchange(gw.db, keys.user_id, "q", "a")
    body = {"response_id": mine, "rating": 1}
    assert client.post("/v1/feedback", json=body).status_code == 401
    assert client.post("/v1/feedback", json=body, headers=bearer(keys.reviewer)).status_code == 403  # no user scope
    theirs = client.post("/v1/feedback", json=body, headers=bearer(keys.other))
    assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "response_not_found"
    unknown = client.post("/v1/feedback", json={"response_id": "chatcmpl-nope", "rating": 1}, headers=bearer(keys.user))
    assert unknown.status_code == 404  # the same answer as for someone else's response: ids cannot be probed
    assert unknown.json()["error"]["message"].replace("chatcmpl-nope", mine) == theirs.json()["error"]["message"]
    assert client.post("/v1/feedback", json=body, headers=bearer(keys.admin)).status_code == 200
    assert client.post("/v1/feedback", json=body, headers=bearer(keys.user)).status_code == 200
    assert len(rows(gw)) == 2


def test_the_store_checks_what_the_api_checks(tmp_path: Path) -> None:
    gw = make_gateway(tmp_path)
    rid = seed_exchange(gw.db, None, "q", "a")
    with pytest.raises(ConfigError, match="rating"):
        gw.feedback.add(rid, key=None, rating=5)
    with pytest.raises(ConfigError, match="needs a rating"):
        gw.feedback.add(rid, key=None)
    fb = gw.feedback.add(rid, key=None, rating=-1, comment="bad \ud800 surrogate")  # lone surrogate from JSON
    assert gw.feedback.for_response(rid)[0].comment == "bad ? surrogate" and fb.key_id is None
    asyncio.run(gw.aclose())


# -- exports -------------------------------------------------------------------------------------------------


def seeded(gw: Gateway, keys: Keys) -> dict[str, str]:
    """Corrections, thumbs on two answers to one conversation, and feedback without anything to pair."""
    ids = {
        "corrected": seed_exchange(gw.db, keys.user_id, "Capital of Australia?", "Sydney."),
        "up": seed_exchange(gw.db, keys.user_id, "Explain TCP briefly", "TCP is a reliable, ordered byte stream."),
        "down": seed_exchange(gw.db, None, "Explain TCP briefly", "It is a protocol."),
        "praised": seed_exchange(gw.db, keys.user_id, "2+2?", "4"),
        "same": seed_exchange(gw.db, keys.user_id, "Hi", "Hello!"),
    }
    store = gw.feedback
    store.add(ids["corrected"], key=None, rating=-1, correction="Canberra.")
    store.add(ids["up"], key=None, rating=1)
    store.add(ids["down"], key=None, rating=-1, comment="vague")
    store.add(ids["praised"], key=None, rating=1, comment="good")
    store.add(ids["same"], key=None, rating=1, correction="Hello!")  # a "correction" equal to the answer
    return ids


def test_feedback_exports_as_preference_pairs_and_labelling_items(
    api: tuple[TestClient, Gateway, Keys], tmp_path: Path
) -> None:
    _, gw, keys = api
    ids = seeded(gw, keys)
    pairs = list(feedback_pairs(gw.db))
    assert [(p.chosen, p.rejected, p.metadata["kind"]) for p in pairs] == [
        ("Canberra.", "Sydney.", "correction"),
        ("TCP is a reliable, ordered byte stream.", "It is a protocol.", "thumbs"),
    ]
    assert pairs[0].source == "gateway-feedback" and pairs[0].metadata["response_id"] == ids["corrected"]
    assert pairs[0].prompt[0].role == "system" and pairs[0].prompt[-1].content == "Capital of Australia?"

    out = tmp_path / "pairs.jsonl"
    records, report = export_feedback(gw.db, "pairs")
    assert write_export(out, records, report).written == 2
    loaded, _ = load_preferences(out)  # what `alignkit rlhf reward` and `dpo` read
    assert [p.chosen for p in loaded] == ["Canberra.", "TCP is a reliable, ordered byte stream."]

    items_out = tmp_path / "items.jsonl"
    records, report = export_feedback(gw.db, "items")
    write_export(items_out, records, report)
    items = items_from_file(items_out)  # what `alignkit label serve --pairs` imports
    assert [(i.answer_a, i.answer_b, i.model_b) for i in items] == [
        ("Sydney.", "Canberra.", "user correction"),
        ("It is a protocol.", "TCP is a reliable, ordered byte stream.", "m"),
    ]
    assert next(iter(feedback_items(gw.db)))["prompt"][-1] == {"role": "user", "content": "Capital of Australia?"}
    with pytest.raises(ConfigError, match="pairs"):
        export_feedback(gw.db, "labels")


def test_feedback_cli_exports_pairs_and_items(api: tuple[TestClient, Gateway, Keys], tmp_path: Path) -> None:
    _, gw, keys = api
    seeded(gw, keys)
    config = tmp_path / "gateway.yaml"
    config.write_text(yaml.safe_dump({"database": gw.config.database, "models": [{"name": "m", "model": "mock/echo"}]}))
    for fmt in ("pairs", "items"):
        out = tmp_path / f"fb-{fmt}.jsonl"
        done = CliRunner().invoke(
            cli, ["feedback", "export", "--config", str(config), "--format", fmt, "--out", str(out)]
        )
        assert done.exit_code == 0, done.output
        lines = [json.loads(line) for line in out.read_text().splitlines()]
        assert len(lines) == 2 and "wrote 2" in done.output
        assert ("chosen" in lines[0]) == (fmt == "pairs") and ("response_a" in lines[0]) == (fmt == "items")
    both = CliRunner().invoke(cli, ["feedback", "export", "--config", str(config), "--database", "x", "--out", "o"])
    assert both.exit_code != 0 and "not both" in both.output
