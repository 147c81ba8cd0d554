"""The guard spec: one validated schema behind RAIL, YAML and Python.

Every format parses to a :class:`GuardSpec` and :func:`build_guard` is the one function that turns a
spec into a guard. In Python the spec is a dict in the YAML form, or the models themselves::

    GuardSpec.model_validate({
        "name": "support-bot",
        "settings": {"max_reasks": 1},
        "input": ["jailbreak", {"validator": "prompt_injection", "on_fail": "exception"}],
        "output": [{"validator": "pii", "entities": ["EMAIL"], "on_fail": "fix"}],
    })

A validator entry is a detector name, ``{validator: NAME, on_fail: ..., threshold: ..., ARG: ...}`` or
``{NAME: {ARG: ...}}``; all three become the canonical :class:`ValidatorSpec` (name resolved from any
alias, arguments checked against the detector factory's signature, see :mod:`alignkit.detectors.arguments`).
Errors name the file, the line (where the format has lines) and the field, and say how to fix them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from alignkit.core.errors import ConfigError, UnknownPluginError
from alignkit.core.model import Model
from alignkit.detectors.arguments import THRESHOLD, canonical_name, check_arguments, resolve_models
from alignkit.guard.actions import DEFAULT_ESCALATION, DEFAULT_REFUSAL
from alignkit.guard.guard import BaseGuard
from alignkit.guard.validator import ACTIONS, Action, Rail, Validator
from alignkit.providers import get_model

MAX_SPEC_BYTES = 1_000_000
Loc = tuple[str | int, ...]
G = TypeVar("G", bound=BaseGuard)


class GuardConfig(BaseModel):
    """A guard's settings (the ``settings:`` section of a spec)."""

    model_config = ConfigDict(extra="forbid")

    max_reasks: int = Field(default=1, ge=0)
    """Re-prompts after a ``reask`` failure before refraining: one repairs most answers, and each costs a call."""
    refusal_message: str = DEFAULT_REFUSAL
    """What ``refrain`` (and a fix with nothing left to repair) answers."""
    escalation_message: str = DEFAULT_ESCALATION
    """What ``escalate`` answers while a human reviews the case."""
    prompt_template: str | None = None
    """The prompt when ``guard(llm)`` is called without one (RAIL's ``<prompt>``); None: a prompt is required."""


class ValidatorSpec(BaseModel):
    """One validator: a registered detector, its arguments and what to do when it fails."""

    model_config = ConfigDict(extra="forbid")

    validator: str
    """A registered detector name or alias; stored as the registered name."""
    on_fail: Action = "fix"
    """One of :data:`~alignkit.guard.ACTIONS`; ``fix`` repairs what can be repaired and refrains otherwise."""
    threshold: float | str | None = None
    """A score in [0, 1] or an operating point name (``default``, ``high_recall``); None: the detector's default."""
    args: dict[str, Any] = Field(default_factory=dict)
    """The detector's other arguments, checked against its factory's signature."""

    @model_validator(mode="before")
    @classmethod
    def _canonical_form(cls, data: Any) -> Any:
        """Accept ``"name"``, ``{validator: name, on_fail: ..., ARG: ...}`` and ``{name: {ARG: ...}}``."""
        if isinstance(data, str):
            return {"validator": data}
        if not isinstance(data, Mapping):
            return data  # pydantic says what type was expected
        data = dict(data)
        if "validator" not in data and "name" in data:
            data["validator"] = data.pop("name")
        fields = set(cls.model_fields)
        if "validator" not in data and len(data) == 1 and not fields & set(data):  # {NAME: {ARG: ...}}
            name, inner = next(iter(data.items()))
            if inner is not None and not isinstance(inner, Mapping):
                raise _error(f"under {name}: expected a mapping of arguments, got {inner!r}")
            data = {"validator": name, **(inner or {})}
        if "validator" not in data:
            raise _error("a validator needs 'validator: NAME' (or is just the name)")
        extra = {k: v for k, v in data.items() if k not in fields}
        args = data.get("args") or {}
        if extra and isinstance(args, Mapping):
            args = {**args, **extra}
        return {**{k: v for k, v in data.items() if k in fields}, "args": args}

    @field_validator("validator")
    @classmethod
    def _registered(cls, name: str) -> str:
        try:
            return canonical_name(name)
        except UnknownPluginError as e:
            raise PydanticCustomError("unknown_validator", "{problem}", {"problem": str(e), "error": e}) from None

    @field_validator("on_fail", mode="before")
    @classmethod
    def _known_action(cls, action: Any) -> Any:
        if action not in ACTIONS:
            raise _error(f"unknown on_fail action {action!r}; use one of {', '.join(ACTIONS)}")
        return action

    @field_validator("threshold", mode="before")
    @classmethod
    def _number_or_name(cls, threshold: Any) -> Any:
        number = isinstance(threshold, int | float) and not isinstance(threshold, bool)
        if threshold is None or isinstance(threshold, str) or (number and 0.0 <= threshold <= 1.0):
            return threshold
        raise _error(
            f"threshold must be a number in [0, 1] or an operating point name (default, ...); got {threshold!r}"
        )

    @model_validator(mode="after")
    def _arguments_fit(self) -> ValidatorSpec:
        bad = check_arguments(self.validator, self.args)
        if bad is not None:
            raise _error(bad[1], at=("args", bad[0]))
        return self

    def detector_args(self) -> dict[str, Any]:
        """The keyword arguments for the detector's factory (threshold included when set)."""
        return self.args if self.threshold is None else {**self.args, "threshold": self.threshold}


