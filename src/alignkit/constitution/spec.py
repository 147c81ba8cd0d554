"""Constitutions as files: principles with critique, revision, comparison and check requests.

A constitution is a YAML file (or a :class:`Constitution` built in Python)::

    name: my-rules
    version: "1"
    metadata: {owner: safety-team}
    principles:
      - id: privacy
        name: Respect privacy
        description: Never reveal or infer personal data about private individuals.
        critique:                     # one request, or several phrasings (one is drawn per round)
          - Point out where the answer exposes or guesses personal information.
        revision:                     # paired with the critique phrasing of the same index when counts match
          - Rewrite the answer so that it exposes no personal information.
        comparison: Which answer better protects people's privacy?   # optional (RL phase)
        check: Does the answer avoid exposing personal information?  # optional (evaluation)
    examples:                         # optional few-shot demonstrations of one critique and revision
      - principle: privacy
        prompt: What is my neighbour's phone number?
        answer: It is 555-0100.
        critique: The answer hands out a private person's phone number.
        revision: I can't share someone's personal phone number; ask your neighbour directly.

Every mapping rejects unknown keys, and every error names the file and line of the offending key:
``my-rules.yaml:7: principles[0].critqiue: unknown key; allowed: ...``.
"""

from __future__ import annotations

import importlib.resources
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from alignkit.core.errors import ConfigError
from alignkit.core.jsonl import not_utf8

__all__ = [
    "Constitution",
    "Example",
    "Principle",
    "default_constitution",
    "load_constitution",
    "parse_constitution",
]

DEFAULT_FILE = "default.yaml"
MAX_REPORTED = 5  # problems listed per error; the first usually explains the rest


def _phrasings(v: Any) -> Any:
    """One request given as a string is a one-phrasing tuple; blank phrasings are rejected."""
    if isinstance(v, str):
        v = (v,)
    if isinstance(v, list | tuple):
        if any(not isinstance(s, str) or not s.strip() for s in v):
            raise ValueError("every phrasing must be a non-empty string")
        return tuple(s.strip() for s in v)
    return v


class Principle(BaseModel):
    """One rule of a constitution and the requests that put it to work."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", description="Short stable name, used in traces and tables.")
    name: str = Field(min_length=1, description="Human-readable title.")
    description: str = Field(default="", description="What the principle asks, in a sentence or two.")
    critique: tuple[str, ...] = Field(
        min_length=1, description="Critique requests: ask the model to find where its answer breaks the principle."
    )
    revision: tuple[str, ...] = Field(
        min_length=1, description="Revision requests: ask the model to rewrite its answer to follow the principle."
    )
    comparison: tuple[str, ...] = Field(
        default=(),
        description="Multiple-choice questions for AI feedback ('Which answer ...?'). Empty: one is made "
        "from the name and description.",
    )
    check: str | None = Field(
        default=None,
        description="A yes/no question for evaluation ('Does the answer ...?'). None: one is made from "
        "the name and description.",
    )
    weight: float = Field(default=1.0, gt=0.0, description="Relative chance of being drawn in a round.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Free-form: source, owner, notes.")

    @field_validator("critique", "revision", "comparison", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        return _phrasings(v)

    def comparisons(self) -> tuple[str, ...]:
        """The comparison questions, or the default one."""
        if self.comparison:
            return self.comparison
        about = f" ({self.description.rstrip('.')})" if self.description else ""
        return (f"Which of these answers better follows the principle '{self.name}'{about}?",)

    def check_question(self) -> str:
        """The yes/no evaluation question."""
        if self.check:
            return self.check
        about = f": {self.description.rstrip('.')}" if self.description else ""
        return f"Does the answer follow the principle '{self.name}'{about}?"

    def draw_requests(self, rng: random.Random) -> tuple[str, str]:
        """A (critique, revision) request pair: the same index when both lists have the same length
        (phrasings written as pairs), otherwise drawn independently."""
        i = rng.randrange(len(self.critique))
        j = i if len(self.revision) == len(self.critique) else rng.randrange(len(self.revision))
        return self.critique[i], self.revision[j]


class Example(BaseModel):
    """A few-shot demonstration: an answer, its critique and its revision."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str = Field(min_length=1, description="The request.")
    answer: str = Field(min_length=1, description="A first answer that breaks the principle.")
    critique: str = Field(min_length=1, description="The critique of that answer.")
    revision: str = Field(min_length=1, description="The revised answer.")
    principle: str | None = Field(default=None, description="The principle id it demonstrates; None: any.")


