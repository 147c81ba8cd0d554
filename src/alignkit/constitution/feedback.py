"""The RL phase's data: AI feedback on pairs of answers, as soft-labelled preference pairs.

For each prompt the policy samples two answers. For a principle drawn at random (seeded per prompt),
the feedback model gets a multiple-choice question, "which answer better follows the principle, (A) or
(B)?", once in each order, so that a preference for whichever answer comes first cancels out. Each
question's P(first answer) is read from the normalised first-token probabilities of "A" and "B" when
the provider returns log-probabilities, else from the letter it writes (1 or 0). Optionally the
feedback model reasons first (chain of thought) and then answers; Bai et al. then clamp the
probabilities to 40-60% because reasoning makes them overconfident (``clamp``).

The result, P(sample 1 is better) averaged over orders and principles, becomes a
:class:`~alignkit.core.PreferencePair` with ``chosen_prob`` as a soft label and ``annotator`` = the
feedback model's spec: the format the reward model, DPO and PPO of :mod:`alignkit.rlhf` read unchanged.
``pairs.jsonl`` and ``feedback_trace.jsonl`` in ``out_dir`` grow row by row; a rerun skips done prompts.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alignkit.constitution.prompts import (
    ANSWER_AFTER_THOUGHT,
    ANSWER_ONLY,
    THINK_FIRST,
    choice_probs,
    comparison_prompt,
    parse_letter,
)
from alignkit.constitution.spec import Constitution
from alignkit.constitution.store import prompt_keys, read_rows, resume_run
from alignkit.core.completion import Completion
from alignkit.core.config import GenerateConfig
from alignkit.core.errors import ConfigError
from alignkit.core.jsonl import JsonlWriter
from alignkit.core.messages import Message, Prompt, assistant, to_messages, user
from alignkit.core.model import Model
from alignkit.core.records import PreferencePair

PAIRS_FILE = "pairs.jsonl"
TRACE_FILE = "feedback_trace.jsonl"
CHOICES = ("A", "B")


@dataclass(frozen=True)
class FeedbackConfig:
    """How AI feedback is gathered; each default says why."""

    seed: int = 0  # seeds the principles drawn per prompt; samples use seed and seed + 1
    batch_size: int = 8  # prompts per batch of calls; also the most a crash can lose
    sample_config: GenerateConfig = field(
        default_factory=lambda: GenerateConfig(temperature=0.8, max_tokens=128)
    )  # two samples of one model need some spread to differ
    principles_per_prompt: int = 1  # questions per order; more principles average out one phrasing's quirks
    both_orders: bool = True  # ask (A, B) and (B, A): position bias cancels in the average
    use_logprobs: bool = True  # read P(A), P(B) from log-probabilities when the provider gives them
    top_logprobs: int = 20  # first-token alternatives to ask for; 20 is the OpenAI API's maximum
    chain_of_thought: bool = False  # reason first, then answer (two calls per question)
    cot_max_tokens: int = 160  # a short paragraph of reasoning
    clamp: tuple[float, float] | None = None  # e.g. (0.4, 0.6) with chain of thought, as Bai et al. did

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.principles_per_prompt < 1 or not 1 <= self.top_logprobs <= 20:
            raise ConfigError("batch_size and principles_per_prompt must be >= 1, top_logprobs in 1..20")
        if self.clamp is not None and not 0.0 <= self.clamp[0] <= 0.5 <= self.clamp[1] <= 1.0:
            raise ConfigError(f"clamp must be (low, high) with 0 <= low <= 0.5 <= high <= 1; got {self.clamp}")


@dataclass
class FeedbackResult:
    out_dir: Path
    processed: int  # prompts that got a preference pair in this run
    already_done: int
    skipped: int  # identical samples or no parseable verdict (done; not retried)
    failed: int  # a sample failed (a rerun retries it)
    seconds: float
    summary: dict[str, Any]  # whole folder: position bias, order agreement, methods used
    notes: list[str] = field(default_factory=list)  # what resuming repaired after an interrupted run

    @property
    def pairs_path(self) -> Path:
        return self.out_dir / PAIRS_FILE

    @property
    def trace_path(self) -> Path:
        return self.out_dir / TRACE_FILE


@dataclass
class _Question:
    item: int  # index in the chunk
    principle: str
    question: str
    swapped: bool  # True: (A) is sample 2
    messages: tuple[Message, ...] = ()
    reasoning: str | None = None
    answer: str = ""
    method: str = "unparseable"
    p_first: float | None = None  # P(the answer in position A is better)


def read_verdict(c: Completion, use_logprobs: bool) -> tuple[float | None, str]:
    """P(option A is better) and how it was read: ``logprobs``, ``parsed`` or ``unparseable``."""
    if not c.ok:
        return None, "error"
    if use_logprobs:
        probs = choice_probs(c.top_logprobs, CHOICES)
        if probs is not None:
            return probs["A"], "logprobs"
    letter = parse_letter(c.text)
    if letter is None:
        return None, "unparseable"
    return (1.0 if letter == "A" else 0.0), "parsed"


def run_feedback(
    policy: Model,
    feedback_model: Model,
    constitution: Constitution,
    prompts: Sequence[Prompt],
    out_dir: str | Path,
    *,
    settings: FeedbackConfig | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> FeedbackResult:
    """Two samples of ``policy`` per prompt, judged by ``feedback_model`` against the constitution;
    appends soft-labelled pairs to ``out_dir``/pairs.jsonl (and the trace), skipping done prompts."""
    s = settings or FeedbackConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    msgs = [to_messages(p) for p in prompts]
    keys = prompt_keys(msgs)
    done, notes = resume_run(out / PAIRS_FILE, out / TRACE_FILE)
    todo = [(k, m) for k, m in zip(keys, msgs, strict=True) if k not in done]
    already = len(msgs) - len(todo)
    counts = {"ok": 0, "skipped": 0, "error": 0}
    start = time.perf_counter()
    if on_progress:
        on_progress(already, len(msgs))
    with JsonlWriter(out / PAIRS_FILE, append=True) as data, JsonlWriter(out / TRACE_FILE, append=True) as trace:
        for i in range(0, len(todo), s.batch_size):
            chunk = todo[i : i + s.batch_size]
            for row, pair in _feedback_chunk(policy, feedback_model, constitution, chunk, s):
                if pair is not None:
                    data.write(pair)
                trace.write(row)
                counts["ok" if row["status"] == "ok" else "error" if row["status"] == "error" else "skipped"] += 1
            if on_progress:
                on_progress(already + i + len(chunk), len(msgs))
    seconds = time.perf_counter() - start
    return FeedbackResult(
        out, counts["ok"], already, counts["skipped"], counts["error"], seconds, summarize(out), notes
    )


def _feedback_chunk(
    policy: Model,
    feedback_model: Model,
    constitution: Constitution,
    chunk: list[tuple[str, tuple[Message, ...]]],
    s: FeedbackConfig,
) -> list[tuple[dict[str, Any], PreferencePair | None]]:
    prompts = [m for _, m in chunk]
    seed = s.sample_config.seed if s.sample_config.seed is not None else s.seed
    first = policy.generate_batch(prompts, s.sample_config.merge(seed=seed), on_error="record")
    second = policy.generate_batch(prompts, s.sample_config.merge(seed=seed + 1), on_error="record")
    rows: list[dict[str, Any]] = []
    questions: list[_Question] = []
    for n, ((key, prompt), a, b) in enumerate(zip(chunk, first, second, strict=True)):
        row: dict[str, Any] = {
            "key": key,
            "prompt": [m.to_dict() for m in prompt],
            "policy": policy.info.spec,
            "feedback_model": feedback_model.info.spec,
            "constitution": constitution.spec,
            "samples": [a.text.strip(), b.text.strip()],
            "status": "ok",
        }
        rows.append(row)
        if not (a.ok and b.ok):
            row.update(status="error", error=a.error or b.error)
            continue
        if not a.text.strip() or not b.text.strip() or a.text.strip() == b.text.strip():
            row["status"] = "identical" if a.text.strip() == b.text.strip() else "empty"
            continue
        rng = random.Random(f"{s.seed}:{key}")  # noqa: S311 (reproducible draws, not secrecy)
        k = min(s.principles_per_prompt, len(constitution.principles))
        for principle in rng.sample(list(constitution.principles), k):
            question = rng.choice(principle.comparisons())
            for swapped in (False, True) if s.both_orders else (False,):
                questions.append(_Question(n, principle.id, question, swapped))
    _ask(feedback_model, rows, questions, s)
    out: list[tuple[dict[str, Any], PreferencePair | None]] = []
    for n, row in enumerate(rows):
        mine = [q for q in questions if q.item == n]
        if row["status"] != "ok":
            out.append((row, None))
            continue
        row["questions"] = [_question_row(q) for q in mine]
        answered = [q for q in mine if q.p_first is not None]
        if not answered:
            row["status"] = "unparseable"
            out.append((row, None))
            continue
        # P(sample 1 is better): position A is sample 1 unless swapped.
        p1 = statistics.fmean(
            q.p_first if not q.swapped else 1.0 - q.p_first for q in answered if q.p_first is not None
        )
        row["p_sample1"] = round(p1, 6)
        a_text, b_text = row["samples"]
        chosen, rejected, prob = (a_text, b_text, p1) if p1 >= 0.5 else (b_text, a_text, 1.0 - p1)
        pair = PreferencePair(
            id=row["key"],
            source=row["policy"],
            prompt=chunk[n][1],
            chosen=chosen,
            rejected=rejected,
            chosen_prob=round(prob, 6),
            annotator=feedback_model.info.spec,
            metadata={
                "constitution": constitution.spec,
                "principles": sorted({q.principle for q in mine}),
                "methods": sorted({q.method for q in answered}),
            },
        )
        out.append((row, pair))
    return out


def _ask(feedback_model: Model, rows: list[dict[str, Any]], questions: list[_Question], s: FeedbackConfig) -> None:
    """Fill in each question's answer and P(first), in at most two batched calls."""
    for q in questions:
        a, b = rows[q.item]["samples"]
        if q.swapped:
            a, b = b, a
        prompt = to_messages(rows[q.item]["prompt"])
        instruction = THINK_FIRST if s.chain_of_thought else ANSWER_ONLY
        q.messages = (user(comparison_prompt(prompt, q.question, a, b, instruction)),)
    if not questions:
        return
    if s.chain_of_thought:
        thoughts = feedback_model.generate_batch(
            [q.messages for q in questions],
            GenerateConfig(temperature=0.0, max_tokens=s.cot_max_tokens),
            on_error="record",
        )
        for q, t in zip(questions, thoughts, strict=True):
            q.reasoning = t.text.strip() if t.ok else ""
            q.messages = (*q.messages, assistant(q.reasoning), user(ANSWER_AFTER_THOUGHT))
    cfg = GenerateConfig(temperature=0.0, max_tokens=8, top_logprobs=s.top_logprobs if s.use_logprobs else None)
    answers = feedback_model.generate_batch([q.messages for q in questions], cfg, on_error="record")
    for q, c in zip(questions, answers, strict=True):
        q.answer = c.text.strip() if c.ok else f"<error: {c.error}>"
        q.p_first, q.method = read_verdict(c, s.use_logprobs)
        if q.p_first is not None and s.clamp is not None:
            q.p_first = min(max(q.p_first, s.clamp[0]), s.clamp[1])


