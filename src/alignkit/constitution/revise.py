"""The supervised phase of Constitutional AI: answer, critique against a principle, revise, N rounds.

For each red-team prompt the model answers; then, for each round, a principle is drawn at random
(seeded per prompt and round, so the draw does not depend on batching or on resuming), the model
critiques its latest answer with one of the principle's critique requests and rewrites it with the
paired revision request. The final revision becomes the target of an :class:`~alignkit.core.SFTExample`
for the original prompt. Helpful prompts are mixed in (``helpful_ratio`` per red-team prompt) with the
model's plain answer as the target (or its revision), so fine-tuning does not teach refusing everything.

Two files grow in ``out_dir``, flushed row by row: ``sft.jsonl`` (the dataset) and ``trace.jsonl``
(every answer, critique and revision). A rerun skips the prompts already there, so a crash loses at most
the batch in flight. Generation goes through ``generate_batch``: local models batch, remote ones run
concurrently.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from alignkit.constitution.prompts import clean_revision, critique_prompt, revision_prompt
from alignkit.constitution.spec import Constitution
from alignkit.constitution.store import prompt_keys, read_rows, resume_run
from alignkit.core.config import GenerateConfig
from alignkit.core.errors import ConfigError
from alignkit.core.jsonl import JsonlWriter
from alignkit.core.messages import Message, Prompt, to_messages
from alignkit.core.model import Model
from alignkit.core.records import SFTExample

SFT_FILE = "sft.jsonl"
TRACE_FILE = "trace.jsonl"

OnProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class ReviseConfig:
    """How the critique-revision loop runs; each default says why."""

    rounds: int = 1  # critique-revision rounds per prompt; Bai et al. found the first revision gains the most
    seed: int = 0  # seeds the principle and phrasing drawn for each prompt and round, and the helpful mix
    batch_size: int = 8  # prompts per generate_batch call; also the most a crash can lose
    few_shot: int = 1  # constitution examples shown in each request; each adds ~100 prompt tokens per call
    helpful_ratio: float = 1.0  # helpful prompts mixed in per red-team prompt (capped by how many are given)
    helpful_target: Literal["answer", "revision"] = "answer"  # Bai et al. kept helpful answers as they were
    config: GenerateConfig = field(default_factory=lambda: GenerateConfig(max_tokens=192))  # answers, revisions
    critique_max_tokens: int = 128  # a critique needs a few sentences, not an essay

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise ConfigError(f"rounds must be at least 1; got {self.rounds}")
        if self.batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1; got {self.batch_size}")
        if self.few_shot < 0 or self.helpful_ratio < 0 or self.critique_max_tokens < 1:
            raise ConfigError("few_shot and helpful_ratio must be >= 0 and critique_max_tokens >= 1")
        if self.helpful_target not in ("answer", "revision"):
            raise ConfigError(f"helpful_target must be 'answer' or 'revision'; got {self.helpful_target!r}")


@dataclass
class ReviseResult:
    """What a run did (this run) and where its files are."""

    out_dir: Path
    processed: int  # prompts finished in this run
    already_done: int  # prompts skipped because an earlier run finished them
    failed: int  # prompts whose first answer failed (a rerun retries them)
    seconds: float
    summary: dict[str, Any]  # over the whole dataset, earlier runs included
    notes: list[str] = field(default_factory=list)  # what resuming repaired after an interrupted run

    @property
    def prompts_per_minute(self) -> float:
        return 60.0 * self.processed / self.seconds if self.seconds > 0 else 0.0

    @property
    def sft_path(self) -> Path:
        return self.out_dir / SFT_FILE

    @property
    def trace_path(self) -> Path:
        return self.out_dir / TRACE_FILE


@dataclass
class _Item:
    key: str
    kind: Literal["redteam", "helpful"]
    prompt: tuple[Message, ...]
    answer: str = ""
    status: str = "ok"
    error: str | None = None
    rounds: list[dict[str, Any]] = field(default_factory=list)
    initial: str = ""


def mix_prompts(
    redteam: Sequence[Prompt], helpful: Sequence[Prompt], ratio: float, seed: int
) -> list[tuple[str, Literal["redteam", "helpful"], tuple[Message, ...]]]:
    """``(key, kind, prompt)`` for every red-team prompt and ``ratio`` helpful ones per red-team prompt,
    shuffled together (seeded) so that fine-tuning batches mix both kinds."""
    red = [to_messages(p) for p in redteam]
    helpful_msgs = [to_messages(p) for p in helpful]
    n_helpful = min(len(helpful_msgs), round(ratio * len(red)))
    rng = random.Random(seed)  # noqa: S311 (reproducible sampling, not secrecy)
    chosen = sorted(rng.sample(range(len(helpful_msgs)), n_helpful))
    picked = [helpful_msgs[i] for i in chosen]
    items: list[tuple[str, Literal["redteam", "helpful"], tuple[Message, ...]]] = [
        (f"r-{k}", "redteam", p) for k, p in zip(prompt_keys(red), red, strict=True)
    ]
    items += [(f"h-{k}", "helpful", p) for k, p in zip(prompt_keys(picked), picked, strict=True)]
    rng.shuffle(items)
    return items


def run_revision(
    model: Model,
    constitution: Constitution,
    prompts: Sequence[Prompt],
    out_dir: str | Path,
    *,
    helpful: Sequence[Prompt] = (),
    settings: ReviseConfig | None = None,
    on_progress: OnProgress | None = None,
) -> ReviseResult:
    """Run the critique-revision loop over ``prompts`` (plus mixed-in ``helpful`` ones) with ``model``;
    append to ``out_dir``/sft.jsonl and trace.jsonl, skipping prompts an earlier run finished."""
    s = settings or ReviseConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    items = mix_prompts(prompts, helpful, s.helpful_ratio, s.seed)
    done, notes = resume_run(out / SFT_FILE, out / TRACE_FILE)
    todo = [_Item(k, kind, p) for k, kind, p in items if k not in done]
    already = len(items) - len(todo)
    start, processed, failed = time.perf_counter(), 0, 0
    if on_progress:
        on_progress(already, len(items))
    with JsonlWriter(out / SFT_FILE, append=True) as data, JsonlWriter(out / TRACE_FILE, append=True) as trace:
        for i in range(0, len(todo), s.batch_size):
            chunk = todo[i : i + s.batch_size]
            _revise_chunk(model, constitution, chunk, s)
            for it in chunk:
                if it.status == "ok":
                    data.write(
                        SFTExample(
                            id=it.key,
                            source=model.info.spec,
                            prompt=it.prompt,
                            completion=it.answer,
                            metadata={
                                "kind": it.kind,
                                "constitution": constitution.spec,
                                "principles": [r["principle"] for r in it.rounds],
                                "revised": it.answer != it.initial,
                            },
                        )
                    )
                trace.write(_trace_row(it, model, constitution))
                processed += it.status == "ok"
                failed += it.status == "error"
            if on_progress:
                on_progress(already + i + len(chunk), len(items))
    seconds = time.perf_counter() - start
    return ReviseResult(out, processed, already, failed, seconds, summarize_trace(out), notes)


def _revise_chunk(model: Model, constitution: Constitution, chunk: list[_Item], s: ReviseConfig) -> None:
    answers = model.generate_batch([it.prompt for it in chunk], s.config, on_error="record")
    for it, a in zip(chunk, answers, strict=True):
        if not a.ok:
            it.status, it.error = "error", f"answer failed: {a.error}"
        elif not a.text.strip():
            it.status = "empty"  # nothing to learn from, and nothing to critique
        it.answer = it.initial = a.text.strip()
    critique_cfg = s.config.merge(max_tokens=s.critique_max_tokens)
    for r in range(s.rounds):
        live = [it for it in chunk if it.status == "ok" and (it.kind == "redteam" or s.helpful_target == "revision")]
        live = [it for it in live if not (it.rounds and it.rounds[-1].get("stopped"))]
        if not live:
            return
        plans = []
        for it in live:
            rng = random.Random(f"{s.seed}:{it.key}:{r}")  # noqa: S311 (reproducible draws, not secrecy)
            principle = constitution.draw(rng)
            crit_req, rev_req = principle.draw_requests(rng)
            examples = constitution.examples_for(principle.id, s.few_shot) if s.few_shot else []
            plans.append((it, principle, crit_req, rev_req, examples))
        critiques = model.generate_batch(
            [critique_prompt(it.prompt, it.answer, cr, ex) for it, _, cr, _, ex in plans],
            critique_cfg,
            on_error="record",
        )
        ok = [(plan, c.text.strip()) for plan, c in zip(plans, critiques, strict=True) if c.ok and c.text.strip()]
        for plan, c in zip(plans, critiques, strict=True):
            if not (c.ok and c.text.strip()):
                plan[0].rounds.append(
                    {"round": r + 1, "principle": plan[1].id, "critique_request": plan[2], "stopped": True,
                     "error": c.error or "empty critique"}
                )  # fmt: skip
        revisions = model.generate_batch(
            [revision_prompt(it.prompt, it.answer, crit, rr, ex) for (it, _, _, rr, ex), crit in ok],
            s.config,
            on_error="record",
        )
        for ((it, principle, cr, rr, _), crit), rev in zip(ok, revisions, strict=True):
            cleaned = clean_revision(rev.text) if rev.ok else ""
            step: dict[str, Any] = {
                "round": r + 1,
                "principle": principle.id,
                "critique_request": cr,
                "critique": crit,
                "revision_request": rr,
                "revision": cleaned,
            }
            if not cleaned:
                step.update(stopped=True, error=rev.error or "empty revision; the previous answer is kept")
            else:
                it.answer = cleaned
            it.rounds.append(step)


def _trace_row(it: _Item, model: Model, constitution: Constitution) -> dict[str, Any]:
    return {
        "key": it.key,
        "kind": it.kind,
        "status": it.status,
        "error": it.error,
        "model": model.info.spec,
        "constitution": constitution.spec,
        "prompt": [m.to_dict() for m in it.prompt],
        "initial_answer": it.initial,
        "rounds": it.rounds,
        "final_answer": it.answer,
    }


def summarize_trace(out_dir: str | Path) -> dict[str, Any]:
    """Counts over a run folder's trace: prompts by kind and status, principles drawn, answers revised."""
    rows = read_rows(Path(out_dir) / TRACE_FILE)
    latest = {r.get("key"): r for r in rows}  # a retried prompt counts once, as it ended
    by_kind: dict[str, int] = {}
    by_status: dict[str, int] = {}
    principles: dict[str, int] = {}
    revised = rounds = 0
    for r in latest.values():
        kind, status = str(r.get("kind")), str(r.get("status"))
        by_kind[kind] = by_kind.get(kind, 0) + 1
        by_status[status] = by_status.get(status, 0) + 1
        for step in r.get("rounds") or []:
            principles[str(step.get("principle"))] = principles.get(str(step.get("principle")), 0) + 1
            rounds += 1
        revised += status == "ok" and r.get("final_answer") != r.get("initial_answer")
    return {
        "prompts": len(latest),
        "by_kind": by_kind,
        "by_status": by_status,
        "rounds": rounds,
        "principles_drawn": dict(sorted(principles.items())),
        "revised": revised,
    }