class GuardSpec(BaseModel):
    """A whole guard: its name, settings and the validators on each rail, in order."""

    model_config = ConfigDict(extra="forbid")

    name: str = "guard"
    """Names the guard in errors, escalations and reports."""
    settings: GuardConfig = GuardConfig()
    input: list[ValidatorSpec] = Field(default_factory=list)
    """Validators on the prompt (the last user message), before the model sees it."""
    output: list[ValidatorSpec] = Field(default_factory=list)
    """Validators on the answer, before the user sees it."""

    @field_validator("input")
    @classmethod
    def _input_actions(cls, items: list[ValidatorSpec]) -> list[ValidatorSpec]:
        return _rail_actions(items, "reask", "'reask' re-prompts the model about its answer, so it applies to output")

    @field_validator("output")
    @classmethod
    def _output_actions(cls, items: list[ValidatorSpec]) -> list[ValidatorSpec]:
        return _rail_actions(items, "anonymize", "'anonymize' hides values from the model, so it applies to input")

    @model_validator(mode="after")
    def _has_validators(self) -> GuardSpec:
        if not self.input and not self.output:
            raise _error("the spec lists no validators under input or output; add one, e.g. output: [pii]")
        return self


def _rail_actions(items: list[ValidatorSpec], wrong: str, why: str) -> list[ValidatorSpec]:
    for i, item in enumerate(items):
        if item.on_fail == wrong:
            raise _error(f"{why} validators; use another action", at=(i, "on_fail"))
    return items


def _error(problem: str, at: Loc = ()) -> PydanticCustomError:
    """A validation error whose message is ``problem``; ``at`` extends the field's location (a detector
    argument, an item of a list) so the error can name the line."""
    return PydanticCustomError("spec", "{problem}", {"problem": problem, "at": at})


