from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from alignkit.core import ConfigError, Message, PreferencePair, RecordError
from alignkit.rlhf import clean, from_rows, hh_pair, load_preferences, parse_hh

HH_DATA = Path(os.environ.get("ALIGNKIT_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
HH_FILE = HH_DATA / "hh-rlhf-harmless-base" / "pairs.jsonl"


def test_parse_hh_transcript() -> None:
    msgs = parse_hh("\n\nHuman: hi there\n\nAssistant: hello!\n\nHuman: how are you?\n\nAssistant:")
    assert msgs == [Message("user", "hi there"), Message("assistant", "hello!"), Message("user", "how are you?")]
    with pytest.raises(RecordError, match="not an HH transcript"):
        parse_hh("just some text")


def test_hh_transcript_shape_uses_the_shared_prefix() -> None:
    row = {
        "chosen": "\n\nHuman: how do I pick a lock?\n\nAssistant: I can't help with that.",
        "rejected": "\n\nHuman: how do I pick a lock?\n\nAssistant: Get a tension wrench.",
    }
    pair = hh_pair(row)
    assert pair.prompt == (Message("user", "how do I pick a lock?"),)
    assert (pair.chosen, pair.rejected) == ("I can't help with that.", "Get a tension wrench.")
    bad = {**row, "rejected": "\n\nHuman: something else\n\nAssistant: x"}
    with pytest.raises(RecordError, match="do not share"):
        hh_pair(bad)


def test_clean_drops_duplicates_and_no_preference_pairs_and_says_so() -> None:
    from alignkit.rlhf import ImportReport

    a = PreferencePair(prompt="q", chosen="good", rejected="bad")
    rows = [
        a,
        PreferencePair(prompt="q", chosen="Good ", rejected="bad"),  # duplicate up to case/space
        PreferencePair(prompt="q", chosen="same", rejected="same"),
        PreferencePair(prompt="q2", chosen="same", rejected="same", tie=True),
    ]
    report = ImportReport()
    kept = list(clean(rows, report=report))
    assert kept == [a, rows[3]]
    assert report.kept == 2 and report.dropped == {"duplicate": 1, "chosen equals rejected": 1}


def test_pii_is_redacted_or_dropped_on_import() -> None:
    pair = PreferencePair(
        prompt="My email is ann.lee@example.com", chosen="Noted.", rejected="Emailing ann.lee@example.com"
    )
    (redacted,) = list(clean([pair], pii="redact"))
    assert "ann.lee@example.com" not in redacted.prompt[0].content + redacted.rejected
    assert "<EMAIL>" in redacted.prompt[0].content
    assert list(clean([pair], pii="drop")) == []


def test_load_jsonl_csv_and_column_mapping(tmp_path: Path) -> None:
    jl = tmp_path / "p.jsonl"
    jl.write_text(json.dumps({"prompt": "q", "chosen": "a", "rejected": "b", "annotator": "ann-1"}) + "\n")
    pairs, report = load_preferences(jl)
    assert pairs[0].annotator == "ann-1" and report.kept == 1 and pairs[0].source == str(jl)
    csv_path = tmp_path / "p.csv"
    csv_path.write_text("question,good,bad\nq1,yes,no\nq2,fine,worse\n")
    pairs, _ = load_preferences(
        csv_path, format="columns", columns={"prompt": "question", "chosen": "good", "rejected": "bad"}
    )
    assert [(p.prompt[0].content, p.chosen) for p in pairs] == [("q1", "yes"), ("q2", "fine")]
    with pytest.raises(RecordError, match=r"p.csv:2: no column\(s\) \['answer'\]"):
        load_preferences(
            csv_path, format="columns", columns={"prompt": "question", "chosen": "answer", "rejected": "bad"}
        )
    jl.write_text('{"prompt": "q", "chosen": "a"}\n')
    with pytest.raises(RecordError, match=r"p.jsonl:1: .*rejected"):
        load_preferences(jl)
    with pytest.raises(ConfigError, match="no preference file"):
        load_preferences(tmp_path / "missing.jsonl")


def test_rows_from_any_iterable_such_as_a_hf_dataset() -> None:
    rows = [{"prompt": "\n\nHuman: hi\n\nAssistant:", "chosen": "hello", "rejected": "go away"}]
    (pair,) = list(from_rows(rows, source="hh"))
    assert pair.prompt == (Message("user", "hi"),) and pair.source == "hh"


@pytest.mark.skipif(not HH_FILE.exists(), reason=f"public data file {HH_FILE} is absent (set ALIGNKIT_DATA)")
def test_the_hh_harmless_file_imports() -> None:
    pairs, report = load_preferences(HH_FILE)
    assert report.kept == len(pairs) > 1000
    assert all(p.prompt[-1].role == "user" for p in pairs)
    assert sum(report.dropped.values()) + report.kept == sum(1 for line in HH_FILE.open() if line.strip())
