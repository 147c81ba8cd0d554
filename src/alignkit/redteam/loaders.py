"""Load probes from CSV or JSONL files: public red-team sets through named presets, or any file through a
column mapping.

>>> probes = load_probes("harmful_behaviors.csv")                      # doctest: +SKIP
>>> probes = load_probes("mine.csv", prompt_column="text", category="cyber")  # doctest: +SKIP

Presets are chosen with ``format=`` or detected from the header. Each maps the source's own labels onto
alignkit's hazard categories (:data:`~alignkit.redteam.base.CATEGORIES`); the source's label is kept in
``metadata["source_category"]`` so nothing is lost.

======================  ===========================================  ====================================
preset                  file and columns                             mapping
======================  ===========================================  ====================================
``advbench``            ``harmful_behaviors.csv``: goal, target      no categories in the source: guessed
                                                                     from the goal (:func:`guess_category`)
``harmbench``           HarmBench behaviors CSV: Behavior,           SemanticCategory (``HARMBENCH``);
                        FunctionalCategory, SemanticCategory,        ContextString is put before the
                        Tags, ContextString, BehaviorID              behaviour as HarmBench does
``jailbreakbench``      ``jbb_behaviors_harmful.csv``: Index, Goal,  Category (``JAILBREAKBENCH``), a few
                        Behavior, Category                           behaviours moved (``JBB_BEHAVIORS``)
``xstest``              XSTest prompts CSV: id, prompt, type,        label safe -> comply, unsafe ->
                        label (focus, note)                          refuse; category by type, else guessed
``forbidden_questions`` ``forbidden_question_set.csv``:              content_policy_name (``FORBIDDEN``)
                        content_policy_name, q_id, question
======================  ===========================================  ====================================

Without a preset, ``prompt_column`` names the text (default: the first of ``prompt``, ``text``,
``question``, ``goal``, ``behavior``, ``instruction``); the category is ``category=`` (one for all rows, or
``"auto"`` to guess from each prompt) or ``category_column=`` (values that are alignkit categories, or
mapped with ``category_map=``). Explicit arguments override a preset's columns.

Ids are ``<file stem>.<id column value>``, or ``<file stem>.<row number>`` (1-based, header excluded)
when the file has no id column, so they are stable as long as the file is. Rows with an empty prompt
are skipped.
"""

from __future__ import annotations

import csv
import difflib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from alignkit.core.errors import ConfigError
from alignkit.redteam.base import CATEGORIES, Expected, Probe, Severity, check_category

Row = dict[str, Any]

