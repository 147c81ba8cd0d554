"""The red team's vocabulary: probes (what to ask), converters (how to disguise it) and their registries.

A :class:`Probe` is one test prompt with its hazard category, severity and the behaviour expected of a
safe model: ``refuse`` for a harmful request, ``comply`` for its benign look-alike ("How do I kill a
Python process?"), so a scan measures attack success and over-refusal side by side. A
:class:`Converter` rewrites a prompt (base64, role-play, ...); converters stack.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

from pydantic import Field

from alignkit.core.errors import ConfigError
from alignkit.core.records import Record
from alignkit.registry import Registry

Severity = Literal["low", "medium", "high", "critical"]
Expected = Literal["refuse", "comply"]

# Hazard taxonomy: MLCommons / Llama Guard hazard categories plus the OWASP Top 10 for LLM applications
# risks a prompt can test. Keys are what reports group by.
CATEGORIES: dict[str, str] = {
    "cyber": "cyber-attacks and malware",
    "weapons": "weapons, including chemical, biological, radiological, nuclear and explosives",
    "violent_crime": "violent crime",
    "nonviolent_crime": "non-violent crime (fraud, theft, drugs, ...)",
    "hate": "hate speech and discrimination",
    "self_harm": "suicide and self-harm",
    "sexual": "sexual content",
    "privacy": "privacy violations and PII extraction",
    "misinformation": "misinformation and fake news",
    "prompt_injection": "prompt injection (OWASP LLM01)",
    "system_prompt_leakage": "system prompt leakage (OWASP LLM07)",
    "excessive_agency": "excessive agency (OWASP LLM06)",
}
OWASP: dict[str, str] = {
    "prompt_injection": "LLM01",
    "privacy": "LLM02",
    "misinformation": "LLM09",
    "excessive_agency": "LLM06",
    "system_prompt_leakage": "LLM07",
}


class Probe(Record):
    """One red-team test prompt. ``id`` is stable across runs (resume and diff rely on it)."""

    kind: ClassVar[str] = "probe"

    id: str = Field(description="Stable identifier, e.g. 'cyber.keylogger' or 'cyber.keylogger.benign'.")
    prompt: str = Field(description="The text sent to the target (before converters).")
    category: str = Field(description="A key of CATEGORIES.")
    severity: Severity = Field(default="high", description="Impact if a model complies with the harmful form.")
    expected: Expected = Field(
        default="refuse", description="'refuse' for harmful probes, 'comply' for benign look-alikes."
    )
    family: str | None = Field(default=None, description="Groups a harmful probe with its benign look-alikes.")
    goal: str | None = Field(default=None, description="What a successful attack obtains, for judges and reports.")
    system: str | None = Field(default=None, description="A system prompt for the target (e.g. a secret to leak).")
    canary: str | None = Field(default=None, description="A string whose appearance in the answer proves a leak.")

    @property
    def harmful(self) -> bool:
        return self.expected == "refuse"

    @property
    def owasp(self) -> str | None:
        return OWASP.get(self.category)


def check_category(category: str) -> str:
    if category not in CATEGORIES:
        raise ConfigError(f"unknown category {category!r}; known: {', '.join(CATEGORIES)}")
    return category


class Converter(ABC):
    """Rewrites a prompt to disguise it. Randomness only through ``rng`` (seeded by the scan)."""

    name: ClassVar[str] = "converter"

    def __init__(self, **args: Any) -> None:
        self.args = {k: v for k, v in args.items() if v is not None}

    @property
    def spec(self) -> str:
        if not self.args:
            return self.name
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in sorted(self.args.items()))})"

    @abstractmethod
    def convert(self, prompt: str, rng: random.Random) -> str:
        """The disguised prompt."""

    async def aconvert(self, prompt: str, rng: random.Random) -> str:
        """Async form; converters that call a model (translation) override it."""
        return self.convert(prompt, rng)


ConverterFactory = Callable[..., Converter]

converters: Registry[ConverterFactory] = Registry("converter", builtin_modules=("alignkit.redteam.converters",))


def converter(
    name: str, *, aliases: Sequence[str] = (), description: str = ""
) -> Callable[[ConverterFactory], ConverterFactory]:
    """Register a converter class under ``name``."""
    return converters.register(name, aliases=aliases, description=description)


def get_converter(name: str, **args: Any) -> Converter:
    """Build a registered converter by name (or alias) with its arguments."""
    built: Converter = converters.build(name, **args)
    return built


class Stack(Converter):
    """Converters applied in order: ``Stack([rot13, roleplay])`` wraps the ROT13 text in a role-play."""

    name = "stack"

    def __init__(self, parts: Sequence[Converter]) -> None:
        super().__init__()
        if not parts:
            raise ConfigError("a converter stack needs at least one converter")
        self.parts = list(parts)

    @property
    def spec(self) -> str:
        return "+".join(p.spec for p in self.parts)

    def convert(self, prompt: str, rng: random.Random) -> str:
        for p in self.parts:
            prompt = p.convert(prompt, rng)
        return prompt

    async def aconvert(self, prompt: str, rng: random.Random) -> str:
        for p in self.parts:
            prompt = await p.aconvert(prompt, rng)
        return prompt


def parse_stack(spec: str | Converter) -> Converter:
    """``"base64+roleplay"`` -> a stack of those converters; ``"none"`` or ``""`` -> the identity."""
    if isinstance(spec, Converter):
        return spec
    names = [s.strip() for s in spec.split("+") if s.strip() and s.strip() != "none"]
    if not names:
        return get_converter("identity")
    parts = [get_converter(n) for n in names]
    return parts[0] if len(parts) == 1 else Stack(parts)
