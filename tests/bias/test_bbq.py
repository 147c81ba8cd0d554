"""BBQ: the paper's bias scores on answers whose right value is known, sampling, and the real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from alignkit.bias.bbq import BBQItem, evaluate_bbq, item_from_row, load_bbq, outcome, s_amb, s_dis, stratified_sample
from alignkit.bias.choice import Pick, format_question
from alignkit.core.errors import ConfigError, RecordError
from alignkit.providers.mock import MockModel
from tests.bias.conftest import DATA, bbq_row, needs_data


def test_item_finds_target_unknown_and_biased_answer() -> None:
    neg = item_from_row(bbq_row(0, ambiguous=True, negative=True, target_first=False), "x")
    assert (neg.target_index, neg.unknown_index, neg.biased_index) == (1, 2, 1)  # negative: the target
    nonneg = item_from_row(bbq_row(1, ambiguous=True, negative=False, target_first=False), "x")
    assert nonneg.biased_index == 0  # non-negative: the other person


def test_bad_row_names_where() -> None:
    with pytest.raises(RecordError, match=r"f\.jsonl:3"):
        item_from_row({"example_id": 1}, "f.jsonl:3")


def test_scores_follow_the_paper(bbq_dir: Path) -> None:
    items = load_bbq(bbq_dir)
    amb = [it for it in items if it.ambiguous]
    # always the biased person: s_DIS = +1, accuracy 0 in ambiguous contexts, so s_AMB = +1
    biased = [outcome(it, Pick(it.biased_index, "text", "")) for it in amb]
    assert s_dis(biased) == 1.0 and s_amb(biased) == 1.0
    # always "unknown" in ambiguous contexts: right every time, no person named: s_DIS undefined
    unknown = [outcome(it, Pick(it.unknown_index, "text", "")) for it in amb]
    assert s_dis(unknown) is None and s_amb(unknown) is None
    # always against the stereotype: -1
    anti = [
        outcome(it, Pick(next(i for i in range(3) if i not in (it.biased_index, it.unknown_index)), "text", ""))
        for it in amb
    ]
    assert s_dis(anti) == -1.0
    # unreadable answers are wrong and name nobody
    lost = outcome(amb[0], Pick(None, "unparseable", "??"))
    assert not lost.correct and not lost.non_unknown


def _always_biased(items: list[BBQItem]) -> MockModel:
    answers = {format_question(it.stem, it.options): "ABC"[it.biased_index or 0] for it in items}
    return MockModel.from_callable(lambda p: answers[p])


def test_evaluate_bbq_on_a_model_that_always_follows_the_stereotype(bbq_dir: Path) -> None:
    items = load_bbq(bbq_dir)
    result = evaluate_bbq(_always_biased(items), items)
    work = result.categories["Work"]
    assert work["ambiguous"].bias_score.value == 1.0 and work["ambiguous"].accuracy.value == 0.0
    assert work["disambiguated"].bias_score.value == 1.0
    assert result.methods["text"] == len(items) and result.no_target == 0
    assert set(result.categories) == {"Work", "all"}
    assert len(result.to_dict(answers=True)["answers"]) == len(items)


def test_unreadable_answers_are_counted_wrong_and_reported(bbq_dir: Path) -> None:
    items = load_bbq(bbq_dir)
    result = evaluate_bbq(MockModel("fixed", text="I would rather not say."), items)
    amb = result.categories["Work"]["ambiguous"]
    assert amb.unreadable == amb.n and amb.accuracy.value == 0.0 and amb.bias_score.value is None
    assert result.methods["unparseable"] == len(items)


def test_stratified_sample_balances_strata_and_is_seeded(bbq_dir: Path) -> None:
    items = load_bbq(bbq_dir)
    sample = stratified_sample(items, 8, seed=1)
    assert len(sample) == 8
    assert {(it.ambiguous, it.negative) for it in sample} == {(a, n) for a in (True, False) for n in (True, False)}
    assert sample == stratified_sample(items, 8, seed=1) != stratified_sample(items, 8, seed=2)
    assert len(stratified_sample(items, None)) == 40


def test_missing_folder_and_category_are_clear_errors(tmp_path: Path, bbq_dir: Path) -> None:
    with pytest.raises(ConfigError, match="no BBQ files"):
        load_bbq(tmp_path / "nothing")
    with pytest.raises(ConfigError, match="there are: Work"):
        load_bbq(bbq_dir, ["Age"])


@needs_data
def test_the_real_bbq_files_load_with_a_target_for_every_question() -> None:
    items = load_bbq(DATA / "bbq", ["Religion"])
    assert len(items) == 1200
    assert all(it.target_index is not None for it in items)
    assert sum(it.ambiguous for it in items) == 600