# -- category mappings (documented in the module docstring) -----------------------------------------
# A value "guess:X" means: guess the category from the prompt (guess_category), falling back to X.
# HarmBench SemanticCategory. "illegal" and "harmful" are broad: the category is guessed from the text.
# Copyright behaviours (reproduce song lyrics or book passages) have no hazard category of their own
# here; they count as non-violent crime with low severity.
HARMBENCH: dict[str, str] = {
    "chemical_biological": "weapons",
    "cybercrime_intrusion": "cyber",
    "harassment_bullying": "hate",
    "misinformation_disinformation": "misinformation",
    "copyright": "nonviolent_crime",
    "illegal": "guess:nonviolent_crime",
    "harmful": "guess:violent_crime",
}
# JailbreakBench Category. "Expert advice" (unqualified medical, legal, financial advice) goes with
# misinformation, as OWASP LLM09 covers misrepresented expertise; behaviours that fit another of our
# categories better are moved by JBB_BEHAVIORS.
JAILBREAKBENCH: dict[str, str] = {
    "Harassment/Discrimination": "hate",
    "Malware/Hacking": "cyber",
    "Physical harm": "violent_crime",
    "Economic harm": "nonviolent_crime",
    "Fraud/Deception": "nonviolent_crime",
    "Disinformation": "misinformation",
    "Sexual/Adult content": "sexual",
    "Privacy": "privacy",
    "Expert advice": "misinformation",
    "Government decision-making": "nonviolent_crime",
}
JBB_BEHAVIORS: dict[str, str] = {
    "Bomb building": "weapons",
    "Nuclear weapons": "weapons",
    "Suicide": "self_harm",
    "Eating disorder": "self_harm",
    "Ethnic genocide": "hate",
    "Election influencing": "cyber",
    "Copyright circumvention": "nonviolent_crime",
    "Opiods prescription": "nonviolent_crime",  # sic: JailbreakBench's spelling
    "Black market organs": "nonviolent_crime",
    "Emissions test evasion": "nonviolent_crime",
}
# forbidden_question_set.csv content_policy_name (the 13 OpenAI usage-policy areas of "Do Anything Now",
# Shen et al. 2024). The four advice and lobbying areas ask for unqualified expertise or political
# campaigning rather than harm: they go with misinformation (OWASP LLM09) at low severity.
FORBIDDEN: dict[str, str] = {
    "Illegal Activity": "guess:nonviolent_crime",
    "Hate Speech": "hate",
    "Malware": "cyber",
    "Physical Harm": "guess:violent_crime",
    "Economic Harm": "nonviolent_crime",
    "Fraud": "guess:nonviolent_crime",
    "Pornography": "sexual",
    "Political Lobbying": "misinformation",
    "Privacy Violence": "privacy",
    "Legal Opinion": "misinformation",
    "Financial Advice": "misinformation",
    "Health Consultation": "misinformation",
    "Gov Decision": "guess:nonviolent_crime",
}
_FORBIDDEN_LOW = {"Political Lobbying", "Legal Opinion", "Financial Advice", "Health Consultation", "Economic Harm"}
# XSTest prompt types whose category is clear; the others (homonyms, figurative language, safe
# targets and contexts, definitions, historical events) are guessed from the text.
XSTEST_TYPES: dict[str, str] = {
    "privacy_public": "privacy",
    "privacy_fictional": "privacy",
    "privacy": "privacy",
    "real_group_nons_discr": "hate",
    "nons_group_real_discr": "hate",
    "discr": "hate",
}

# Keyword rules for :func:`guess_category`, tried in order; the first that matches wins.
_GUESS_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (c, re.compile(p, re.IGNORECASE))
    for c, p in (
        ("self_harm", r"suicid(?!e (?:vest|bomb))|self[- ]?harm|self-inflicted|harm (?:your|them|him|her)sel|"
         r"\bcutting\b|anorexi|bulimi|eating disorder|starv(?:e|ing) (?:your|my|one)sel"),
        ("sexual", r"sexual|\bsex\b|porn|explicit|\bnudes?\b|nudity|erotic|prostitut|sexting"),
        ("weapons", r"\bbombs?\b|explosive|weapon|firearm|\bguns?\b|ammunition|nerve agent|bioweapon|biological|"
         r"nuclear|radioactive|anthrax|sarin|\barms\b|silencer|military-grade"),
        ("cyber", r"hack|malware|virus|ransomware|vulnerabilit|phishing|ddos|denial.of.service|botnet|keylog|"
         r"trojan|spyware|\bworms?\b|password|cyber(?!bull)|sql injection|backdoor|rootkit|antivirus|firewall|"
         r"computer system|\bcrack(?:ing)? (?:a |the )?(?:\w+ )?(?:password|software|wi-?fi)|\bdrm\b"),
        ("hate", r"\bhate|hatred|racis|racial|discriminat|ethnic|minorit|religio|xenophob|sexis|homophob|"
         r"transphob|antisemit|\bnazi|supremac|\bslurs?\b|harass|bull(?:y|ie)"),
        ("misinformation", r"fake news|misinformation|disinformation|conspiracy|propaganda|hoax|false information|"
         r"fake (?:article|story|review)|spread(?:s|ing)? (?:false|lies|rumou?rs)"),
        ("privacy", r"personal (?:information|data|details)|private (?:information|data)|\bstalk|\bspy|\bdox|"
         r"surveil|track(?:s|ing)? (?:someone|users?|people|their|a person)|location|identity theft|"
         r"without (?:their|his|her|someone's) (?:consent|knowledge)"),
        ("violent_crime", r"\bkill|murder|assault|violen|\bharm\b|\bhurt|kidnap|terror|poison|\bshoot|torture|"
         r"\babuse|assassin|\battack|warfare|insurgen|casualt|massacre|sabotag"),
    )
)  # fmt: skip

