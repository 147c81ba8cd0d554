"""Layer 2: bias, measured and mitigated in data.

- :mod:`.bbq`, :mod:`.winobias`: the BBQ and WinoBias benchmarks on any model (multiple choice read
  from first-token log-probabilities, else from the text: :mod:`.choice`);
- :mod:`.terms`, :mod:`.counterfactual`: demographic term swaps and the paired comparison of a model's
  answers to both versions of a prompt (refusal, sentiment, toxicity, length);
- :mod:`.audit`, :mod:`.augment`: how groups appear in preference / SFT data, and counterfactually
  augmented copies of it for the RLHF and CAI tools;
- :mod:`.stats`: the intervals and paired tests; :mod:`.report`: JSON and HTML.
"""

from alignkit.bias.audit import AuditResult, audit_rows
from alignkit.bias.augment import AugmentStats, augment_file, augment_rows
from alignkit.bias.bbq import BBQItem, BBQResult, evaluate_bbq, load_bbq, score_bbq, stratified_sample
from alignkit.bias.choice import Pick, ask_choices
from alignkit.bias.counterfactual import CounterfactualResult, evaluate_counterfactuals, make_pairs
from alignkit.bias.report import BiasReport, render_html
from alignkit.bias.sentiment import SentimentScorer, vader
from alignkit.bias.terms import Swapper, TermSet, load_terms, shipped_lists
from alignkit.bias.winobias import WinoItem, WinoResult, evaluate_winobias, load_winobias, sample_pairs, score_winobias

__all__ = [
    "AuditResult",
    "AugmentStats",
    "BBQItem",
    "BBQResult",
    "BiasReport",
    "CounterfactualResult",
    "Pick",
    "SentimentScorer",
    "Swapper",
    "TermSet",
    "WinoItem",
    "WinoResult",
    "ask_choices",
    "audit_rows",
    "augment_file",
    "augment_rows",
    "evaluate_bbq",
    "evaluate_counterfactuals",
    "evaluate_winobias",
    "load_bbq",
    "load_terms",
    "load_winobias",
    "make_pairs",
    "render_html",
    "sample_pairs",
    "score_bbq",
    "score_winobias",
    "shipped_lists",
    "stratified_sample",
    "vader",
]
