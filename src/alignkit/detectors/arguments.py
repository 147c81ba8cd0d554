"""What a registered detector takes, read from its registration: the name and the factory's signature.

Registration (``@detector("name")``) is the only step that makes a detector usable from Python and from
guard specs (RAIL, YAML): :func:`get_detector` and the spec loaders check arguments against the
factory's parameters and their annotations (a wrong type is a :class:`ConfigError` naming the argument,
never a ``TypeError`` from deep inside), and RAIL's positional form (``valid-length: 1 280``) fills the
factory's positional parameters in order; a detector that has none takes its threshold that way
(``toxicity: 0.8``).
"""

from __future__ import annotations

import collections.abc
import functools
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError

from alignkit.core.errors import ConfigError
from alignkit.core.model import Model
from alignkit.detectors.base import Detector, DetectorFactory, detectors

THRESHOLD = "threshold"  # every detector takes it; a spec holds it in its own typed field
_LIST_TYPES = (list, tuple, set, frozenset, collections.abc.Sequence, collections.abc.Iterable)


def canonical_name(name: str) -> str:
    """The registered name for ``name``, an alias, or a guardrails-style spelling with hyphens
    (``valid-length``); :class:`~alignkit.core.errors.UnknownPluginError` lists the known ones."""
    for candidate in (name, name.replace("-", "_"), name.replace("_", "-")):
        if candidate in detectors:
            return detectors.resolve_name(candidate)
    return detectors.resolve_name(name)  # raises, with "did you mean" and the known names


@dataclass(frozen=True)
class Parameter:
    """One argument a detector's factory takes."""

    name: str
    annotation: Any  # the resolved type; Any where it cannot be resolved
    positional: bool  # may be given by position (RAIL's "name: a b" form)
    adapter: TypeAdapter[Any] | None  # checks a value's type strictly; None: any value

    @property
    def takes_list(self) -> bool:
        """Whether a list of values fits (RAIL splits ``darn, heck`` or ``darn heck`` into one)."""
        return any(typing.get_origin(t) in _LIST_TYPES or t in _LIST_TYPES for t in _members(self.annotation))

    @property
    def takes_text(self) -> bool:
        """Whether a string fits (RAIL passes the whole argument text: a regex, a schema, a model)."""
        return str in _members(self.annotation)

    @property
    def takes_model(self) -> bool:
        """Whether this parameter takes a model: a spec names it by string, resolved when the guard is built."""
        return Model in _members(self.annotation)

    def problem(self, value: Any) -> str | None:
        """Why ``value`` does not fit this parameter, or None when it does."""
        if self.adapter is None or (self.takes_model and isinstance(value, str)):
            return None
        try:
            self.adapter.validate_python(value, strict=True)
        except ValidationError as e:
            return f"{e.errors()[0]['msg']}: got {value!r}, and {self.name} takes {type_name(self.annotation)}"
        return None


@dataclass(frozen=True)
class Signature:
    """The arguments of one registered detector, besides ``threshold``."""

    detector: str
    parameters: Mapping[str, Parameter]
    open: bool  # a plain factory with **kwargs: arguments beyond the named ones go to it unchecked

    @property
    def positional(self) -> tuple[str, ...]:
        """The names RAIL's positional arguments fill, in order."""
        names = tuple(p.name for p in self.parameters.values() if p.positional)
        return names or (THRESHOLD,)

    def problem(self, name: str, value: Any) -> str | None:
        """Why ``name=value`` is not an argument this detector takes, or None when it is."""
        param = self.parameters.get(name)
        if param is not None:
            return param.problem(value)
        if self.open:
            return None
        takes = ", ".join([*self.parameters, THRESHOLD])
        return f"unknown argument(s): {name}; {self.detector} takes {takes}"


def signature(name: str) -> Signature:
    """The signature of the detector registered under ``name`` (or an alias)."""
    canon = canonical_name(name)
    return _signature(canon, detectors.get(canon))


@functools.cache
def _signature(name: str, factory: DetectorFactory) -> Signature:
    try:
        try:
            params = list(inspect.signature(factory, eval_str=True).parameters.values())
        except Exception:  # an annotation that does not resolve at runtime: check names, not types
            params = [p.replace(annotation=Any) for p in inspect.signature(factory).parameters.values()]
    except (TypeError, ValueError):  # a builtin or C factory: nothing to read, so nothing to check
        return Signature(name, {}, open=True)
    found = {}
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name == THRESHOLD:
            continue
        hint = Any if p.annotation is p.empty else p.annotation
        positional = p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        found[p.name] = Parameter(p.name, hint, positional, _adapter(hint))
    has_kwargs = any(p.kind is p.VAR_KEYWORD for p in params)
    # A Detector subclass's **args only records its own arguments on the base class: not a user's door.
    is_detector_class = isinstance(factory, type) and issubclass(factory, Detector)
    return Signature(name, found, open=has_kwargs and not is_detector_class)


def _adapter(hint: Any) -> TypeAdapter[Any] | None:
    if hint is Any:
        return None
    try:
        return TypeAdapter(hint, config=ConfigDict(arbitrary_types_allowed=True))
    except Exception:  # a type pydantic cannot check (a non-runtime Protocol): accept any value
        return None


def _members(hint: Any) -> tuple[Any, ...]:
    """The types of a union (``int | None`` -> int, NoneType), or the type itself."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return typing.get_args(hint)
    return (hint,)


def type_name(hint: Any) -> str:
    """A type as a reader writes it: ``Sequence[str] | None``, not ``collections.abc.Sequence[str]``."""
    text = hint.__name__ if isinstance(hint, type) and not typing.get_args(hint) else str(hint)
    return text.replace("collections.abc.", "").replace("typing.", "").replace("NoneType", "None")


def resolve_models(name: str, args: Mapping[str, Any], resolve: Callable[[str], Model]) -> dict[str, Any]:
    """``args`` for detector ``name`` with each string given for a model parameter resolved by ``resolve``
    (``get_model``): how a spec's ``model: openai/llama-guard`` becomes the model the detector takes."""
    params = signature(name).parameters
    return {
        key: resolve(value) if isinstance(value, str) and key in params and params[key].takes_model else value
        for key, value in args.items()
    }


def check_arguments(name: str, args: Mapping[str, Any]) -> tuple[str, str] | None:
    """The first argument ``name``'s detector does not take (as ``(argument, problem)``), or None."""
    sig = signature(name)
    for key, value in args.items():
        problem = sig.problem(key, value)
        if problem is not None:
            return key, problem
    return None


def get_detector(name: str, **args: Any) -> Detector:
    """Build a registered detector by name (or alias) with its arguments, checked against its signature."""
    found = check_arguments(name, {k: v for k, v in args.items() if k != THRESHOLD})
    if found is not None:
        raise ConfigError(f"detector {canonical_name(name)!r}: {found[0]}: {found[1]}")
    built: Detector = detectors.build(name, **args)
    return built