class Constitution(BaseModel):
    """A named set of principles, optional few-shot examples and metadata."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(default="constitution", min_length=1, description="Shown in traces and reports.")
    version: str = Field(default="1", description="Bump it when the principles change, so runs can be told apart.")
    description: str = Field(default="", description="What this constitution is for.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Free-form: author, source, license.")
    principles: tuple[Principle, ...] = Field(min_length=1, description="The rules, in order.")
    examples: tuple[Example, ...] = Field(default=(), description="Few-shot demonstrations for critiques.")

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int | float) else v

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    def principle(self, principle_id: str) -> Principle:
        for p in self.principles:
            if p.id == principle_id:
                return p
        raise ConfigError(
            f"no principle {principle_id!r} in {self.spec}; it has {', '.join(p.id for p in self.principles)}"
        )

    def draw(self, rng: random.Random) -> Principle:
        """A principle drawn at random, in proportion to the weights."""
        return rng.choices(self.principles, weights=[p.weight for p in self.principles])[0]

    def examples_for(self, principle_id: str, limit: int | None = None) -> list[Example]:
        """The examples that demonstrate ``principle_id``, then those for any principle."""
        own = [e for e in self.examples if e.principle == principle_id]
        anyp = [e for e in self.examples if e.principle is None]
        return (own + anyp)[:limit] if limit is not None else own + anyp

    def select(self, ids: Sequence[str]) -> Constitution:
        """The same constitution with only the principles ``ids`` (and their examples)."""
        keep = [self.principle(i) for i in ids]
        examples = tuple(e for e in self.examples if e.principle is None or e.principle in ids)
        return self.model_copy(update={"principles": tuple(keep), "examples": examples})

    def to_yaml(self) -> str:

        data = self.model_dump(exclude_defaults=True)
        data.setdefault("name", self.name)
        return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100))


# -- loading with line numbers ------------------------------------------------------------------------
def default_constitution() -> Constitution:
    """The built-in constitution: the five principles of the guide, written for alignkit."""
    text = importlib.resources.files("alignkit.constitution").joinpath(DEFAULT_FILE).read_text(encoding="utf-8")
    return parse_constitution(text, source=f"<alignkit>/{DEFAULT_FILE}")


def load_constitution(path: str | os.PathLike[str] | None = None) -> Constitution:
    """A constitution from a YAML file; None or ``"default"`` gives :func:`default_constitution`."""
    if path is None or str(path) == "default":
        return default_constitution()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"cannot read constitution {p}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(not_utf8(p, e)) from None
    return parse_constitution(text, source=str(p))


def parse_constitution(text: str, source: str = "<string>") -> Constitution:
    """Parse YAML text; errors name ``source:line`` of the offending key or value."""

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{source}:{mark.line + 1}" if mark else source
        raise ConfigError(f"{where}: not valid YAML: {e.problem or e}") from None
    if root is None:
        raise ConfigError(f"{source}: empty file; a constitution needs at least a 'principles' list")
    _check_duplicate_keys(root, source)
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ConfigError(f"{source}:{root.start_mark.line + 1}: expected a mapping with a 'principles' list")
    try:
        constitution = Constitution.model_validate(data)
    except ValidationError as e:
        # Unknown keys first: a misspelt key also shows up as a missing one, and the typo is the cause.
        raw = e.errors()
        # pydantic also reports a list whose items failed as too short; the item errors say more.
        raw = [r for r in raw if not any(o["loc"][: len(r["loc"])] == r["loc"] and o is not r for o in raw)]
        errors = sorted(raw, key=lambda err: err["type"] != "extra_forbidden")
        problems = []
        for err in errors[:MAX_REPORTED]:
            loc = tuple(err["loc"])
            line = _line_of(root, loc, key=err["type"] == "extra_forbidden")
            problems.append(f"{source}:{line}: {_dotted(loc)}: {_explain(err, loc)}")
        more = f"\n(and {len(errors) - MAX_REPORTED} more)" if len(errors) > MAX_REPORTED else ""
        raise ConfigError("\n".join(problems) + more) from None
    _check_references(constitution, root, source)
    return constitution


def _explain(err: Any, loc: tuple[Any, ...]) -> str:
    if err["type"] == "extra_forbidden":
        model: type[BaseModel] = Constitution
        if len(loc) >= 3 and loc[0] in ("principles", "examples"):
            model = Principle if loc[0] == "principles" else Example
        return f"unknown key; allowed: {', '.join(model.model_fields)}"
    if err["type"] == "missing":
        return "required key is missing"
    return str(err["msg"])


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(file)"


def _line_of(node: Any, loc: tuple[Any, ...], *, key: bool = False) -> int:
    """The 1-based line of the deepest node on ``loc`` (the key itself when ``key``)."""

    line: int = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == str(part):
                    line = int((k if key and part == loc[-1] else v).start_mark.line) + 1
                    node = v
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = int(node.start_mark.line) + 1
        else:
            return line
    return line


def _check_duplicate_keys(node: Any, source: str) -> None:
    """PyYAML keeps the last of two equal keys silently; a constitution must not lose a request that way."""

    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for k, v in node.value:
            if k.value in seen:
                raise ConfigError(f"{source}:{k.start_mark.line + 1}: key {k.value!r} appears twice in this mapping")
            seen.add(k.value)
            _check_duplicate_keys(v, source)
    elif isinstance(node, yaml.SequenceNode):
        for v in node.value:
            _check_duplicate_keys(v, source)


def _check_references(c: Constitution, root: Any, source: str) -> None:
    ids: set[str] = set()
    for i, p in enumerate(c.principles):
        if p.id in ids:
            line = _line_of(root, ("principles", i, "id"))
            raise ConfigError(f"{source}:{line}: principles[{i}].id: duplicate principle id {p.id!r}")
        ids.add(p.id)
    for i, e in enumerate(c.examples):
        if e.principle is not None and e.principle not in ids:
            line = _line_of(root, ("examples", i, "principle"))
            raise ConfigError(
                f"{source}:{line}: examples[{i}].principle: no principle {e.principle!r}; known: {', '.join(ids)}"
            )