# -- where a spec came from, for errors ---------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    """Where a spec came from: the file (or ``<YAML string>``), the line of each field where the format
    has lines, and how the format spells a field when that differs (RAIL's ``on-fail-pii``)."""

    where: str = "<spec>"
    lines: Mapping[Loc, int] = field(default_factory=dict)
    labels: Mapping[Loc, str] = field(default_factory=dict)

    def line(self, loc: Loc) -> int | None:
        """The line of the field at ``loc``, or of the nearest enclosing one that has a line."""
        loc = tuple(part for part in loc if part != "args")
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return None

    def at(self, loc: Loc) -> str:
        """``file:line: field``, as far as they are known."""
        line = self.line(loc)
        label = self.labels.get(loc) or field_path(loc)
        return f"{self.where}{f':{line}' if line else ''}{f': {label}' if label else ''}"


def field_path(loc: Loc) -> str:
    """``("output", 2, "args", "max")`` -> ``output[2].max``."""
    text = ""
    for part in loc:
        if part == "args":
            continue
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text


def read_spec(spec: str | os.PathLike[str], kind: str, inline: bool) -> tuple[str, str]:
    """The spec's text and where it came from: ``spec`` itself when ``inline``, else a file's contents
    (UTF-8; a file that is not says at which line)."""
    if inline:
        text, where = str(spec), f"<{kind} string>"
        size = len(text.encode("utf-8", "surrogatepass"))
    else:
        path = where = str(spec)
        try:
            data = Path(spec).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ConfigError(f"no {kind} file at {path} (pass the spec text itself, or a path to a file)") from None
        except (OSError, ValueError) as e:  # unreadable, a name too long, a NUL in the name
            raise ConfigError(
                f"{where[:200]}: cannot read the {kind} spec: {getattr(e, 'strerror', None) or e}"
            ) from None
        size = len(data)
    if size > MAX_SPEC_BYTES:
        raise ConfigError(f"{where}: spec larger than {MAX_SPEC_BYTES} bytes; split it, or trim long messages")
    if inline:
        return text, where
    try:
        return data.decode("utf-8"), where
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise ConfigError(
            f"{where}:{line}: not UTF-8 text (byte {data[e.start]:#04x} at offset {e.start}); save the spec as UTF-8"
        ) from None


def parse_spec(data: GuardSpec | Mapping[str, Any], source: Source | None = None) -> GuardSpec:
    """``data`` validated as a :class:`GuardSpec`; a problem raises :class:`ConfigError` (or
    :class:`UnknownPluginError` for an unknown validator) naming the file, line and field."""
    if isinstance(data, GuardSpec):
        return data
    try:
        return GuardSpec.model_validate(data)
    except ValidationError as e:
        raise spec_error(e, source or Source()) from None


def spec_error(e: ValidationError, source: Source) -> ConfigError:
    """One error, a line per problem, for a spec that does not validate."""
    lines: list[str] = []
    unknown: UnknownPluginError | None = None
    extra: dict[Loc, list[str | int]] = {}
    for err in e.errors():
        loc = (*err["loc"], *(err.get("ctx") or {}).get("at", ()))
        if err["type"] == "extra_forbidden":
            extra.setdefault(loc[:-1], []).append(loc[-1])
            continue
        if err["type"] == "unknown_validator":
            unknown = unknown or err["ctx"]["error"]
        lines.append(f"{source.at(loc)}: {_problem(err)}")
    for parent, keys in extra.items():
        lines.append(f"{source.at((*parent, keys[0]))}: {_unknown_keys(parent, keys)}")
    message = "\n".join(lines)
    if unknown is not None:  # keep the type, for callers that catch UnknownPluginError
        unknown.args = (message,)
        return unknown
    return ConfigError(message)


def _problem(err: Any) -> str:
    if err["type"] == "literal_error":
        return f"{err['msg']}; got {err['input']!r}"
    if err["type"] in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping, got {type(err['input']).__name__}"
    if err["type"] == "list_type":
        return f"expected a list, got {type(err['input']).__name__} (write a list: [{err['input']}])"
    return str(err["msg"])


def _unknown_keys(parent: Loc, keys: list[Any]) -> str:
    """Unknown keys of the spec or its settings (a validator's unknown keys are unknown arguments)."""
    if parent == ("settings",):
        return f"unknown settings {sorted(keys)}; known settings: {', '.join(GuardConfig.model_fields)}"
    return f"unknown keys {sorted(keys)}; a spec has {', '.join(GuardSpec.model_fields)}"


def located(e: ConfigError, where: str) -> ConfigError:
    """The same error (same type, for callers that catch UnknownPluginError) prefixed with ``where``."""
    e.args = (f"{where}: {e.args[0] if e.args else e}", *e.args[1:])
    return e


# -- building ---------------------------------------------------------------------------------------
def build_guard(
    spec: GuardSpec | Mapping[str, Any],
    guard_cls: type[G],
    *,
    source: Source | None = None,
    resolve_model: Callable[[str], Model] = get_model,
    **overrides: Any,
) -> G:
    """A guard of class ``guard_cls`` from ``spec``; ``overrides`` are the class's keyword arguments that a
    spec cannot hold (``escalate_to=``) or that replace the spec's settings. Model names in the spec (an
    ``llm_judge``'s ``model``) become models through ``resolve_model``: a spec is an edge."""
    source = source or Source()
    spec = parse_spec(spec, source)
    guard = guard_cls(**{"name": spec.name, **spec.settings.model_dump(), **overrides})
    rails: tuple[tuple[Rail, list[ValidatorSpec]], ...] = (("input", spec.input), ("output", spec.output))
    for rail, items in rails:
        for i, item in enumerate(items):
            try:
                guard.use(_validator(item, rail, resolve_model))
            except ConfigError as e:
                raise located(e, source.at(_fault(item, rail, i, resolve_model))) from None
    return guard


def _validator(item: ValidatorSpec, rail: Rail, resolve_model: Callable[[str], Model]) -> Validator:
    args = resolve_models(item.validator, item.detector_args(), resolve_model)
    return Validator(item.validator, on=rail, on_fail=item.on_fail, **args)


def _fault(item: ValidatorSpec, rail: Rail, i: int, resolve_model: Callable[[str], Model]) -> Loc:
    """Where a validator that failed to build went wrong: the one argument (or operating point) without
    which it builds (an unknown entity, a bad pattern), else the validator as a whole."""
    for key in item.detector_args():
        update = {"threshold": None} if key == THRESHOLD else {"args": {k: v for k, v in item.args.items() if k != key}}
        try:
            _validator(item.model_copy(update=update), rail, resolve_model)
        except ConfigError:
            continue
        return (rail, i, key)
    return (rail, i)


DEFAULT_SPEC: dict[str, Any] = {
    "name": "alignkit-default",
    "input": [
        {"validator": "jailbreak", "on_fail": "refrain"},
        {"validator": "prompt_injection", "on_fail": "refrain"},
        {"validator": "harmful_request", "on_fail": "refrain"},
    ],
    "output": [
        {"validator": "toxicity", "on_fail": "fix"},
        {"validator": "pii", "on_fail": "fix"},
        {"validator": "secrets", "on_fail": "fix"},
    ],
}
"""alignkit's default guard: refuse jailbreaks, injections and harmful requests on the way in; mask
toxicity and redact PII and secrets on the way out."""
