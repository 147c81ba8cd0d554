"""The scan engine: probes x converters (x attacks) against a target, judged and stored as they finish.

- Concurrency: at most ``concurrency`` prompts in flight. Targets that batch natively (local
  transformers models) get chunks of ``batch_size`` prompts; remote endpoints get a sliding window of
  single requests, so a slow answer never holds up the others.
- Failures: a request that errors or exceeds ``timeout_s`` is retried ``retries`` times with
  exponential backoff; after that it is stored as an error, which is never counted as a success.
- Resumable: each attempt has a stable key; attempts already in the run store are skipped, so an
  interrupted scan continues where it stopped and ends with the same rows as an uninterrupted one.
- Deterministic: converters draw from a random generator seeded by (seed, attempt key), so an
  attempt's prompt does not depend on scheduling order.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from alignkit.core.completion import Completion
from alignkit.core.config import GenerateConfig
from alignkit.core.errors import ConfigError
from alignkit.core.messages import Message
from alignkit.core.model import Model
from alignkit.redteam.base import Converter, Probe, parse_stack
from alignkit.redteam.judge import Judge, Judgement
from alignkit.redteam.store import AttemptRow, RunStore

log = logging.getLogger(__name__)


@dataclass
class ScanConfig:
    """How a scan runs. Every default says why it is what it is."""

    concurrency: int = 8  # prompts in flight; what a local OpenAI-compatible server handles without queueing
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


@dataclass(frozen=True)
class Attempt:
    key: str
    probe: Probe
    converter: str
    prompt: str  # after conversion
    attack: str = "static"


@dataclass
class ScanResult:
    run_id: str
    target: str
    rows: list[AttemptRow] = field(default_factory=list)
    skipped: int = 0  # attempts found already done in the store (resume)
    seconds: float = 0.0


def attempt_key(probe_id: str, converter: str, attack: str = "static") -> str:
    return f"{probe_id}|{converter}|{attack}"


def plan(probes: Sequence[Probe], converters: Sequence[str | Converter], seed: int) -> list[Attempt]:
    """Every probe under every converter stack, with deterministically converted prompts."""
    stacks = [parse_stack(c) for c in converters] or [parse_stack("none")]
    out = []
    for stack in stacks:
        for p in probes:
            key = attempt_key(p.id, stack.spec)
            rng = random.Random(f"{seed}:{key}")  # noqa: S311 (reproducible disguise, not secrecy)
            out.append(Attempt(key, p, stack.spec, stack.convert(p.prompt, rng)))
    return out


def _conversation(a: Attempt) -> list[Message]:
    msgs = [Message("system", a.probe.system)] if a.probe.system else []
    return [*msgs, Message("user", a.prompt)]


async def _call_with_retries(
    target: Model, attempts: list[Attempt], gen: GenerateConfig, cfg: ScanConfig
) -> list[Completion]:
    """Answers for ``attempts``; failures retried with backoff, finally returned as failed completions."""
    results: list[Completion | None] = [None] * len(attempts)
    pending = list(range(len(attempts)))
    for round_ in range(cfg.retries + 1):
        try:
            got = await asyncio.wait_for(
                target.agenerate_batch([_conversation(attempts[i]) for i in pending], gen, on_error="record"),
                timeout=cfg.timeout_s,
            )
        except TimeoutError:
            got = [Completion.failed(target.info.spec, f"no answer within {cfg.timeout_s} s") for _ in pending]
        except Exception as e:  # a provider bug must not kill the scan: record it per attempt
            got = [Completion.failed(target.info.spec, f"{type(e).__name__}: {e}") for _ in pending]
        failed = []
        for i, c in zip(pending, got, strict=True):
            results[i] = c
            if not c.ok:
                failed.append(i)
        if not failed or round_ == cfg.retries:
            break
        await asyncio.sleep(cfg.backoff_s * 2**round_)
        pending = failed
    return [r if r is not None else Completion.failed(target.info.spec, "not attempted") for r in results]


def _row(a: Attempt, c: Completion, j: Judgement) -> AttemptRow:
    return AttemptRow(
        key=a.key,
        probe_id=a.probe.id,
        category=a.probe.category,
        expected=a.probe.expected,
        severity=a.probe.severity,
        converter=a.converter,
        attack=a.attack,
        prompt=a.prompt,
        response=c.text if c.ok else None,
        error=c.error,
        status=j.status,
        refused=j.refused,
        harmful=j.harmful,
        success=j.success and a.probe.harmful,
        score=j.score,
        reason=j.reason,
        evidence=j.evidence,
        latency_s=c.latency_s,
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
    """Run ``attempts`` against ``target``, judging and storing each as it finishes."""
    from alignkit.providers.function import as_model

    target = as_model(target)  # a model, or a plain function from prompt to answer
    cfg = config or ScanConfig()
    cap = getattr(target, "max_concurrency", None)
    if isinstance(cap, int) and cap < cfg.concurrency:
        log.warning(
            "%s allows %d requests in flight, fewer than the scan's concurrency %d; raise the provider's "
            "max_concurrency to reach it",
            target.info.spec,
            cap,
            cfg.concurrency,
        )
    store.start_run(
        run_id, target.info.spec, {**asdict(cfg), "judge": judge.spec, **(extra_config or {})}, resume=resume
    )
    done = store.done_keys(run_id)
    todo = [a for a in attempts if a.key not in done]
    result = ScanResult(run_id, target.info.spec, skipped=len(attempts) - len(todo))
    gen = GenerateConfig(max_tokens=cfg.max_tokens, temperature=cfg.temperature, seed=cfg.seed)
    batching = bool(getattr(target, "native_batching", False))
    chunk = min(cfg.batch_size, cfg.concurrency) if batching else 1
    chunks = [todo[i : i + chunk] for i in range(0, len(todo), chunk)]
    slots = asyncio.Semaphore(max(1, cfg.concurrency // chunk))
    finished = result.skipped
    start = time.perf_counter()
    if on_progress:
        on_progress(finished, len(attempts))

    async def work(part: list[Attempt]) -> None:
        nonlocal finished
        async with slots:
            answers = await _call_with_retries(target, part, gen, cfg)
        judged = await judge.ajudge(
            [(a.prompt, c.text if c.ok else None, c.error, a.probe.canary) for a, c in zip(part, answers, strict=True)]
        )
        for a, c, j in zip(part, answers, judged, strict=True):
            row = _row(a, c, j)
            store.add(run_id, row)
            result.rows.append(row)
        finished += len(part)
        if on_progress:
            on_progress(finished, len(attempts))

    await asyncio.gather(*(work(p) for p in chunks))
    result.seconds = time.perf_counter() - start
    store.finish(run_id)
    return result
