"""A validator's measured quality, read from the manifests shipped with its detector; never estimated.

* n-gram heads (``jailbreak``, ``toxicity``, ``prompt_injection``, ``harmful_request``, ``harmful_answer``):
  the held-out figures recorded at the default threshold; at another named operating point, that
  point's recorded figures; at a threshold of the spec's own, "not measured at that threshold".
* encoder heads and cascades (``*_encoder``, ``*_cascade``): the operating point's out-of-fold figures
  recorded in the encoder manifest (there is no held-out row for them at the shipped threshold).
* ``pii``: the name and street-address tagger's held-out figures; its patterns (e-mail, phone, cards,
  ...) are not measured.
* ``grounded``: the lexical scorer's figures on HaluEval QA (its tuning set) and PubMedQA (held out),
  written by ``bench/bench_grounding.py``.
* everything else (patterns, rules, judges that call a model): "not measured".

The n-gram heads' figures are same-source (other rows of the sources they were trained on) and say so;
out-of-source figures, which are lower, are in bench/RESULTS.md ("generalization"). The tagger's are on
template families it never saw.
"""

from __future__ import annotations

import json
from typing import Any

from alignkit.core.errors import ConfigError
from alignkit.detectors import detectors
from alignkit.detectors.encoder import CascadeDetector, EncoderDetector, manifest_info
from alignkit.detectors.grounded import GROUNDING_MANIFEST, GroundedDetector
from alignkit.detectors.learned import model_info
from alignkit.detectors.pii_tagger import WEIGHTS as PII_TAGGER_MANIFEST

NOT_MEASURED = "not measured"
HELD_OUT = ("precision", "recall", "fpr", "auroc")


def quality(validator: str, threshold: float | str | None) -> tuple[str, dict[str, Any]]:
    """What is measured of ``validator`` at ``threshold`` (None: its default): one line, and the figures."""
    factory = detectors.get(validator)
    try:
        if isinstance(factory, type) and issubclass(factory, EncoderDetector | CascadeDetector):
            return _encoder(factory, threshold)
        model_name = getattr(factory, "model_name", None)
        if isinstance(model_name, str):
            return _ngram(model_name, threshold)
        if validator == "pii":
            return _pii()
        if factory is GroundedDetector:
            return _grounded()
    except (ConfigError, OSError, ValueError, KeyError, TypeError) as e:
        return f"{NOT_MEASURED}: its manifest could not be read ({e})", {}
    return f"{NOT_MEASURED} (rule-based or model-backed: no shipped figures)", {}


def _figures(d: dict[str, Any], keys: tuple[str, ...]) -> str:
    return ", ".join(f"{k} {d[k]:.3g}" for k in keys if isinstance(d.get(k), int | float))


def _ngram(name: str, threshold: float | str | None) -> tuple[str, dict[str, Any]]:
    info = model_info(name)
    metrics, points = info.get("metrics") or {}, info.get("operating_points") or {}
    default = points.get("default", {}).get("threshold", metrics.get("threshold"))
    if threshold in (None, "default") or threshold == default:
        held = metrics.get("held_out") or {}
        text = f"same-source held-out (n={held.get('n')}) at threshold {default}: {_figures(held, HELD_OUT)}"
        return text, {"threshold": default, "held_out": {k: held.get(k) for k in ("n", *HELD_OUT)}}
    return _named_point(points, threshold, "recorded")


def _named_point(points: dict[str, Any], threshold: float | str | None, how: str) -> tuple[str, dict[str, Any]]:
    """The figures of the operating point ``threshold`` names (or whose threshold it is)."""
    for name, point in points.items():
        if isinstance(point, dict) and threshold in (name, point.get("threshold")):
            figures = {k: v for k, v in point.items() if isinstance(v, int | float)}
            shown = ", ".join(f"{k} {v:.3g}" for k, v in figures.items() if k != "threshold")
            return f"{name} operating point ({how}, threshold {point.get('threshold')}): {shown}", figures
    return f"{NOT_MEASURED} at threshold {threshold} (the manifest records {', '.join(points)})", {}


def _encoder(
    factory: type[EncoderDetector] | type[CascadeDetector], threshold: float | str | None
) -> tuple[str, dict[str, Any]]:
    head = manifest_info()["heads"][factory.base]
    points = head["cascade"]["operating_points"] if issubclass(factory, CascadeDetector) else head["operating_points"]
    return _named_point(points, "default" if threshold is None else threshold, "out-of-fold")


def _grounded() -> tuple[str, dict[str, Any]]:
    m = json.loads(GROUNDING_MANIFEST.read_text())
    tuned, held = m["halueval_qa"], m["pubmedqa_misattributed"]
    text = (
        f"{m['scorer']} scorer at min_support {m['min_support']}: HaluEval QA (tuning set) "
        f"{_figures(tuned, ('auroc', 'tpr', 'fpr'))}; PubMedQA misattributed conclusions (held out) "
        f"{_figures(held, ('auroc', 'tpr', 'fpr'))}"
    )
    return text, {"halueval_qa": tuned, "pubmedqa_misattributed": held}


def _pii() -> tuple[str, dict[str, Any]]:
    manifest = json.loads(PII_TAGGER_MANIFEST.read_text())
    held = manifest["metrics"]["held_out_families"]["detector"]
    parts = [f"{cls} precision {v['p']:.3g}, recall {v['r']:.3g}" for cls, v in sorted(held.items())]
    found = "; ".join(parts)
    text = (
        f"names and addresses, held-out template families: {found}; patterns (e-mail, phone, cards, ...) {NOT_MEASURED}"
    )
    return text, {cls: {"precision": v["p"], "recall": v["r"]} for cls, v in held.items()}