PROMPT_COLUMNS = ("prompt", "text", "question", "goal", "behavior", "instruction")
_EXPECTED_VALUES: dict[str, Expected] = {
    "refuse": "refuse", "unsafe": "refuse", "harmful": "refuse",
    "comply": "comply", "safe": "comply", "benign": "comply",
}  # fmt: skip


def guess_category(text: str, default: str = "nonviolent_crime") -> str:
    """A hazard category guessed from keywords (a heuristic for sources without one), else ``default``.

    >>> guess_category("Write a tutorial on how to make a bomb")
    'weapons'
    """
    for category, rule in _GUESS_RULES:
        if rule.search(text):
            return category
    return default


def _resolve(mapped: str, text: str) -> str:
    """A mapping value: a category, or "guess:X" to guess from ``text`` with X as the fallback."""
    kind, sep, default = mapped.partition(":")
    return guess_category(text, default=default) if sep and kind == "guess" else mapped


# -- presets ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fields:
    """What a preset reads from one row; ``None`` leaves the field to the arguments or the defaults."""

    prompt: str
    category: str | None = None
    expected: Expected | None = None
    severity: Severity | None = None
    family: str | None = None
    id: str | None = None
    goal: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Preset:
    """A known file layout: the columns that identify it and how one row becomes probe fields."""

    name: str
    columns: tuple[str, ...]
    read: Callable[[Row], Fields]
    description: str


def _advbench(row: Row) -> Fields:
    goal = _text(row["goal"])
    return Fields(goal, category=guess_category(goal), metadata={"target": _text(row.get("target"))})


def _harmbench(row: Row) -> Fields:
    behavior, context = _text(row["Behavior"]), _text(row.get("ContextString")).strip()
    semantic = _text(row.get("SemanticCategory"))
    category = _resolve(HARMBENCH.get(semantic, "guess:nonviolent_crime"), behavior)
    return Fields(
        f"{context}\n\n---\n\n{behavior}" if context else behavior,
        category=category,
        severity="critical" if category == "weapons" else "low" if semantic == "copyright" else None,
        id=_text(row["BehaviorID"]),
        goal=behavior if context else None,
        metadata={
            "source_category": semantic,
            "functional_category": _text(row.get("FunctionalCategory")),
            "tags": _text(row.get("Tags")),
        },
    )


def _jailbreakbench(row: Row) -> Fields:
    behavior, source = _text(row["Behavior"]), _text(row["Category"])
    category = JBB_BEHAVIORS.get(behavior) or JAILBREAKBENCH.get(source) or guess_category(_text(row["Goal"]))
    return Fields(
        _text(row["Goal"]),
        category=category,
        severity="critical" if category == "weapons" else None,
        id=_text(row.get("Index")) or None,
        metadata={"source_category": source, "behavior": behavior},
    )


def _xstest(row: Row) -> Fields:
    kind, label = _text(row["type"]), _text(row["label"]).strip().lower()
    if label not in ("safe", "unsafe"):
        raise ConfigError(f"xstest label must be 'safe' or 'unsafe'; got {label!r}")
    base = kind.removeprefix("contrast_")
    prompt = _text(row["prompt"])
    return Fields(
        prompt,
        category=XSTEST_TYPES.get(base) or guess_category(prompt, default="violent_crime"),
        expected="comply" if label == "safe" else "refuse",
        family=f"xstest.{base}",
        id=_text(row.get("id")) or None,
        metadata={"source_category": kind, "focus": _text(row.get("focus"))},
    )


def _forbidden_questions(row: Row) -> Fields:
    policy, question = _text(row["content_policy_name"]), _text(row["question"])
    return Fields(
        question,
        category=_resolve(FORBIDDEN.get(policy, "guess:nonviolent_crime"), question),
        severity="low" if policy in _FORBIDDEN_LOW else None,
        id=f"{_text(row.get('content_policy_id'))}-{_text(row.get('q_id'))}" if row.get("q_id") else None,
        metadata={"source_category": policy},
    )


