"""Layer 2: red teaming. Systematic attack scans of any model, with judges whose verdicts can be trusted.

- probes (what to ask, by hazard category, with benign look-alikes), loaders for public sets;
- converters (how to disguise it), stackable;
- attacks: static (probes x converters), multi-turn escalation, attacker-model refinement;
- the judge: refusal + harm detectors (+ an LLM rubric), never fooled by empty, echoed or failed answers;
- the engine: async, concurrent, resumable, stored in SQLite as results arrive;
- reports: rates with confidence intervals, HTML, JSON, JUnit XML, SARIF, run diffs.
"""

from alignkit.redteam.base import CATEGORIES, Converter, Probe, Stack, converter, converters, get_converter, parse_stack
from alignkit.redteam.converters import all_converters
from alignkit.redteam.engine import Attempt, ScanConfig, ScanResult, attempt_key, plan, run_scan
from alignkit.redteam.guide import VulnerabilityLog, is_harmful, judge_response, log_vulnerability
from alignkit.redteam.judge import Judge, Judgement, RubricJudge, strip_echo
from alignkit.redteam.loaders import load_probes
from alignkit.redteam.probes import builtin_probes, sample_probes
from alignkit.redteam.report import Summary, diff, summarize, to_html, to_json, to_junit, to_sarif, wilson
from alignkit.redteam.store import AttemptRow, RunStore

__all__ = [
    "CATEGORIES",
    "Attempt",
    "AttemptRow",
    "Converter",
    "Judge",
    "Judgement",
    "Probe",
    "RubricJudge",
    "RunStore",
    "ScanConfig",
    "ScanResult",
    "Stack",
    "Summary",
    "VulnerabilityLog",
    "all_converters",
    "attempt_key",
    "builtin_probes",
    "converter",
    "converters",
    "diff",
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
