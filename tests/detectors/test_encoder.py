"""The encoder tier: all-MiniLM-L6-v2 from the wheel, its heads, and the cascade's band."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import pytest

from alignkit.core.errors import ConfigError, MissingDependencyError
from alignkit.detectors import encoder as enc
from alignkit.detectors import get_detector
from alignkit.detectors.base import Detector, Finding
from alignkit.detectors.learned import DETECTORS


def _installed() -> bool:
    try:
        enc.encoder_dir()
    except FileNotFoundError:
        return False
    return True


needs_wheel = pytest.mark.skipif(not _installed(), reason=f"the encoder wheel is not installed ({enc.INSTALL_HINT})")


@pytest.fixture(scope="module")
def encoder() -> enc.Encoder:
    pytest.importorskip("torch")
    return enc.shared_encoder()


@needs_wheel
def test_loads_from_the_wheel_offline(encoder: enc.Encoder) -> None:
    assert encoder.path.name == "model" and encoder.path.parent.name == enc.ENCODER_PACKAGE
    assert encoder.model.config.hidden_size == 384
    assert encoder.config == enc.encoder_config()  # inference windows as the heads were trained


@needs_wheel
def test_embeddings_are_deterministic_unit_vectors_whatever_the_batch(encoder: enc.Encoder) -> None:
    texts = ["You are all worthless.", "Thanks for the lovely dinner last night, see you soon!"]
    a = encoder.embed_ids([encoder.windows(t)[0] for t in texts])
    b = encoder.embed_ids([encoder.windows(texts[1])[0]])  # alone: no padding
    assert a.shape == (2, 384)
    assert a.norm(dim=-1).sub(1).abs().max() < 1e-5
    assert (a[1] - b[0]).abs().max() < 1e-5
    assert (encoder.embed_ids([encoder.windows(t)[0] for t in texts]) - a).abs().max() == 0


@needs_wheel
def test_long_texts_are_cut_into_bounded_windows(encoder: enc.Encoder) -> None:
    cfg = encoder.config
    wins = encoder.windows("word " * 2000)
    assert len(wins) == cfg.max_windows
    assert all(len(w) <= cfg.window for w in wins)
    assert len(encoder.windows("short prompt")) == 1


class FakeEmbedder:
    """Counts the texts it is asked to embed; every window is the head's own direction."""

    def __init__(self, direction: Sequence[float]) -> None:
        self.direction = list(direction)
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> list[list[list[float]]]:
        self.texts += texts
        return [[self.direction] for _ in texts]


class FixedScores(Detector):
    """An n-gram stand-in whose score is looked up by text."""

    name = "fixed"

    def __init__(self, scores: dict[str, float]) -> None:
        super().__init__()
        self.scores = scores

    def find(self, text: str) -> Finding:
        return Finding(score=self.scores[text], reason="fixed")


def _heads() -> list[str]:
    try:
        return sorted(enc.load_heads())
    except ConfigError:
        return []


TRAINED = _heads()


@pytest.mark.parametrize("name", TRAINED)
def test_the_cascade_asks_the_encoder_only_inside_the_band(name: str) -> None:
    head = enc.load_heads()[name]
    low, high = head.band.low, head.band.high
    scores = {"below": low / 2, "at_low": low, "middle": (low + high) / 2, "at_high": high}
    if high < 1.0:
        scores["above"] = (high + 1.0) / 2
    fake = FakeEmbedder(head.weights)
    cascade = get_detector(f"{name}_cascade", embedder=fake, ngram=FixedScores(scores))
    found = {t: cascade.find(t) for t in scores}
    assert sorted(fake.texts) == sorted(t for t, s in scores.items() if low <= s <= high)
    assert found["below"].score == scores["below"]
    assert "encoder" in found["middle"].reason
    assert cascade.encoder_calls == len(fake.texts)


def test_every_learned_detector_has_a_head() -> None:
    assert sorted(DETECTORS) == TRAINED


def test_cascade_names_compose_and_use_their_own_threshold() -> None:
    head = enc.load_heads()["toxicity"]
    det = get_detector("toxicity_cascade", embedder=FakeEmbedder(head.weights))
    assert det.spec == "toxicity_cascade"
    assert det.threshold == pytest.approx(head.cascade_thresholds["default"])
    assert get_detector("jailbreak_cascade", embedder=FakeEmbedder(head.weights)).applies_to == "input"


@needs_wheel
@pytest.mark.parametrize("name", TRAINED)
def test_recorded_scores_reproduce(name: str, encoder: enc.Encoder) -> None:
    recorded = enc.manifest_info()["heads"][name]["recorded_sample"]
    det = get_detector(f"{name}_encoder", embedder=encoder)
    got = [f.score for f in det.find_batch([r["text"] for r in recorded])]
    assert got == pytest.approx([r["encoder"] for r in recorded], abs=2e-3)


def test_missing_torch_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"alignkit\[hf\]"):
        get_detector("toxicity_cascade")
