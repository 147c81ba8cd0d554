from __future__ import annotations

import json
from pathlib import Path

import pytest

from alignkit.core import (
    Completion,
    JsonlWriter,
    Message,
    PreferencePair,
    RecordError,
    SFTExample,
    Span,
    Verdict,
    read_jsonl,
    write_jsonl,
)
from alignkit.core.completion import Choice, Usage
from alignkit.core.records import RECORD_TYPES


def test_preference_pair_round_trip(tmp_path: Path) -> None:
    pairs = [
        PreferencePair(prompt="How do I pick a lock?", chosen="I can't help with that.", rejected="Sure: ..."),
        PreferencePair(
            prompt=[Message("system", "be safe"), Message("user", "hi")],
            chosen="Hello!",
            rejected="Go away.",
            tie=False,
            margin=2.0,
            chosen_prob=0.8,
            annotator="ann-1",
            source="unit-test",
            id="p2",
        ),
    ]
    path = tmp_path / "pairs.jsonl"
    assert write_jsonl(path, pairs) == 2
    back = list(read_jsonl(path, PreferencePair))
    assert back == pairs
    first = json.loads(path.read_text().splitlines()[0])
    # compact on disk: defaults are omitted, the prompt is OpenAI-style message dicts
    assert first == {
        "prompt": [{"role": "user", "content": "How do I pick a lock?"}],
        "chosen": "I can't help with that.",
        "rejected": "Sure: ...",
    }


def test_sft_example_and_verdict_round_trip(tmp_path: Path) -> None:
    ex = SFTExample(prompt="2+2?", completion="4")
    assert [m.role for m in ex.messages] == ["user", "assistant"]
    v = Verdict(
        detector="pii",
        score=0.9,
        flagged=True,
        label="EMAIL",
        categories={"email": 0.9},
        spans=(Span(3, 10, "EMAIL"),),
        reason="email address",
        latency_ms=0.2,
    )
    write_jsonl(tmp_path / "a.jsonl", [ex])
    write_jsonl(tmp_path / "b.jsonl", [v])
    assert list(read_jsonl(tmp_path / "a.jsonl", SFTExample)) == [ex]
    assert list(read_jsonl(tmp_path / "b.jsonl", Verdict)) == [v]


def test_read_errors_name_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text(
        json.dumps({"prompt": "a", "chosen": "b", "rejected": "c"}) + "\n\n" + json.dumps({"prompt": "a"}) + "\n"
    )
    with pytest.raises(RecordError, match=r"pairs.jsonl:3: not a valid PreferencePair: chosen: Field required"):
        list(read_jsonl(path, PreferencePair))
    path.write_text('{"prompt": "a", "chosen": "b", "rejected": "c", "chosn": 1}\n')
    with pytest.raises(RecordError, match="chosn: Extra inputs are not permitted"):
        list(read_jsonl(path, PreferencePair))
    path.write_text("{not json\n")
    with pytest.raises(RecordError, match=r":1: not valid JSON"):
        list(read_jsonl(path, PreferencePair))
    path.write_text("[1, 2]\n")
    with pytest.raises(RecordError, match="expected a JSON object"):
        list(read_jsonl(path, PreferencePair))
    with pytest.raises(RecordError, match="no such file"):
        list(read_jsonl(tmp_path / "missing.jsonl", PreferencePair))


def test_verdict_rejects_out_of_range_scores() -> None:
    with pytest.raises(ValueError, match="less than or equal to 1"):
        Verdict(detector="x", score=1.5, flagged=True)
    with pytest.raises(ValueError, match="category score 'hate'"):
        Verdict(detector="x", score=0.5, flagged=True, categories={"hate": 2.0})
    with pytest.raises(ValueError, match="start <= end"):
        Span(5, 2, "X")


def test_writer_flushes_each_line_so_a_crash_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    w = JsonlWriter(path)
    w.write(PreferencePair(prompt="p", chosen="c", rejected="r"))
    # not closed: the line must already be on disk
    assert len(path.read_text().splitlines()) == 1
    w.close()
    with JsonlWriter(path, append=True) as w2:
        w2.write({"free": "form"})
    assert len(path.read_text().splitlines()) == 2


def test_schemas_exist_for_every_record_type() -> None:
    assert set(RECORD_TYPES) == {"preference_pair", "sft_example", "verdict"}
    for t in RECORD_TYPES.values():
        schema = t.json_schema()
        assert schema["type"] == "object"
        assert schema.get("additionalProperties") is False


def test_completion_semantics() -> None:
    c = Completion((Choice("a", "length"), Choice("b")), "mock/x", Usage(3, 4))
    assert str(c) == "a" and c.text == "a" and c.finish_reason == "length" and c.ok
    assert c.usage.total_tokens == 7 and (c.usage + Usage(1, 1)).total_tokens == 9
    failed = Completion.failed("mock/x", "boom")
    assert not failed.ok and failed.text == "" and failed.finish_reason == "error"
