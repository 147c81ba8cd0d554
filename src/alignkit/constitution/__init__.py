"""Layer 2: Constitutional AI (Bai et al., 2022): train a model to follow written principles.

- :mod:`~alignkit.constitution.spec`: constitutions as YAML files (principles with critique, revision,
  comparison and check requests; few-shot examples; metadata), with errors that name the line; the
  guide's five principles ship as :func:`default_constitution`;
- :mod:`~alignkit.constitution.revise`: the supervised phase, answer -> critique -> revision for N
  rounds, written as an SFT dataset plus a full trace, resumable;
- :mod:`~alignkit.constitution.feedback`: the RL phase's data, AI feedback as soft-labelled preference
  pairs (both orders asked, position bias measured), resumable;
- :mod:`~alignkit.constitution.evaluate`: per-principle rates before and after, beside attack success
  and over-refusal.

Models are passed in; training on the outputs (SFT, reward model, PPO, DPO) lives in
:mod:`alignkit.rlhf` and the ``alignkit cai`` commands glue the two together.
"""

from alignkit.constitution.evaluate import EvalConfig, EvalReport, ModelScores, Rate, evaluate_models
from alignkit.constitution.feedback import FeedbackConfig, FeedbackResult, read_verdict, run_feedback
from alignkit.constitution.prompts import choice_probs, parse_letter, parse_yes_no
from alignkit.constitution.revise import ReviseConfig, ReviseResult, mix_prompts, run_revision, summarize_trace
from alignkit.constitution.spec import (
    Constitution,
    Example,
    Principle,
    default_constitution,
    load_constitution,
    parse_constitution,
)

__all__ = [
    "Constitution",
    "EvalConfig",
    "EvalReport",
    "Example",
    "FeedbackConfig",
    "FeedbackResult",
    "ModelScores",
    "Principle",
    "Rate",
    "ReviseConfig",
    "ReviseResult",
    "choice_probs",
    "default_constitution",
    "evaluate_models",
    "load_constitution",
    "mix_prompts",
    "parse_constitution",
    "parse_letter",
    "parse_yes_no",
    "read_verdict",
    "run_feedback",
    "run_revision",
    "summarize_trace",
]