def _question_row(q: _Question) -> dict[str, Any]:
    row: dict[str, Any] = {
        "principle": q.principle,
        "question": q.question,
        "order": "BA" if q.swapped else "AB",
        "answer": q.answer,
        "method": q.method,
        "p_first": None if q.p_first is None else round(q.p_first, 6),
    }
    if q.reasoning is not None:
        row["reasoning"] = q.reasoning
    return row


def summarize(out_dir: str | Path) -> dict[str, Any]:
    """Over a feedback folder: prompts by status, how verdicts were read, the feedback model's position
    bias (mean P(first position) - 0.5; positive favours (A)) and how often both orders agree."""
    rows = list({r.get("key"): r for r in read_rows(Path(out_dir) / TRACE_FILE)}.values())
    by_status: dict[str, int] = {}
    methods: dict[str, int] = {}
    firsts: list[float] = []
    agree = compared = 0
    for r in rows:
        status = str(r.get("status"))
        by_status[status] = by_status.get(status, 0) + 1
        by_principle: dict[str, dict[str, float]] = {}
        for q in r.get("questions", []):
            methods[q["method"]] = methods.get(q["method"], 0) + 1
            if q["p_first"] is not None:
                firsts.append(q["p_first"])
                p1 = q["p_first"] if q["order"] == "AB" else 1.0 - q["p_first"]
                by_principle.setdefault(q["principle"], {})[q["order"]] = p1
        for orders in by_principle.values():
            if len(orders) == 2 and orders["AB"] != 0.5 and orders["BA"] != 0.5:
                compared += 1
                agree += (orders["AB"] > 0.5) == (orders["BA"] > 0.5)
    return {
        "prompts": len(rows),
        "pairs": by_status.get("ok", 0),
        "by_status": by_status,
        "methods": methods,
        "position_bias": round(statistics.fmean(firsts) - 0.5, 4) if firsts else None,
        "order_agreement": round(agree / compared, 4) if compared else None,
        "order_comparisons": compared,
    }
