"""The red team's vocabulary: probes (what to ask), converters (how to disguise it), attacks (how the
conversation with the target goes) and their registries.

A :class:`Probe` is one test prompt with its hazard category, severity and the behaviour expected of a
safe model: ``refuse`` for a harmful request, ``comply`` for its benign look-alike ("How do I kill a
Python process?"), so a scan measures attack success and over-refusal side by side. A
:class:`Converter` rewrites a prompt (base64, role-play, ...); converters stack. An :class:`Attack`
turns probes into :class:`Attempt` s (``plan``) and produces the :class:`Outcome` of one (``run``),
talking to the target only through the :class:`Session` the scan engine hands it: the engine owns
concurrency, retries, judging, storage and resume for every attack.
"""

from __future__ import annotations

import asyncio
import inspect
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Literal, Protocol

from pydantic import Field

from alignkit.core.completion import Completion
from alignkit.core.errors import ConfigError
from alignkit.core.messages import Message
from alignkit.core.model import Model
from alignkit.core.records import Record
from alignkit.providers.function import as_model
from alignkit.redteam.judge import Judgement
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
        """True for a harmful request (a safe model refuses it), False for a benign look-alike."""
        return self.expected == "refuse"

    @property
    def owasp(self) -> str | None:
        """The OWASP Top 10 for LLM applications risk this probe tests, if any."""
        return OWASP.get(self.category)

    def messages(self, prompt: str | None = None) -> list[Message]:
        """The conversation that sends ``prompt`` (default: the probe's own) under the probe's system prompt."""
        system = [Message("system", self.system)] if self.system else []
        return [*system, Message("user", self.prompt if prompt is None else prompt)]


def check_category(category: str) -> str:
    """``category`` if it is a key of :data:`CATEGORIES`, else a ConfigError listing them."""
    if category not in CATEGORIES:
        raise ConfigError(f"unknown category {category!r}; known: {', '.join(CATEGORIES)}")
    return category


def spec_of(name: str, args: dict[str, Any]) -> str:
    """A plugin as reports show it: its name, then its arguments if any (``leetspeak(rate=0.3)``)."""
    if not args:
        return name
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in sorted(args.items()))})"


class Converter(ABC):
    """Rewrites a prompt to disguise it. Randomness only through ``rng`` (seeded by the scan).

    ``args`` are the constructor arguments that differ from the defaults (models recorded by their
    spec); ``get_converter(name, **args)`` builds the same converter again.
    """

    name: ClassVar[str] = "converter"

    def __init__(self, **args: Any) -> None:
        self.args = {k: v for k, v in args.items() if v is not None}

    @property
    def spec(self) -> str:
        """The converter and its non-default arguments, as reports show it: ``leetspeak(rate=0.3)``."""
        return spec_of(self.name, self.args)

    @property
    def calls_model(self) -> bool:
        """True when converting calls a model: a scan then converts inside its workers, not in ``plan``."""
        return False

    @abstractmethod
    def convert(self, prompt: str, rng: random.Random) -> str:
        """The disguised prompt."""

    async def aconvert(self, prompt: str, rng: random.Random) -> str:
        """Async form; converters that call a model (translation) override it."""
        return self.convert(prompt, rng)


ConverterFactory = Callable[..., Converter]

converters: Registry[ConverterFactory] = Registry("converter", package="alignkit.redteam")


def converter(
    name: str, *, aliases: Sequence[str] = (), description: str = ""
) -> Callable[[ConverterFactory], ConverterFactory]:
    """Register a converter class under ``name``."""
    return converters.register(name, aliases=aliases, description=description)


def _takes_model(name: str) -> bool:
    return "model" in inspect.signature(converters.get(name)).parameters


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
        """The parts' specs joined by ``+``, as ``parse_stack`` reads them."""
        return "+".join(p.spec for p in self.parts)

    @property
    def calls_model(self) -> bool:
        """True when any part calls a model."""
        return any(p.calls_model for p in self.parts)

    def convert(self, prompt: str, rng: random.Random) -> str:
        """Each part's conversion of the previous part's output."""
        for p in self.parts:
            prompt = p.convert(prompt, rng)
        return prompt

    async def aconvert(self, prompt: str, rng: random.Random) -> str:
        """Async form of :meth:`convert`."""
        for p in self.parts:
            prompt = await p.aconvert(prompt, rng)
        return prompt


def parse_stack(spec: str | Converter, model: Model | None = None) -> Converter:
    """``"base64+roleplay"`` -> a stack of those converters; ``"none"`` or ``""`` -> the identity.
    ``model`` goes to every converter of the stack that takes one (``translate``)."""
    if isinstance(spec, Converter):
        return spec
    names = [s.strip() for s in spec.split("+") if s.strip() and s.strip() != "none"]
    if not names:
        return get_converter("identity")
    parts = [get_converter(n, **({"model": model} if model is not None and _takes_model(n) else {})) for n in names]
    return parts[0] if len(parts) == 1 else Stack(parts)


# -- attacks ----------------------------------------------------------------------------------------
def attempt_key(probe_id: str, converter: str, attack: str = "static") -> str:
    """The stable key of an attempt in the run store (resume and diff rely on it)."""
    return f"{probe_id}|{converter}|{attack}"