# Detection tries these in order; the first whose columns are all in the header wins.
PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("harmbench", ("Behavior", "BehaviorID"), _harmbench, "HarmBench behaviors CSV"),
        Preset("jailbreakbench", ("Goal", "Behavior", "Category"), _jailbreakbench, "JailbreakBench behaviors"),
        Preset("xstest", ("prompt", "type", "label"), _xstest, "XSTest prompts (safe and unsafe)"),
        Preset("forbidden_questions", ("content_policy_name", "question"), _forbidden_questions,
               "jailbreak-llms forbidden question set"),
        Preset("advbench", ("goal", "target"), _advbench, "AdvBench harmful_behaviors.csv"),
    )
}  # fmt: skip


def detect_format(columns: list[str]) -> str | None:
    """The preset whose columns the header has, or None."""
    have = set(columns)
    return next((name for name, p in PRESETS.items() if set(p.columns) <= have), None)


# -- loading ----------------------------------------------------------------------------------------
def load_probes(
    path: str | Path,
    *,
    format: str | None = None,
    prompt_column: str | None = None,
    category_column: str | None = None,
    category: str | None = None,
    expected: Expected = "refuse",
    id_column: str | None = None,
    limit: int | None = None,
    category_map: Mapping[str, str] | None = None,
    expected_column: str | None = None,
) -> list[Probe]:
    """Probes from a CSV (``.csv``, ``.tsv``) or JSON Lines (``.jsonl``, ``.ndjson``, ``.json``) file.

    ``format``: a preset name (see the module docstring), ``"auto"``/None to detect one from the header,
    or ``"custom"`` to use only the column arguments. ``category``: one category for every row, or
    ``"auto"`` to guess it from each prompt. ``expected``: the behaviour expected of a safe model where the
    file does not say (``expected_column`` values: refuse/unsafe/harmful or comply/safe/benign).
    """
    path = Path(path)
    if expected not in ("refuse", "comply"):
        raise ConfigError(f"expected must be 'refuse' or 'comply'; got {expected!r}")
    if limit is not None and limit < 0:
        raise ConfigError(f"limit must be >= 0; got {limit}")
    if category is not None and category != "auto":
        check_category(category)
    rows, columns = read_rows(path)
    preset = _choose_preset(format, columns, path)
    for name in (prompt_column, category_column, id_column, expected_column):
        if name is not None and name not in columns:
            raise _missing_column(path, name, columns)
    if preset is None:
        prompt_column = prompt_column or _default_prompt_column(path, columns)
        if category is None and category_column is None:
            raise ConfigError(
                f"{path}: say which hazard category the probes test: category='cyber' (one of "
                f"{', '.join(CATEGORIES)}), category='auto' to guess from each prompt, or category_column=..."
            )
    stem = re.sub(r"[^a-z0-9_-]+", "_", path.stem.lower()).strip("_") or "probes"
    probes: list[Probe] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows, 1):
        if limit is not None and len(probes) >= limit:
            break
        where = f"{path} row {number}"
        fields = _read(preset, row, where) if preset else Fields("")
        prompt = _text(row.get(prompt_column)) if prompt_column else fields.prompt
        if not prompt.strip():
            continue
        if category == "auto":
            cat = guess_category(prompt)
        elif category is not None:
            cat = category
        elif category_column is not None:
            cat = _map_category(_text(row.get(category_column)), category_map, where)
        else:
            cat = check_category(fields.category or "")
        want = _expected(row, expected_column, where) if expected_column else fields.expected or expected
        raw_id = _text(row.get(id_column)) if id_column else fields.id
        probe_id = f"{stem}.{raw_id.strip() if raw_id and raw_id.strip() else number}"
        if probe_id in seen:
            raise ConfigError(f"{where}: id {probe_id!r} repeats row {seen[probe_id]}; pick another id_column")
        seen[probe_id] = number
        metadata = {"row": number, **({"format": preset.name} if preset else {}), **fields.metadata}
        probes.append(
            Probe(
                id=probe_id,
                prompt=prompt,
                category=cat,
                severity=fields.severity or ("low" if want == "comply" else "high"),
                expected=want,
                family=fields.family,
                goal=fields.goal,
                source=str(path),
                metadata={k: v for k, v in metadata.items() if v not in (None, "")},
            )
        )
    return probes


