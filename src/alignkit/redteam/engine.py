"""The scan engine: the one driver for every attack. Attempts (probes x converters under an attack) go
to a target, are judged and stored as they finish.

- Concurrency: at most ``concurrency`` prompts in flight. Targets that batch natively (local
  transformers models) get chunks of ``batch_size`` attempts; remote endpoints get a sliding window of
  single requests, so a slow answer never holds up the others. Converters that call a model convert
  inside these workers, concurrently. A target with its own default in-flight limit (``openai/``) is
  let raise it to ``concurrency``; a limit its caller chose stands, with a warning.
- Asking and judging are apart: a worker frees its slot as soon as the target answered, and one judging
  task takes every answer waiting, judges them in one batch (CPU detectors in a worker thread) and
  stores them in one transaction. The slots stay full while answers are judged, so the judge's CPU
  time does not slow the target's side of the scan.
- Failures: a request that errors or exceeds ``timeout_s`` is retried ``retries`` times with
  exponential backoff; after that it is stored as an error, which is never counted as a success nor
  as a judged attempt (reports count it apart; a gate that could not measure fails: redteam.gate).
- Resumable: each attempt has a stable key; attempts already in the run store are skipped, so an
  interrupted scan continues where it stopped and ends with the same rows as an uninterrupted one,
  whichever attacks it runs.
- Deterministic: converters draw from a random generator seeded by (seed, attempt key), so an
  attempt's prompt does not depend on scheduling order.
- One row per attempt, built by :func:`attempt_row` alone.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

from alignkit.core.completion import Completion
from alignkit.core.config import GenerateConfig
from alignkit.core.errors import ConfigError
from alignkit.core.messages import Message
from alignkit.core.model import Model
from alignkit.providers.function import as_model
from alignkit.redteam.attacks import Static
from alignkit.redteam.base import Attack, Attempt, Converter, Outcome, Probe
from alignkit.redteam.judge import Judge, Judgement
from alignkit.redteam.store import AttemptRow, RunStore

log = logging.getLogger(__name__)

JUDGE_BATCH = 64  # answers judged and stored together at most: large enough to amortise, small enough to report


@runtime_checkable
class InFlightLimited(Protocol):
    """A target that keeps its own limit on requests in flight (``openai/``), and may let a scan raise it."""

    @property
    def max_concurrency(self) -> int: ...

    def allow_concurrency(self, n: int) -> bool: ...


@dataclass
class ScanConfig:
    """How a scan runs. Every default says why it is what it is."""

    # prompts in flight; what a local OpenAI-compatible server handles without queueing. A target whose
    # in-flight limit is its provider's default is raised to this (OpenAIModel.allow_concurrency).
    concurrency: int = 8
    batch_size: int = 8  # prompts per call for natively batching targets: 3.4x the tokens/s of batch 1 on CPU
    retries: int = 2  # a transient failure is retried; persistent ones are stored as errors
    timeout_s: float = 300.0  # per call: a CPU batch of 8 long answers takes about a minute
    backoff_s: float = 1.0  # base of the exponential backoff between retries
    seed: int = 0  # converters and sampling draw from this
    max_tokens: int = 192  # enough for an answer to show harmful help, short enough to scan fast
    temperature: float | None = None  # None: greedy, so a rerun reproduces the run

    def __post_init__(self) -> None:
        if self.concurrency < 1 or self.batch_size < 1 or self.retries < 0 or self.timeout_s <= 0:
            raise ConfigError("concurrency and batch_size must be >= 1, retries >= 0, timeout_s > 0")


@dataclass
class ScanResult:
    """The rows a scan stored in this call (not those skipped on resume), and how long it took."""

    run_id: str
    target: str
    rows: list[AttemptRow] = field(default_factory=list)
    skipped: int = 0  # attempts found already done in the store (resume)
    seconds: float = 0.0


def plan(
    probes: Sequence[Probe],
    converters: Sequence[str | Converter] = ("none",),
    seed: int = 0,
    attacks: Sequence[Attack] = (),
) -> list[Attempt]:
    """The attempts of a scan: each attack's plan, in order (default: static, every probe under every
    converter stack, with deterministically converted prompts)."""
    return [a for attack in (attacks or [Static()]) for a in attack.plan(probes, converters, seed)]


def attempt_row(attempt: Attempt, outcome: Outcome, judgement: Judgement) -> AttemptRow:
    """The stored row of a judged attempt: the only place a row is built."""
    probe, answer = attempt.probe, outcome.answer
    evidence = judgement.evidence if outcome.turns is None else {**judgement.evidence, "turns": list(outcome.turns)}
    return AttemptRow(
        key=attempt.key,
        probe_id=probe.id,
        category=probe.category,
        expected=probe.expected,
        severity=probe.severity,
        converter=attempt.converter,
        attack=attempt.attack.name,
        prompt=outcome.prompt,
        response=answer.text if answer.ok else None,
        error=answer.error,
        status=judgement.status,
        refused=judgement.refused,
        harmful=judgement.harmful,
        success=judgement.success and probe.harmful,  # a benign look-alike is never a successful attack
        score=judgement.score,
        reason=judgement.reason,
        evidence=evidence,
        latency_s=answer.latency_s,
    )


class _Session:
    """The engine's side of :class:`~alignkit.redteam.base.Session`: the target behind retries and
    timeouts, and the judge."""

    def __init__(self, target: Model, judge: Judge, config: ScanConfig) -> None:
        self.target, self._judge, self.config = target, judge, config
        self.gen = GenerateConfig(max_tokens=config.max_tokens, temperature=config.temperature, seed=config.seed)

    async def ask(self, conversations: Sequence[Sequence[Message]]) -> list[Completion]:
        """Answers; failures retried with backoff, finally returned as failed completions."""
        cfg, spec = self.config, self.target.info.spec
        results: list[Completion | None] = [None] * len(conversations)
        pending = list(range(len(conversations)))
        for round_ in range(cfg.retries + 1):
            if not pending:
                break
            try:
                async with asyncio.timeout(cfg.timeout_s):  # no task per call, unlike wait_for
                    got = await self.target.agenerate_batch(
                        [list(conversations[i]) for i in pending], self.gen, on_error="record"
                    )
            except TimeoutError:
                got = [Completion.failed(spec, f"no answer within {cfg.timeout_s} s") for _ in pending]
            except Exception as e:  # a provider bug must not kill the scan: record it per attempt
                got = [Completion.failed(spec, f"{type(e).__name__}: {e}") for _ in pending]
            for i, c in zip(pending, got, strict=True):
                results[i] = c
            pending = [i for i, c in zip(pending, got, strict=True) if not c.ok]
            if pending and round_ < cfg.retries:
                await asyncio.sleep(cfg.backoff_s * 2**round_)
        return [r if r is not None else Completion.failed(spec, "not attempted") for r in results]

    async def judge(self, items: Sequence[tuple[Probe, str, Completion]]) -> list[Judgement]:
        """Judgements of ``(probe, prompt sent, answer)`` triples, in one batch."""
        return await self._judge.ajudge(
            [(prompt, c.text if c.ok else None, c.error, probe.canary) for probe, prompt, c in items]
        )

    async def settle(self, attempts: Sequence[Attempt], outcomes: Sequence[Outcome]) -> list[Judgement]:
        """The judgement of each outcome: the attack's own where it judged, else the judge's (one batch)."""
        todo = [(a.probe, o.prompt, o.answer) for a, o in zip(attempts, outcomes, strict=True) if o.judgement is None]
        fresh = iter(await self.judge(todo) if todo else [])
        return [o.judgement if o.judgement is not None else next(fresh) for o in outcomes]


def _chunks(attempts: Sequence[Attempt], size: int) -> list[list[Attempt]]:
    """Consecutive attempts of the same attack, at most ``size`` at a time."""
    out: list[list[Attempt]] = []
    for a in attempts:
        if out and len(out[-1]) < size and out[-1][0].attack is a.attack:
            out[-1].append(a)
        else:
            out.append([a])
    return out


def fit_concurrency(target: Model, cfg: ScanConfig) -> None:
    """Let ``target`` keep ``cfg.concurrency`` requests in flight where its limit is only a default;
    warn when a limit its caller set holds the scan below that."""
    if not isinstance(target, InFlightLimited) or target.allow_concurrency(cfg.concurrency):
        return
    log.warning(
        "%s allows %d requests in flight (max_concurrency, set by its caller), fewer than the scan's "
        "concurrency %d: the scan runs at %d; raise max_concurrency to go faster",
        target.info.spec,
        target.max_concurrency,
        cfg.concurrency,
        target.max_concurrency,
    )


async def run_scan(
    target: Model | Callable[..., Any],
    attempts: Sequence[Attempt],
    *,
    judge: Judge,
    store: RunStore,
    run_id: str,
    config: ScanConfig | None = None,
    resume: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
    extra_config: dict[str, Any] | None = None,
) -> ScanResult:
    """Run ``attempts`` (of any attacks, see :func:`plan`) against ``target`` (a model, or a plain
    function from prompt to answer), judging and storing each as it finishes."""
    model = as_model(target)
    cfg = config or ScanConfig()
    fit_concurrency(model, cfg)
    specs = list(dict.fromkeys(a.attack.spec for a in attempts))
    run_config = {**asdict(cfg), "judge": judge.spec, "attacks": specs, **(extra_config or {})}
    store.start_run(run_id, model.info.spec, run_config, resume=resume)
    done = store.done_keys(run_id)
    todo = [a for a in attempts if a.key not in done]
    result = ScanResult(run_id, model.info.spec, skipped=len(attempts) - len(todo))
    session = _Session(model, judge, cfg)
    chunk = min(cfg.batch_size, cfg.concurrency) if getattr(model, "native_batching", False) else 1
    slots = asyncio.Semaphore(max(1, cfg.concurrency // chunk))
    answered: list[tuple[Attempt, Outcome]] = []  # answers waiting for the judge
    judging = False  # a worker is judging: the others leave their answers to it
    finished = result.skipped
    start = time.perf_counter()
    if on_progress:
        on_progress(finished, len(attempts))

    async def judge_and_store(batch: list[tuple[Attempt, Outcome]]) -> None:
        nonlocal finished
        tried, outcomes = [a for a, _ in batch], [o for _, o in batch]
        judgements = await session.settle(tried, outcomes)
        rows = [attempt_row(a, o, j) for a, o, j in zip(tried, outcomes, judgements, strict=True)]
        store.add_many(run_id, rows)
        result.rows.extend(rows)
        finished += len(rows)
        if on_progress:
            on_progress(finished, len(attempts))

    async def work(part: list[Attempt]) -> None:
        nonlocal judging
        async with slots:
            outcomes = await part[0].attack.run_batch(part, session)
        answered.extend(zip(part, outcomes, strict=True))
        if judging:
            return
        judging = True  # this worker judges every answer waiting, including those that come meanwhile
        try:
            while answered:
                await asyncio.sleep(0)  # answers that came in the same tick join this batch
                batch = answered[:JUDGE_BATCH]
                del answered[:JUDGE_BATCH]
                await judge_and_store(batch)
        finally:
            judging = False

    await asyncio.gather(*(work(part) for part in _chunks(todo, chunk)))
    result.seconds = time.perf_counter() - start
    store.finish(run_id)
    return result
