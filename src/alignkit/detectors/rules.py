"""Rule validators: a regular expression, banned words and competitors, length, JSON and JSON Schema.

User-supplied patterns run on the ``regex`` engine with a time limit, because a pattern such as
``(a+)+$`` takes exponential time on the standard library's engine; a pattern that times out fails
closed (the text is flagged) rather than hanging the guard.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import regex as rx

from alignkit.core.errors import ConfigError
from alignkit.core.records import Span
from alignkit.detectors.base import Detector, Finding, detector
from alignkit.detectors.normalize import deleet, despace, normalize, spaced_runs

PATTERN_TIMEOUT_S = 0.05  # per search; generous for linear patterns on a 1 MB text, fatal for catastrophic ones


@detector("regex_match", aliases=("regex", "guardrails/regex_match", "regex-match"), example={"regex": "^[A-Z]"})
class RegexMatch(Detector):
    """Pattern rule: ``must_match`` flags text that fails to match; ``must_not_match``, text that matches."""

    name = "regex_match"

    def __init__(
        self,
        regex: str = "",
        *,
        match_type: str = "must_match",
        ignore_case: bool = False,
        threshold: float | None = None,
    ) -> None:
        if not regex:
            raise ConfigError("regex_match needs a pattern: regex_match(regex='^[A-Z].*')")
        if match_type not in ("must_match", "must_not_match", "search", "fullmatch"):
            raise ConfigError("match_type must be must_match, must_not_match, search or fullmatch")
        super().__init__(threshold=threshold, regex=regex, match_type=match_type, ignore_case=ignore_case or None)
        try:
            self._pattern = regex_compile(regex, ignore_case)
        except rx.error as e:
            raise ConfigError(f"regex_match: invalid pattern {regex!r}: {e}") from None
        self.match_type = match_type

    def find(self, text: str) -> Finding:
        try:
            if self.match_type == "fullmatch":
                m = self._pattern.fullmatch(text, timeout=PATTERN_TIMEOUT_S)
            else:
                m = self._pattern.search(text, timeout=PATTERN_TIMEOUT_S)
        except TimeoutError:
            return Finding(1.0, label="timeout", reason="pattern took too long on this text (failed closed)")
        matched = m is not None
        bad = matched if self.match_type == "must_not_match" else not matched
        if not bad:
            return Finding(0.0, reason="pattern satisfied")
        if matched and m is not None:
            return Finding(
                1.0,
                label="matched",
                spans=(Span(m.start(), m.end(), "MATCH"),),
                reason="text matches a forbidden pattern",
            )
        return Finding(1.0, label="no_match", reason="text does not match the required pattern")


def regex_compile(pattern: str, ignore_case: bool = False) -> Any:
    return rx.compile(pattern, rx.IGNORECASE if ignore_case else 0)


class _WordList(Detector):
    """Flags texts containing any listed word or phrase, also when leetspeak, spacing or look-alike
    letters disguise it; spans point at the matches in the original text where they occur there."""

    label = "BANNED"

    def __init__(self, words: Sequence[str] = (), *, threshold: float | None = None, **args: Any) -> None:
        cleaned = sorted({w.strip().lower() for w in words if w and w.strip()}, key=len, reverse=True)
        if not cleaned:
            raise ConfigError(f"{self.name} needs a non-empty list of words: {self.name}(words=['...'])")
        super().__init__(threshold=threshold, words=list(cleaned), **args)
        self._words = [w for w in cleaned if " " not in w]
        alternation = "|".join(rx.escape(w) for w in cleaned)
        self._pattern = rx.compile(rf"(?<!\w)(?:{alternation})(?!\w)", rx.IGNORECASE)

    def find(self, text: str) -> Finding:
        spans = tuple(Span(m.start(), m.end(), self.label) for m in self._pattern.finditer(text))
        if spans:
            return Finding(1.0, label=self.label.lower(), spans=spans, reason=f"{len(spans)} listed term(s)")
        base = normalize(text)
        for variant in (base, deleet(base), despace(base), despace(deleet(base))):
            if self._pattern.search(variant):
                return Finding(1.0, label=self.label.lower(), reason="a listed term, disguised")
        # Spaced-out letters ("make a b o m b") join into one run ("abomb"): look inside each run.
        for run in spaced_runs(deleet(base)):
            if any(w in run for w in self._words):
                return Finding(1.0, label=self.label.lower(), reason="a listed term, spaced out")
        return Finding(0.0)


@detector(
    "banned_words",
    aliases=("ban_list", "guardrails/ban_list", "banned", "profanity_list"),
    example={"words": ["darn", "heck"]},
)
class BannedWords(_WordList):
    """Flags texts that contain any of ``words``."""

    name = "banned_words"


@detector("competitors", aliases=("competitor_check", "guardrails/competitor_check"), example={"words": ["Acme Corp"]})
class Competitors(_WordList):
    """Flags answers that name a competitor from ``words`` (company or product names)."""

    name = "competitors"
    label = "COMPETITOR"
    applies_to = "output"


@detector("valid_length", aliases=("length", "guardrails/valid_length", "valid-length"))
class ValidLength(Detector):
    """Flags texts shorter than ``min`` or longer than ``max`` characters (words with ``unit="words"``)."""

    name = "valid_length"

    def __init__(
        self, min: int = 0, max: int | None = None, *, unit: str = "chars", threshold: float | None = None
    ) -> None:
        if unit not in ("chars", "words"):
            raise ConfigError("valid_length unit must be 'chars' or 'words'")
        if min < 0 or (max is not None and max < min):
            raise ConfigError(f"valid_length needs 0 <= min <= max; got min={min}, max={max}")
        super().__init__(threshold=threshold, min=min or None, max=max, unit=None if unit == "chars" else unit)
        self.min, self.max, self.unit = min, max, unit

    def find(self, text: str) -> Finding:
        n = len(text) if self.unit == "chars" else len(text.split())
        if n < self.min:
            return Finding(1.0, label="too_short", reason=f"{n} {self.unit}, fewer than {self.min}")
        if self.max is not None and n > self.max:
            return Finding(1.0, label="too_long", reason=f"{n} {self.unit}, more than {self.max}")
        return Finding(0.0, reason=f"{n} {self.unit}")

    def truncate(self, text: str) -> str:
        """The fix for text that is too long: cut at the limit."""
        if self.max is None:
            return text
        return text[: self.max] if self.unit == "chars" else " ".join(text.split()[: self.max])


def _load_json(text: str) -> tuple[Any, str | None]:
    stripped = text.strip()
    if stripped.startswith("```"):  # models often fence JSON in markdown
        stripped = stripped.strip("`").removeprefix("json").strip()
    try:
        return json.loads(stripped), None
    except json.JSONDecodeError as e:
        return None, f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}"
    except RecursionError:  # fail closed: what cannot be read is not valid
        return None, "not valid JSON: nested too deeply to read"


@detector("valid_json", aliases=("json", "is_json", "guardrails/valid_json"))
class ValidJSON(Detector):
    """Flags text that is not valid JSON (a markdown code fence around it is allowed)."""

    name = "valid_json"
    applies_to = "output"

    def find(self, text: str) -> Finding:
        _, err = _load_json(text)
        return Finding(1.0, label="invalid_json", reason=err) if err else Finding(0.0, reason="valid JSON")


@detector(
    "json_schema",
    aliases=("guardrails/json_schema", "schema"),
    example={"schema": {"type": "object", "required": ["answer"]}},
)
class JSONSchema(Detector):
    """Flags text that is not JSON matching ``schema`` (a JSON Schema as a dict or a JSON string)."""

    name = "json_schema"
    applies_to = "output"

    def __init__(self, schema: dict[str, Any] | str | None = None, *, threshold: float | None = None) -> None:
        import jsonschema

        if schema is None:
            raise ConfigError("json_schema needs schema={...} (a JSON Schema)")
        try:
            parsed = json.loads(schema) if isinstance(schema, str) else schema
        except ValueError as e:
            raise ConfigError(f"json_schema: the schema is not JSON: {e}") from None
        if not isinstance(parsed, dict):
            raise ConfigError(f"json_schema: a schema is a JSON object, got {type(parsed).__name__}")
        try:
            cls = jsonschema.validators.validator_for(parsed)
            cls.check_schema(parsed)
        except jsonschema.SchemaError as e:
            raise ConfigError(f"json_schema: the schema itself is invalid: {e.message}") from None
        super().__init__(threshold=threshold, schema=parsed)
        self._validator = cls(parsed)

    def find(self, text: str) -> Finding:
        value, err = _load_json(text)
        if err:
            return Finding(1.0, label="invalid_json", reason=err)
        try:
            errors = sorted(self._validator.iter_errors(value), key=lambda e: list(e.path))
        except RecursionError:  # fail closed: a value too deep to check does not match
            return Finding(1.0, label="schema_mismatch", reason="nested too deeply to check against the schema")
        if not errors:
            return Finding(0.0, reason="matches the schema")
        where = "/".join(str(p) for p in errors[0].path) or "(root)"
        return Finding(
            1.0,
            label="schema_mismatch",
            reason=f"{len(errors)} error(s); first at {where}: {errors[0].message}",
        )
