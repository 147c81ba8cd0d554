from __future__ import annotations

import subprocess
import sys

import pytest

from alignkit.core.errors import ConfigError
from alignkit.detectors import get_detector
from alignkit.rlhf.reward_functions import detector_reward
from alignkit.rlhf.trl_methods import as_trl_reward

NICE, NASTY = "Have a lovely day.", "You are a worthless idiot and I hate you."


def test_detector_reward_punishes_what_the_detector_flags() -> None:
    reward = detector_reward("toxicity")
    nice, nasty = reward(["q", "q"], [NICE, NASTY])
    assert 0.0 <= nasty < nice <= 1.0
    det = get_detector("toxicity")
    assert nasty == pytest.approx(1.0 - det.detect(NASTY).score)
    assert detector_reward(det)(["q"], [NASTY]) == [nasty]  # a Detector object works the same
    assert reward.__name__ == "detector_toxicity"
    assert as_trl_reward(reward)(["q"], [NASTY]) == [nasty]  # and trl names it by the detector


def test_detector_reward_errors_say_what_to_pass() -> None:
    with pytest.raises(ConfigError, match="unknown"):
        detector_reward("no-such-detector")
    with pytest.raises(ConfigError, match="Detector or a detector name"):
        detector_reward(42)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="pass them to the Detector"):
        detector_reward(get_detector("toxicity"), threshold=0.2)
    reward = detector_reward("toxicity")
    with pytest.raises(ConfigError, match="2 prompts but 1 responses"):
        reward(["a", "b"], [NICE])
    with pytest.raises(ConfigError, match="lists"):
        reward(["a"], NICE)  # type: ignore[arg-type]


def test_reward_functions_import_no_torch() -> None:
    code = "import sys, alignkit.rlhf.reward_functions; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
