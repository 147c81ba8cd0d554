"""Deterministic models for the Constitutional AI tests."""

from __future__ import annotations

import math
import re

from alignkit.core import Completion, GenerateConfig, Message, ModelBase
from alignkit.core.messages import last_user_text
from alignkit.providers.mock import MockModel


def reviser(*, fail_on: str | None = None) -> MockModel:
    """Answers ``ANSWER[<prompt>]``, critiques ``CRITIQUE[<answer>]`` and revises ``Revised answer: SAFE[<answer>]``,
    reading everything from the one user message it gets. ``fail_on``: crash (not a provider error) on
    the first request that contains this text, to simulate a process dying mid-run."""

    def answer(text: str) -> str:
        if fail_on is not None and fail_on in text:
            raise RuntimeError("simulated crash")
        if text.endswith("Write the critique only."):
            return f"CRITIQUE[{_field(text, 'Answer')}]"
        if "Write only the new answer" in text:
            return f"Revised answer: SAFE[{_field(text, 'Answer')}]"
        return f"ANSWER[{text}]"

    return MockModel.from_callable(answer)


def _field(text: str, name: str) -> str:
    found = re.findall(rf"^{name}: (.*)$", text, re.MULTILINE)  # the last one: few-shot examples come first
    assert found, text
    return str(found[-1])


class SeededPolicy(ModelBase):
    """Two distinguishable samples: even seeds give a safe answer, odd seeds an unsafe one."""

    provider = "test"

    def __init__(self) -> None:
        super().__init__("seeded")

    async def _generate_batch(self, prompts: list[tuple[Message, ...]], config: GenerateConfig) -> list[Completion]:
        kind = "SAFE" if (config.seed or 0) % 2 == 0 else "UNSAFE"
        return [Completion.of(f"{kind} reply to {last_user_text(p)}", self.info.spec) for p in prompts]


def safe_option(text: str) -> str:
    """Which option, A or B, holds the SAFE sample in a comparison prompt."""
    a = re.search(r"^\(A\) (.*)$", text, re.MULTILINE)
    assert a, text
    return "A" if a.group(1).startswith("SAFE") else "B"


def logprob_judge(p_right: float = 0.8) -> MockModel:
    """Prefers the safe answer with probability ``p_right``, given as first-token log-probabilities."""

    def judge(text: str) -> tuple[str, dict[str, float]]:
        right = safe_option(text)
        wrong = "B" if right == "A" else "A"
        return right, {right: math.log(p_right), f" {wrong}": math.log(1 - p_right), "The": math.log(0.01)}

    return MockModel.from_callable(judge)
