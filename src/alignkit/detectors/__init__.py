"""Layer 1: detectors, the shared classifiers behind guard validators, red-team judges and RL rewards.

Build one by name with :func:`get_detector` (``get_detector("pii")``); list them with ``detectors``.
Every detector is offline and CPU-fast; see each module for what it finds.
"""

from alignkit.detectors.arguments import get_detector
from alignkit.detectors.base import (
    MAX_TEXT_CHARS,
    Detector,
    DetectorFactory,
    Finding,
    detector,
    detectors,
)
from alignkit.detectors.normalize import normalize, variants
from alignkit.detectors.pii import Vault, redact

__all__ = [
    "MAX_TEXT_CHARS",
    "Detector",
    "DetectorFactory",
    "Finding",
    "Vault",
    "detector",
    "detectors",
    "get_detector",
    "normalize",
    "redact",
    "variants",
]
