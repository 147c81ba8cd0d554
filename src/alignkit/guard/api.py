"""The :class:`Guard` users import: the engine of :mod:`alignkit.guard.guard` plus one constructor per
spec format, streaming and wrapping. This module imports the others; none of them imports it.

    Guard.from_rail(text_or_path)      # RAIL (guardrails-ai XML)
    Guard.from_yaml(text_or_path)      # YAML
    Guard.from_spec(spec)              # a GuardSpec, or its dict form
    Guard.from_file(path)              # .rail/.xml or .yaml/.yml, by suffix
    Guard.default()                    # alignkit's default guard
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

from alignkit.core.errors import ConfigError
from alignkit.core.messages import Message
from alignkit.core.model import Model
from alignkit.guard.guard import BaseGuard
from alignkit.guard.model import GuardedModel
from alignkit.guard.spec import DEFAULT_SPEC, GuardSpec, Source, build_guard, read_spec
from alignkit.guard.spec_rail import parse_rail
from alignkit.guard.spec_yaml import parse_yaml
from alignkit.guard.stream import AsyncValidatedStream, ValidatedStream, astream_validate, stream_validate
from alignkit.providers.function import as_model

RAIL_SUFFIXES = (".rail", ".xml")
YAML_SUFFIXES = (".yaml", ".yml")


class Guard(BaseGuard):
    """Input and output validators with on-fail actions; callable on any model (see
    :mod:`alignkit.guard.guard`). Keyword arguments of the constructors below (``escalate_to=``,
    ``max_reasks=``, ...) are the guard's own and win over the spec's settings."""

    @classmethod
    def from_spec(cls, spec: GuardSpec | Mapping[str, Any], **overrides: Any) -> Self:
        """A guard from a :class:`GuardSpec` or its dict form (the YAML form, parsed)."""
        return build_guard(spec, cls, **overrides)

    @classmethod
    def from_rail(cls, rail: str | os.PathLike[str], **overrides: Any) -> Self:
        """A guard from a RAIL spec: the XML text itself or a path to a .rail file."""
        inline = isinstance(rail, str) and rail.lstrip().startswith("<")
        spec, source = parse_rail(*read_spec(rail, "RAIL", inline))
        return build_guard(spec, cls, source=source, **overrides)

    @classmethod
    def from_yaml(cls, spec: str | os.PathLike[str], **overrides: Any) -> Self:
        """A guard from a YAML spec: the YAML text itself or a path to a .yaml file."""
        inline = isinstance(spec, str) and ("\n" in spec or ":" in spec) and Path(spec).suffix not in YAML_SUFFIXES
        parsed, source = parse_yaml(*read_spec(spec, "YAML", inline))
        return build_guard(parsed, cls, source=source, **overrides)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], **overrides: Any) -> Self:
        """A guard from a ``.rail``/``.xml`` (RAIL) or ``.yaml``/``.yml`` (YAML) file."""
        suffix = Path(path).suffix.lower()
        if suffix in RAIL_SUFFIXES:
            return cls.from_rail(Path(path), **overrides)
        if suffix in YAML_SUFFIXES:
            return cls.from_yaml(Path(path), **overrides)
        raise ConfigError(f"{path}: guard specs are .rail/.xml (RAIL) or .yaml/.yml (YAML) files; rename it")

    @classmethod
    def default(cls, **overrides: Any) -> Self:
        """alignkit's default guard: refuse jailbreaks, injections and harmful requests on the way in;
        mask toxicity and redact PII and secrets on the way out."""
        return build_guard(DEFAULT_SPEC, cls, source=Source("<default guard>"), **overrides)

    def stream(
        self,
        chunks: Iterable[str],
        *,
        holdback: int = 48,
        check_every: int = 64,
        context: Sequence[Message] = (),
    ) -> ValidatedStream:
        """Validate a streamed answer as it arrives; see :mod:`alignkit.guard.stream` (iterate it for the
        text; its ``result`` says what the checks found). ``context``: the conversation it answers."""
        return stream_validate(self, chunks, holdback=holdback, check_every=check_every, context=context)

    def astream(
        self,
        chunks: AsyncIterable[str],
        *,
        holdback: int = 48,
        check_every: int = 64,
        context: Sequence[Message] = (),
    ) -> AsyncValidatedStream:
        """Async form of :meth:`stream`."""
        return astream_validate(self, chunks, holdback=holdback, check_every=check_every, context=context)

    def wrap(self, model: Model | Callable[..., Any]) -> Model:
        """The model (or function) with this guard around it, itself a :class:`Model`."""
        return GuardedModel(as_model(model), self)
