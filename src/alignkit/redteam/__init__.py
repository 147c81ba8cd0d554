"""Layer 2: red teaming. Systematic attack scans of any model, with judges whose verdicts can be trusted.

- probes (what to ask, by hazard category, with benign look-alikes), loaders for public sets;
- converters (how to disguise it), stackable;
- attacks, registered like converters (``@attack``): static (probes x converters), multi-turn
  escalation (crescendo), attacker-model refinement (PAIR);
- the judge: refusal + harm detectors (+ an LLM rubric grader, ``RubricGrader``), never fooled by
  empty, echoed or failed answers;
- the engine, the one driver for every attack: async, concurrent, resumable, stored in SQLite as
  results arrive;
- reports: rates with confidence intervals over judged attempts (errors, empty answers and unreadable
  grades counted apart), HTML, JSON, JUnit XML, SARIF, run diffs;
- the CI gate (``check_gate``): fails when attack success is too high *or could not be measured*.

The registries ``converters`` and ``attacks`` share their names with the modules that fill them; both
modules are imported here first, so a later import of them (plugin discovery) cannot rebind the
package's ``converters`` or ``attacks`` to the module.
"""

import alignkit.redteam.converters  # noqa: F401 (see the docstring's last paragraph)
from alignkit.redteam.attacks import Crescendo, Pair, Static
from alignkit.redteam.base import (
    CATEGORIES,
    Attack,
    AttackConfig,
    Attempt,
    Converter,
    Outcome,
    Probe,
    Session,
    Stack,
    attack,
    attacks,
    attempt_key,
    converter,
    converters,
    get_attack,
    get_converter,
    parse_stack,
)
from alignkit.redteam.engine import ScanConfig, ScanResult, attempt_row, plan, run_scan
from alignkit.redteam.gate import GateConfig, GateResult, check_gate
from alignkit.redteam.guide import VulnerabilityLog, is_harmful, judge_response, log_vulnerability
from alignkit.redteam.judge import Judge, Judgement, RubricGrader, strip_echo
from alignkit.redteam.loaders import load_probes
from alignkit.redteam.probes import builtin_probes, sample_probes
from alignkit.redteam.report import diff, to_html, to_json, to_junit, to_sarif
from alignkit.redteam.store import AttemptRow, RunStore
from alignkit.redteam.summary import Counts, Rate, Summary, summarize, wilson

__all__ = [
    "CATEGORIES",
    "Attack",
    "AttackConfig",
    "Attempt",
    "AttemptRow",
    "Converter",
    "Counts",
    "Crescendo",
    "GateConfig",
    "GateResult",
    "Judge",
    "Judgement",
    "Outcome",
    "Pair",
    "Probe",
    "Rate",
    "RubricGrader",
    "RunStore",
    "ScanConfig",
    "ScanResult",
    "Session",
    "Stack",
    "Static",
    "Summary",
    "VulnerabilityLog",
    "attack",
    "attacks",
    "attempt_key",
    "attempt_row",
    "builtin_probes",
    "check_gate",
    "converter",
    "converters",
    "diff",
    "get_attack",
    "get_converter",
    "is_harmful",
    "judge_response",
    "load_probes",
    "log_vulnerability",
    "parse_stack",
    "plan",
    "run_scan",
    "sample_probes",
    "strip_echo",
    "summarize",
    "to_html",
    "to_json",
    "to_junit",
    "to_sarif",
    "wilson",
]
