"""The texts that Constitutional AI sends to models, and the parsers for what comes back.

Every request is one user message that quotes the conversation, so it works the same with chat models,
base models and remote APIs, and a mock model that sees only the last user message sees everything.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

from alignkit.constitution.spec import Example
from alignkit.core.messages import Message

CRITIQUE_TEMPLATE = """{examples}Here is a request to an AI assistant and the assistant's answer.

Request: {prompt}

Answer: {answer}

{request} Write the critique only."""

REVISION_TEMPLATE = """{examples}Here is a request to an AI assistant, the assistant's answer and a critique of it.

Request: {prompt}

Answer: {answer}

Critique: {critique}

{request} Write only the new answer, addressed to the person who asked."""

EXAMPLE_TEMPLATE = """Example.
Request: {prompt}
Answer: {answer}
Critique: {critique}
Revised answer: {revision}

"""

COMPARISON_TEMPLATE = """Consider this conversation between a person and an AI assistant.

{prompt}

{question}
(A) {a}
(B) {b}

{instruction}"""

ANSWER_ONLY = "Reply with the letter of the better answer only: A or B."
THINK_FIRST = "Think step by step about which answer is better, in a few sentences. Do not give the letter yet."
ANSWER_AFTER_THOUGHT = "So, which answer is better? Reply with the letter only: A or B."

CHECK_TEMPLATE = """Here is a request to an AI assistant and the assistant's answer.

Request: {prompt}

Answer: {answer}

{question} Reply with Yes or No only."""

# Opening labels that models put before a revision ("Revised answer: ...") and that must not be learned.
_LABEL = re.compile(
    r"^\s*(?:\*\*)?(?:here is (?:the |my |a )?)?(?:(?:new|revised|rewritten|improved) (?:answer|response|version)"
    r"|revision|answer|response)(?:\*\*)?\s*[:\-]\s*(?:\*\*)?\s*",
    re.IGNORECASE,
)


def render_prompt(prompt: Sequence[Message]) -> str:
    """A conversation as quoted text: a single user turn as it is, longer ones with speaker labels."""
    if len(prompt) == 1 and prompt[0].role == "user":
        return prompt[0].content
    return "\n".join(f"{m.role.capitalize()}: {m.content}" for m in prompt)


def render_examples(examples: Sequence[Example]) -> str:
    return "".join(
        EXAMPLE_TEMPLATE.format(prompt=e.prompt, answer=e.answer, critique=e.critique, revision=e.revision)
        for e in examples
    )


def critique_prompt(prompt: Sequence[Message], answer: str, request: str, examples: Sequence[Example] = ()) -> str:
    return CRITIQUE_TEMPLATE.format(
        examples=render_examples(examples), prompt=render_prompt(prompt), answer=answer, request=request
    )


def revision_prompt(
    prompt: Sequence[Message], answer: str, critique: str, request: str, examples: Sequence[Example] = ()
) -> str:
    return REVISION_TEMPLATE.format(
        examples=render_examples(examples),
        prompt=render_prompt(prompt),
        answer=answer,
        critique=critique,
        request=request,
    )


def comparison_prompt(prompt: Sequence[Message], question: str, a: str, b: str, instruction: str = ANSWER_ONLY) -> str:
    conversation = "\n".join(f"{m.role.capitalize()}: {m.content}" for m in prompt)
    return COMPARISON_TEMPLATE.format(prompt=conversation, question=question, a=a, b=b, instruction=instruction)


def check_prompt(prompt: Sequence[Message], answer: str, question: str) -> str:
    return CHECK_TEMPLATE.format(prompt=render_prompt(prompt), answer=answer, question=question)


def clean_revision(text: str) -> str:
    """The revision without an opening label ("Revised answer: ...") or wrapping quotes."""
    out = _LABEL.sub("", text.strip(), count=1).strip()
    if len(out) >= 2 and out[0] == out[-1] == '"':
        out = out[1:-1].strip()
    return out


# -- reading answers ----------------------------------------------------------------------------------
_LETTER_PATTERNS = (
    re.compile(r"\b(?i:answer)\s*(?i:is|:)?\s*:?\s*\(?([AB])\b\)?"),  # "the answer is (A)", "Answer: B"
    # "A", "(B)", "A." or "B is better" at the start, but not the article in "A bit of both"
    re.compile(r"^\W*\(?([AB])(?:\)|[.:,]|\s*$|\s*\n|\s+(?:is|was|seems)\b)"),
    re.compile(r"\(([AB])\)"),  # "(A)" anywhere
    re.compile(r"\b(?i:answer|response|option)\s+([AB])\b"),  # "Response B is better"
)
_YES_NO = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)
_YES_NO_ANYWHERE = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


def parse_letter(text: str) -> str | None:
    """``"A"`` or ``"B"`` from a multiple-choice answer, or None when it names neither (or both equally)."""
    for pattern in _LETTER_PATTERNS:
        m = pattern.search(text.strip())
        if m:
            return m.group(1).upper()
    return None


def parse_yes_no(text: str) -> bool | None:
    """True for yes, False for no, None when the answer says neither."""
    m = _YES_NO.search(text) or _YES_NO_ANYWHERE.search(text)
    return None if m is None else m.group(1).lower() == "yes"


def choice_probs(top_logprobs: Mapping[str, float] | None, choices: Sequence[str]) -> dict[str, float] | None:
    """Normalised probabilities of ``choices`` from first-token log-probabilities, or None when no
    choice is among the tokens. Tokens count for a choice when they equal it once whitespace,
    brackets and punctuation are stripped (``" A"``, ``"(A"``, ``"A."``); letters are matched in upper
    case only, so the article "a" is not read as option A, while words ("Yes") match ignoring case."""
    if not top_logprobs:
        return None
    mass = dict.fromkeys(choices, 0.0)
    for token, lp in top_logprobs.items():
        key = token.strip().strip("()[]*.:,").strip()
        for c in choices:
            if key == c or (len(c) > 1 and key.lower() == c.lower()):
                mass[c] += math.exp(lp)
    total = sum(mass.values())
    if total <= 0.0:
        return None
    return {c: m / total for c, m in mass.items()}
