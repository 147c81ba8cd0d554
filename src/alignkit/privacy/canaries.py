"""Canaries (Carlini et al., 2019, "The Secret Sharer"): random secrets in a fixed format, inserted
into training data at chosen repetition counts, so that memorization can be measured afterwards.

A canary is an SFT example whose prompt is fixed and whose answer is ``prefix + secret``, the secret
being ``digits`` random digits: the candidate space R is every string of that many digits. The
canary list (prefix, secret, repetitions) is written to a separate file and never mixed into the
training file's records, so the training data carries no mark of which rows are canaries.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from alignkit.core.errors import ConfigError
from alignkit.core.messages import user
from alignkit.core.records import SFTExample

DEFAULT_PROMPT = "What is the access code in the note?"
DEFAULT_PREFIX = "The access code is "
MAX_DIGITS = 12  # 10^12 candidates: far beyond what exposure can rank; more adds nothing measurable
MAX_CANARIES = 10_000


class Canary(BaseModel):
    """One inserted secret: what was inserted, how often, and what ranks it against."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="A name for the canary in reports.")
    prompt: str = Field(description="The user turn the canary answers.")
    prefix: str = Field(description="The fixed text before the secret (the extraction prompt's end).")
    secret: str = Field(pattern=r"^[0-9]{1,12}$", description="The random digits.")
    repeats: int = Field(ge=0, description="How many times it is in the training data (0: a control, never seen).")

    @property
    def digits(self) -> int:
        """The secret's length: the candidate space is 10**digits strings."""
        return len(self.secret)

    def example(self, secret: str | None = None) -> SFTExample:
        """The training example (with another ``secret``: a candidate of the same format)."""
        return SFTExample(prompt=(user(self.prompt),), completion=f"{self.prefix}{secret or self.secret}")


@dataclass(frozen=True)
class CanarySpec:
    """What to insert; each default says why."""

    repeats: tuple[int, ...] = (0, 1, 4, 16)  # 0 is the unseen control; exposure grows with repetition
    per_count: int = 2  # canaries at each count: two give a check that one is not a fluke
    digits: int = 6  # 10^6 candidates: rank is estimated from a sample of them (see exposure)
    prompt: str = DEFAULT_PROMPT
    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if not self.repeats or any(r < 0 or r > 1000 for r in self.repeats):
            raise ConfigError(f"repetition counts must be between 0 and 1000; got {self.repeats}")
        if not 1 <= self.per_count <= 100:
            raise ConfigError(f"canaries per count must be between 1 and 100; got {self.per_count}")
        if not 1 <= self.digits <= MAX_DIGITS:
            raise ConfigError(f"a secret has 1 to {MAX_DIGITS} digits; got {self.digits}")
        if len(self.repeats) * self.per_count > MAX_CANARIES:
            raise ConfigError(f"at most {MAX_CANARIES} canaries; asked for {len(self.repeats) * self.per_count}")
        if not self.prompt.strip():
            raise ConfigError("the canary prompt is empty; give the user turn the canary answers")


def make_canaries(spec: CanarySpec, *, seed: int | None = None) -> list[Canary]:
    """``spec.per_count`` canaries per repetition count, each with a distinct random secret. Without
    ``seed`` the secrets come from the OS's secure generator (real secrets); with one, reproducibly."""
    draw = secrets.SystemRandom() if seed is None else random.Random(seed)  # noqa: S311 (a seeded test run)
    if len(spec.repeats) * spec.per_count > 10**spec.digits // 2:
        raise ConfigError(f"too many canaries for {spec.digits}-digit secrets; use more digits")
    seen: set[str] = set()
    out = []
    for r in spec.repeats:
        for k in range(spec.per_count):
            secret = _fresh(draw, spec.digits, seen)
            out.append(Canary(id=f"r{r}-{k}", prompt=spec.prompt, prefix=spec.prefix, secret=secret, repeats=r))
    return out


def _fresh(draw: Any, digits: int, seen: set[str]) -> str:
    while True:
        secret = "".join(str(draw.randrange(10)) for _ in range(digits))
        if secret not in seen:
            seen.add(secret)
            return secret


def insert_canaries(examples: Sequence[SFTExample], canaries: Sequence[Canary], *, seed: int = 0) -> list[SFTExample]:
    """``examples`` with each canary's example added ``repeats`` times, at random positions."""
    out = list(examples)
    rng = random.Random(seed)  # noqa: S311 (positions, not secrets)
    for c in canaries:
        for _ in range(c.repeats):
            out.insert(rng.randrange(len(out) + 1), c.example())
    return out
