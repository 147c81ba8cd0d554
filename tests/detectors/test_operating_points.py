"""Operating points of the learned detectors, and their recorded figures on held-out contrast families.

The contrast families (``scripts/contrast_data.py``) are generated, not read from the shared data, so
the figures each manifest records for its held-out families can be recomputed here from the shipped
weights: a test that the recorded numbers are what users get.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from alignkit.core.errors import ConfigError
from alignkit.detectors import get_detector
from alignkit.detectors.learned import DETECTORS, model_info
from alignkit.guard import Guard

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))
import contrast_data  # the generator lives with the training scripts

NAMES = sorted(DETECTORS)


@pytest.mark.parametrize("name", NAMES)
def test_manifest_records_default_and_high_recall(name: str) -> None:
    points = model_info(name)["operating_points"]
    default, high = points["default"]["threshold"], points["high_recall"]["threshold"]
    assert 0.0 < high <= default < 1.0
    assert get_detector(name).threshold == pytest.approx(default)
    assert get_detector(name, threshold="high_recall").threshold == pytest.approx(high)
    assert get_detector(name, threshold="default").threshold == pytest.approx(default)


def test_a_number_still_sets_the_threshold_and_the_spec_keeps_the_name() -> None:
    assert get_detector("toxicity", threshold=0.7).threshold == 0.7
    det = get_detector("jailbreak", threshold="high_recall")
    assert det.spec == "jailbreak(threshold='high_recall')"


@pytest.mark.parametrize("bad", ["loose", 1.5, -0.1, True])
def test_unknown_operating_points_and_bad_numbers_are_clear_errors(bad: object) -> None:
    with pytest.raises(ConfigError, match=r"operating point|threshold must be"):
        get_detector("toxicity", threshold=bad)


def test_rule_detectors_have_only_the_default_point() -> None:
    assert get_detector("refusal").operating_points() == {"default": get_detector("refusal").threshold}
    with pytest.raises(ConfigError, match="high_recall"):
        get_detector("banned_words", words=["x"], threshold="high_recall")


def test_guard_specs_pick_an_operating_point_by_name() -> None:
    rail = Guard.from_rail(
        '<rail version="0.1"><output><string name="r" validators="toxicity: threshold=high_recall" /></output></rail>'
    )
    assert rail.validators[0].detector.threshold == pytest.approx(
        get_detector("toxicity", threshold="high_recall").threshold
    )
    guard = Guard.from_yaml("input:\n  - {validator: harmful_request, threshold: high_recall, on_fail: refrain}\n")
    validator = guard.validators[0]
    expected = model_info("harmful_request")["operating_points"]["high_recall"]["threshold"]
    assert validator.detector.threshold == pytest.approx(expected)


@pytest.mark.parametrize("name", [n for n in NAMES if n in contrast_data.FAMILIES])
def test_recorded_contrast_figures_are_what_the_shipped_weights_give(name: str) -> None:
    recorded = model_info(name)["metrics"]["contrast_held_out"]
    det = get_detector(name)
    points = det.operating_points()
    by_family: dict[str, list[str]] = {}
    for ex in contrast_data.contrasts(name, 0, sides=("test",)):
        by_family.setdefault(ex.source, []).append(ex.text)
    assert set(by_family) == set(recorded)
    for family, texts in by_family.items():
        scores = [det.find(t).score for t in texts]
        got = {p: round(sum(s >= t for s in scores) / len(scores), 4) for p, t in sorted(points.items())}
        assert recorded[family]["n"] == len(texts), family
        assert got == recorded[family]["flagged"], family


def test_held_out_contrasts_share_no_template_or_slot_value_with_training() -> None:
    for name in contrast_data.FAMILIES:
        train = {ex.text for ex in contrast_data.contrasts(name, 0, sides=("train",))}
        test = [ex.text for ex in contrast_data.contrasts(name, 0, sides=("test",))]
        assert test and not train & set(test), name
    held = set(contrast_data._side(contrast_data.SLOTS["group"], contrast_data.SLOT_HOLDOUT, "test"))
    trained = set(contrast_data._side(contrast_data.SLOTS["group"], contrast_data.SLOT_HOLDOUT, "train"))
    assert held and trained and not held & trained
