"""``harmful_answer``: does an ANSWER give substantive harmful help?

``harmful_request`` asks whether a prompt requests harm; an answer is a different text (a compliant
answer seldom repeats the request's words, a refusal often does), so scoring answers with it finds few
of them (bench/RESULTS.md, "Red-team judges"). This detector is a hashed n-gram head like the other
learned detectors (:mod:`alignkit.detectors.learned`), trained by ``scripts/train_detectors.py
harmful_answer`` on answers (``scripts/answer_data.py``): JailbreakBench attack responses with their
``jailbroken`` labels, refusals, benign answers (HaluEval, HH-RLHF) and our own harmful-help shapes and
benign look-alikes.

Operating points (recorded in the manifest, see :meth:`LearnedDetector.operating_points`): ``default``
flags at most 2% of held-out benign answers (the guard's false-positive budget); ``high_recall`` keeps
95% of held-out jailbroken answers, for red-team judging (``threshold="high_recall"``).
"""

from __future__ import annotations

from alignkit.detectors.base import detector
from alignkit.detectors.learned import LearnedDetector


@detector("harmful_answer", aliases=("harmful_output", "harmful_help", "unsafe_answer"))
class HarmfulAnswerDetector(LearnedDetector):
    """P(the answer gives substantive harmful help), calibrated on the training mix."""

    name = "harmful_answer"
    model_name = "harmful_answer"
    head = "harmful_help"
    applies_to = "output"