def read_rows(path: Path) -> tuple[list[Row], list[str]]:
    """The rows of a CSV/TSV or JSONL/JSON file, and its column names (JSON: the union, in order)."""
    if not path.is_file():
        raise ConfigError(f"probe file {path} does not exist")
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path} is not UTF-8 text ({e})") from None
    if suffix in (".csv", ".tsv"):
        try:
            reader = csv.DictReader(text.splitlines(keepends=True), delimiter="\t" if suffix == ".tsv" else ",")
            rows: list[Row] = list(reader)
        except csv.Error as e:
            raise ConfigError(f"{path}: not a valid CSV file ({e})") from None
        return rows, list(reader.fieldnames or [])
    if suffix in (".jsonl", ".ndjson", ".json"):
        rows = _json_rows(path, text)
        columns = list(dict.fromkeys(k for r in rows for k in r))
        return rows, columns
    raise ConfigError(f"{path}: unsupported file type {suffix!r}; use .csv, .tsv, .jsonl or .json")


def _json_rows(path: Path, text: str) -> list[Row]:
    if path.suffix.lower() == ".json" and text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"{path}: not valid JSON ({e})") from None
        items = list(enumerate(data, 1))
    else:
        items = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    items.append((lineno, json.loads(line)))
                except json.JSONDecodeError as e:
                    raise ConfigError(f"{path}:{lineno}: not a JSON object ({e.msg})") from None
    for where, item in items:
        if not isinstance(item, dict):
            raise ConfigError(f"{path}:{where}: expected a JSON object, got {type(item).__name__}")
    return [cast(Row, item) for _, item in items]


def _choose_preset(format: str | None, columns: list[str], path: Path) -> Preset | None:
    if format is None or format == "auto":
        name = detect_format(columns)
        return PRESETS[name] if name else None
    if format == "custom":
        return None
    preset = PRESETS.get(format.strip().lower())
    if preset is None:
        raise ConfigError(f"unknown probe file format {format!r}; known: {', '.join(PRESETS)}, auto, custom")
    missing = [c for c in preset.columns if c not in columns]
    if missing:
        raise ConfigError(
            f"{path} does not look like {preset.name} ({preset.description}): it lacks the column(s) "
            f"{', '.join(missing)}; available columns: {', '.join(columns) or '(none)'}"
        )
    return preset


def _read(preset: Preset, row: Row, where: str) -> Fields:
    try:
        return preset.read(row)
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None


def _default_prompt_column(path: Path, columns: list[str]) -> str:
    lowered = {c.lower(): c for c in columns}
    for name in PROMPT_COLUMNS:
        if name in lowered:
            return lowered[name]
    raise ConfigError(
        f"{path}: which column holds the prompt? Pass prompt_column=...; "
        f"available columns: {', '.join(columns) or '(none)'}"
    )


def _missing_column(path: Path, name: str, columns: list[str]) -> ConfigError:
    close = difflib.get_close_matches(name, columns, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"{path} has no column {name!r}.{hint} Available columns: {', '.join(columns) or '(none)'}")


def _map_category(value: str, mapping: Mapping[str, str] | None, where: str) -> str:
    value = value.strip()
    if mapping and value in mapping:
        return check_category(mapping[value])
    key = re.sub(r"[\s\-/]+", "_", value.lower())
    if key in CATEGORIES:
        return key
    raise ConfigError(
        f"{where}: category {value!r} is not an alignkit category ({', '.join(CATEGORIES)}); "
        f"map it with category_map={{{value!r}: 'cyber', ...}} or pass category='auto'"
    )


def _expected(row: Row, column: str, where: str) -> Expected:
    value = _text(row.get(column)).strip().lower()
    if value not in _EXPECTED_VALUES:
        raise ConfigError(f"{where}: {column}={value!r} is not one of {', '.join(_EXPECTED_VALUES)} (refuse/comply)")
    return _EXPECTED_VALUES[value]


def _text(value: Any) -> str:
    """A cell as text: CSV cells are strings already; JSON numbers and lists are written out."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value) if isinstance(value, dict | list) else str(value)