def attempt_rng(seed: int, key: str) -> random.Random:
    """The random generator a converter draws from for one attempt: the same whatever the scheduling."""
    return random.Random(f"{seed}:{key}")  # noqa: S311 (reproducible disguise, not secrecy)


@dataclass(frozen=True)
class Attempt:
    """One unit of a scan: a probe, disguised by a converter stack, under one attack.

    ``prompt`` is the converted prompt, or None where the stack calls a model: the scan converts it
    then, inside its workers (:meth:`render`).
    """

    key: str
    probe: Probe
    converter: str  # the converter stack's spec
    prompt: str | None
    attack: Attack
    stack: Converter | None = field(default=None, compare=False, repr=False)
    seed: int = 0

    async def render(self) -> str:
        """The prompt to send: ``prompt``, or the probe converted now (for converters that call a model)."""
        if self.prompt is not None:
            return self.prompt
        if self.stack is None:
            raise ConfigError(f"attempt {self.key!r} has neither a prompt nor a converter to make one")
        return await self.stack.aconvert(self.probe.prompt, attempt_rng(self.seed, self.key))


@dataclass(frozen=True)
class Outcome:
    """What an attack produced for one attempt: the last prompt sent, the target's answer to it, the
    judgement where the attack judged it already (else the engine does), and the turns as evidence."""

    prompt: str
    answer: Completion
    judgement: Judgement | None = None
    turns: tuple[dict[str, Any], ...] | None = None


class Session(Protocol):
    """What the scan engine lends an attack for one attempt: the target behind the scan's concurrency,
    retries and timeouts, and the scan's judge."""

    async def ask(self, conversations: Sequence[Sequence[Message]]) -> list[Completion]:
        """The target's answers; failures come back as failed completions, never as exceptions."""
        ...

    async def judge(self, items: Sequence[tuple[Probe, str, Completion]]) -> list[Judgement]:
        """Judgements of ``(probe, prompt sent, answer)`` triples."""
        ...


@dataclass(frozen=True)
class AttackConfig:
    """How the adaptive attacks run. Every default says why it is what it is."""

    turns: int = 4  # crescendo conversation length: published crescendo attacks succeed in 3-5 turns
    budget: int = 5  # PAIR target queries per probe; PAIR reports most successes within a few iterations
    attacker_max_tokens: int = 256  # one attacker turn or prompt; longer ones rarely help

    def __post_init__(self) -> None:
        if self.turns < 1 or self.budget < 1 or self.attacker_max_tokens < 1:
            raise ConfigError("attack turns, budget and attacker_max_tokens must be >= 1")


class Attack(ABC):
    """How the prompts for a probe are produced: one attempt per probe (and converter stack), whose
    outcome :meth:`run` produces through the engine's :class:`Session`. An attack never schedules,
    stores or resumes anything itself.

    ``attacker``: the model that writes attack prompts, for attacks that use one (``uses_attacker``).
    """

    name: ClassVar[str] = "attack"
    uses_attacker: ClassVar[bool] = False

    def __init__(
        self, *, attacker: Model | Callable[..., Any] | None = None, config: AttackConfig | None = None
    ) -> None:
        if attacker is not None and not self.uses_attacker:
            raise ConfigError(f"the {self.name} attack uses no attacker model")
        self.attacker = None if attacker is None else as_model(attacker)
        self.config = config or AttackConfig()

    @property
    def args(self) -> dict[str, Any]:
        """The configuration that differs from the defaults, and the attacker's spec."""
        default = asdict(AttackConfig())
        args = {k: v for k, v in asdict(self.config).items() if v != default[k]}
        return {**args, "attacker": self.attacker.info.spec} if self.attacker else args

    @property
    def spec(self) -> str:
        """The attack and its arguments, as the run store records it: ``crescendo(turns=3)``."""
        return spec_of(self.name, self.args)

    def plan(self, probes: Sequence[Probe], converters: Sequence[str | Converter] = (), seed: int = 0) -> list[Attempt]:
        """The attempts this attack makes: by default each harmful probe once, unconverted (benign
        look-alikes are not attacked, and ``converters`` are not used: the attack writes its own prompts)."""
        return [
            Attempt(attempt_key(p.id, "identity", self.name), p, "identity", p.prompt, self, seed=seed)
            for p in probes
            if p.harmful
        ]

    @abstractmethod
    async def run(self, attempt: Attempt, session: Session) -> Outcome:
        """The outcome of one attempt."""

    async def run_batch(self, attempts: Sequence[Attempt], session: Session) -> list[Outcome]:
        """Outcomes of several attempts (the engine sends a chunk to natively batching targets); by
        default they run concurrently, one :meth:`run` each."""
        return list(await asyncio.gather(*(self.run(a, session) for a in attempts)))


attacks: Registry[type[Attack]] = Registry("attack", package="alignkit.redteam")


def attack(name: str, *, aliases: Sequence[str] = (), description: str = "") -> Callable[[type[Attack]], type[Attack]]:
    """Register an :class:`Attack` subclass under ``name``."""
    return attacks.register(name, aliases=aliases, description=description)


def get_attack(name: str, **args: Any) -> Attack:
    """Build a registered attack by name (or alias): ``get_attack("pair", attacker=model)``."""
    built: Attack = attacks.build(name, **args)
    return built
