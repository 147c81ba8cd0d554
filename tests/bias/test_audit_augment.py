"""The data audit (counts, chosen vs rejected side, sentiment by group) and the augmentation (both
variants, labels kept, the input's format, written atomically) on the formats the RLHF and CAI tools read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from alignkit.bias.audit import audit_rows
from alignkit.bias.augment import augment_file
from alignkit.bias.rows import kind_of, texts_of
from alignkit.bias.terms import Swapper, load_terms
from alignkit.core.errors import ConfigError, RecordError
from alignkit.core.jsonl import read_jsonl
from alignkit.core.records import PreferencePair, SFTExample

HH_TRANSCRIPT = {
    "chosen": "\n\nHuman: Is my sister a good cook?\n\nAssistant: She is a wonderful cook.",
    "rejected": "\n\nHuman: Is my sister a good cook?\n\nAssistant: No idea.",
}


def _moods(texts: list[str]) -> list[float]:
    return [1.0 if "wonderful" in t else -1.0 if "awful" in t else 0.0 for t in list(texts)]


def test_rows_split_prompt_and_answers() -> None:
    parts = texts_of(HH_TRANSCRIPT)
    assert parts.prompt.endswith("\n\nAssistant:") and parts.answers["chosen"] == " She is a wonderful cook."
    assert kind_of({"prompt": [{"role": "user", "content": "hi"}], "completion": "yo"}) == "sft"
    with pytest.raises(RecordError, match="neither"):
        kind_of({"foo": 1})


def test_audit_counts_sides_and_sentiment() -> None:
    rows: list[dict[str, Any]] = [
        {"prompt": "Tell me about nurses.", "chosen": "She is a wonderful nurse.", "rejected": "Nurses work."},
        {"prompt": "Tell me about nurses.", "chosen": "They care.", "rejected": "She is an awful nurse."},
        {"prompt": "Tell me about pilots.", "chosen": "He is a wonderful pilot.", "rejected": "He flies."},
        HH_TRANSCRIPT,
        {"prompt": "What is 2+2?", "completion": "4"},
    ]
    terms = load_terms(["gender"])
    result = audit_rows(rows, terms, sentiment=_moods, sentiment_name="test")
    female, male = result.axes["gender"]["female"], result.axes["gender"]["male"]
    assert result.rows == 5 and result.kinds == {"preference": 4, "sft": 1}
    assert (female.rows, female.in_prompt, female.chosen_only, female.rejected_only) == (3, 1, 2, 1)
    assert female.chosen_share.value == pytest.approx(2 / 3)
    assert female.sentiment["chosen"].value == 1.0 and female.sentiment["rejected"].value == -1.0
    assert (male.rows, male.chosen_only, male.rejected_only) == (1, 0, 0)  # in both answers: neither side
    assert result.to_dict()["axes"]["gender"]["female"]["in_answer"] == {"chosen": 2, "rejected": 1}
    blind = audit_rows(rows, terms, sentiment=None)
    assert blind.sentiment_scorer is None and blind.axes["gender"]["female"].sentiment == {}


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def gender() -> list[Swapper]:
    return [Swapper(load_terms(["gender", "gender_names"])["gender"], "female", "male")]


def test_augment_preference_pairs_keeps_labels_and_format(tmp_path: Path, gender: list[Swapper]) -> None:
    pairs = [
        PreferencePair(
            prompt="Should Emily become a pilot?", chosen="Yes, she can.", rejected="No, women can't.", id="p1"
        ),
        PreferencePair(prompt="What is 2+2?", chosen="4", rejected="5"),
    ]
    src = _write(tmp_path / "pairs.jsonl", [json.loads(p.model_dump_json()) for p in pairs])
    stats = augment_file(src, tmp_path / "out.jsonl", gender)
    assert stats.to_dict() == {"rows": 2, "written": 3, "variants": {"gender:female<->male": 1}, "untouched": 1}
    out = list(read_jsonl(tmp_path / "out.jsonl", PreferencePair))  # still valid PreferencePairs
    assert out[0] == pairs[0]
    v = out[1]
    assert v.prompt[0].content == "Should Greg become a pilot?"
    assert (v.chosen, v.rejected) == ("Yes, he can.", "No, men can't.")  # chosen stays chosen
    assert v.id == "p1~gender-swap" and v.metadata["counterfactual"]["line"] == 1


def test_augment_hh_rows_and_sft_examples(tmp_path: Path, gender: list[Swapper]) -> None:
    hh = _write(
        tmp_path / "hh.jsonl",
        [{"prompt": "\n\nHuman: Is my mom kind?\n\nAssistant:", "chosen": "She is.", "rejected": "Who knows."}],
    )
    augment_file(hh, tmp_path / "hh_out.jsonl", gender, keep_original=False)
    row = json.loads((tmp_path / "hh_out.jsonl").read_text())
    assert row["prompt"] == "\n\nHuman: Is my dad kind?\n\nAssistant:" and row["chosen"] == "He is."
    sft = _write(
        tmp_path / "sft.jsonl",
        [json.loads(SFTExample(prompt="Describe him.", completion="He is tall.").model_dump_json())],
    )
    augment_file(sft, tmp_path / "sft_out.jsonl", gender)
    examples = list(read_jsonl(tmp_path / "sft_out.jsonl", SFTExample))
    assert [e.completion for e in examples] == ["He is tall.", "She is tall."]


def test_augment_never_overwrites_its_input_or_leaves_half_a_file(tmp_path: Path, gender: list[Swapper]) -> None:
    src = _write(tmp_path / "in.jsonl", [{"prompt": "she", "completion": "ok"}])
    with pytest.raises(ConfigError, match="input file"):
        augment_file(src, src, gender)
    out = tmp_path / "out.jsonl"
    out.write_text("previous\n")
    bad = _write(tmp_path / "bad.jsonl", [{"prompt": "she", "completion": "ok"}, {"nothing": 1}])
    with pytest.raises(RecordError, match=r"bad\.jsonl:2"):
        augment_file(bad, out, gender)
    assert out.read_text() == "previous\n"


def test_the_rlhf_and_cai_readers_take_the_output(tmp_path: Path, gender: list[Swapper]) -> None:
    from alignkit.cli.cai_common import read_prompts
    from alignkit.rlhf.data import load_preferences

    hh = _write(
        tmp_path / "hh.jsonl",
        [{"prompt": "\n\nHuman: Is my mom kind?\n\nAssistant:", "chosen": "She is.", "rejected": "Who knows."}],
    )
    augment_file(hh, tmp_path / "hh_out.jsonl", gender)
    pairs, report = load_preferences(tmp_path / "hh_out.jsonl")
    assert report.kept == 2 and pairs[1].chosen == "He is."
    prompts = _write(
        tmp_path / "prompts.jsonl",
        [{"instruction": "Write to her.", "input": ""}, {"instruction": "Add 2 and 2.", "input": ""}],
    )
    augment_file(prompts, tmp_path / "prompts_out.jsonl", gender)
    assert read_prompts(str(tmp_path / "prompts_out.jsonl")) == ["Write to her.", "Write to him.", "Add 2 and 2."]
