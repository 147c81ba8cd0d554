"""Multi-layer defense, measured: attack success and over-refusal for every combination of input filter,
hardened system prompt and output filter, so a team sees what each layer buys.

The layers are the ones the gateway stacks on a request, taken from where they live:

- **input filter**: the guard's input rail alone (a copy of the guard keeping its input validators);
- **system prompt**: :class:`HardenedModel`, the gateway's :func:`~alignkit.gateway.pipeline.harden` in
  front of the model (the safety system prompt first, untrusted content spotlighted);
- **output filter**: the guard's output rail alone.

:func:`measure_layers` scans the same attempts (same probes, sample and seed) through all eight
combinations with :func:`~alignkit.redteam.engine.run_scan`, one stored run each, judged by the same judge.

What is shared: the target's answers. Every combination asks the model through one
:class:`SharedAnswers`, which generates each distinct (conversation, generation settings) once. An input
filter only removes prompts (the ones it passes reach the model unchanged) and an output filter only
post-processes the answer, so the four combinations without the system prompt share one set of answers
and the four with it another: the model answers at most 2 x N prompts instead of up to 8 x N (fewer when
an input filter runs first). Judging is not shared: each combination's final answers are judged on their
own (the judge's detectors take about a millisecond an answer).
"""

from __future__ import annotations

import copy
import html
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from alignkit._version import __version__
from alignkit.core.completion import Completion
from alignkit.core.config import GenerateConfig
from alignkit.core.errors import ConfigError
from alignkit.core.messages import Message
from alignkit.core.model import Model, ModelBase, ModelInfo
from alignkit.gateway.config import RouteConfig
from alignkit.gateway.pipeline import harden
from alignkit.guard import BaseGuard, GuardedModel
from alignkit.guard.validator import Rail
from alignkit.redteam.base import Attempt
from alignkit.redteam.engine import ScanConfig, run_scan
from alignkit.redteam.judge import Judge
from alignkit.redteam.store import RunStore
from alignkit.redteam.summary import Rate, Summary, summarize


@dataclass(frozen=True)
class Layers:
    """Which defenses are on."""

    input: bool = False
    system_prompt: bool = False
    output: bool = False

    @property
    def name(self) -> str:
        """``bare``, or the layers that are on: ``input + system prompt + output``."""
        on = [
            n for n, v in (("input", self.input), ("system prompt", self.system_prompt), ("output", self.output)) if v
        ]
        return " + ".join(on) or "bare"

    @property
    def slug(self) -> str:
        """The name as a run id suffix: ``bare``, ``input-system-output``."""
        on = [n for n, v in (("input", self.input), ("system", self.system_prompt), ("output", self.output)) if v]
        return "-".join(on) or "bare"

    def to_dict(self) -> dict[str, bool]:
        return {"input_filter": self.input, "system_prompt": self.system_prompt, "output_filter": self.output}


COMBINATIONS: tuple[Layers, ...] = tuple(
    sorted(
        (Layers(i, s, o) for i in (False, True) for s in (False, True) for o in (False, True)),
        key=lambda c: (c.input + c.system_prompt + c.output, not c.input, not c.system_prompt),
    )
)
"""All eight, bare first, then one layer, two, and all three."""


class HardenedModel(ModelBase):
    """``inner`` behind the gateway's hardening: the safety system prompt (``"default"``:
    :data:`~alignkit.gateway.config.SAFETY_SYSTEM_PROMPT`, or your own text) goes first, and untrusted
    content (``tool`` messages) is wrapped in ``<untrusted>`` tags when ``spotlight`` is on."""

    provider = "hardened"

    def __init__(self, inner: Model, system_prompt: str = "default", *, spotlight: bool = True) -> None:
        super().__init__(inner.info.spec, system_prompt=system_prompt if system_prompt == "default" else "custom")
        self.inner = inner
        self.route = RouteConfig(
            name=inner.info.spec, model=inner.info.spec, system_prompt=system_prompt, spotlight=spotlight
        )
        self.native_batching = bool(getattr(inner, "native_batching", False))

    async def _generate_batch(self, prompts: list[tuple[Message, ...]], config: GenerateConfig) -> list[Completion]:
        hardened = [harden(self.route, p) for p in prompts]
        return await self.inner.agenerate_batch(hardened, config, on_error="record")


class SharedAnswers(ModelBase):
    """``inner``, answering each distinct (conversation, generation settings) once and repeating that
    answer when it is asked again. Failed answers are not kept (a retry asks again). Its ``info`` is the
    inner model's: reports name the model, not this wrapper."""

    def __init__(self, inner: Model) -> None:
        super().__init__(inner.info.spec)
        self.inner = inner
        self.native_batching = bool(getattr(inner, "native_batching", False))
        self._answers: dict[tuple[tuple[Message, ...], str], Completion] = {}
        self.generated = 0  # answers the inner model produced
        self.reused = 0  # answers handed out again

    @property
    def info(self) -> ModelInfo:
        return self.inner.info

    async def _generate_batch(self, prompts: list[tuple[Message, ...]], config: GenerateConfig) -> list[Completion]:
        settings = config.model_dump_json()
        keys = [(p, settings) for p in prompts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._answers))
        fresh = await self.inner.agenerate_batch([list(k[0]) for k in missing], config, on_error="record")
        failed: dict[tuple[tuple[Message, ...], str], Completion] = {}
        for k, c in zip(missing, fresh, strict=True):
            if c.ok:
                self._answers[k] = c
            else:
                failed[k] = c
        self.generated += sum(c.ok for c in fresh)
        self.reused += len(keys) - len(missing)
        return [self._answers.get(k) or failed[k] for k in keys]


def one_rail(guard: BaseGuard, rail: Rail) -> BaseGuard:
    """A copy of ``guard`` (same settings, same built validators) with only the validators of ``rail``."""
    out = copy.copy(guard)
    out.validators = guard.rail(rail)
    return out


def defenses(model: Model, guard: BaseGuard, layers: Layers, system_prompt: str = "default") -> Model:
    """``model`` behind the layers that are on: hardened, then the guard's rails that are on around it."""
    target = HardenedModel(model, system_prompt) if layers.system_prompt else model
    if layers.input and layers.output:
        return GuardedModel(target, guard)
    if layers.input or layers.output:
        return GuardedModel(target, one_rail(guard, "input" if layers.input else "output"))
    return target


@dataclass
class LayerRun:
    """One combination's scan: its stored run and its summary."""

    layers: Layers
    run_id: str
    summary: Summary


def change(rate: Rate, base: Rate) -> float | None:
    """``rate`` minus ``base`` in percentage points; None when either could not be measured."""
    if rate.value is None or base.value is None:
        return None
    return round(100 * (rate.value - base.value), 1)


@dataclass
class LayersResult:
    """Every combination's run, and what the shared answers saved."""

    target: str
    runs: list[LayerRun]
    guard: dict[str, Any]
    system_prompt: str
    attempts: int  # attempts per combination
    generated: int = 0  # answers the model produced, over all combinations
    reused: int = 0  # answers shared between combinations instead of generated again
    seconds: float = 0.0
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def bare(self) -> LayerRun:
        """The run without any layer (every change is against it)."""
        return next(r for r in self.runs if r.layers == Layers())

    def unmeasured(self) -> list[str]:
        """Why combinations could not measure attack success (no harmful attempt judged), one line each."""
        return [
            f"{r.layers.name}: attack success not measured ({r.summary.harmful.text()}; run {r.run_id})"
            for r in self.runs
            if not r.summary.asr.total
        ]

    def to_dict(self) -> dict[str, Any]:
        """The comparison as the JSON report writes it (each run's attempts stay in the run store)."""
        base = self.bare.summary
        rows = []
        for r in self.runs:
            s = {k: v for k, v in r.summary.to_dict().items() if k != "vulnerabilities"}
            rows.append(
                {
                    "layers": r.layers.to_dict(),
                    "name": r.layers.name,
                    "run_id": r.run_id,
                    **s,
                    "change_vs_bare_pp": {
                        "attack_success": change(r.summary.asr, base.asr),
                        "over_refusal": change(r.summary.over_refusal, base.over_refusal),
                    },
                }
            )
        return {
            "target": self.target,
            "guard": self.guard,
            "system_prompt": self.system_prompt,
            "attempts_per_combination": self.attempts,
            "config": self.config,
            "shared": {
                "answers_generated": self.generated,
                "answers_reused": self.reused,
                "how": "one answer per distinct conversation: the combinations without the system prompt share "
                "one set, those with it another; output filters post-process shared answers; each combination "
                "is judged on its own final answers",
            },
            "seconds": round(self.seconds, 1),
            "combinations": rows,
            "alignkit": __version__,
        }


Progress = Callable[[Layers, int, int], None]
"""``on_progress(combination, attempts done, attempts in all)`` while a combination is scanned."""


def _reporter(on_progress: Progress | None, layers: Layers) -> Callable[[int, int], None] | None:
    """The scan's progress callback for one combination."""
    if on_progress is None:
        return None
    report = on_progress
    return lambda done, total: report(layers, done, total)


async def measure_layers(
    model: Model,
    guard: BaseGuard,
    attempts: Sequence[Attempt],
    *,
    judge: Judge,
    store: RunStore,
    run_prefix: str,
    config: ScanConfig | None = None,
    system_prompt: str = "default",
    combinations: Sequence[Layers] = COMBINATIONS,
    on_progress: Progress | None = None,
    extra_config: dict[str, Any] | None = None,
) -> LayersResult:
    """Scan ``attempts`` against ``model`` under each combination of layers (run ``{run_prefix}-{slug}``
    in ``store``), sharing the model's answers between them (see the module docstring). ``guard`` must
    have validators on both rails: a layer that is empty would measure nothing."""
    for rail in ("input", "output"):
        if not guard.rail(rail):
            raise ConfigError(
                f"guard {guard.name!r} has no {rail} validators, so its {rail} filter layer would measure "
                f"nothing; use a guard spec with validators under both input and output (e.g. the default)"
            )
    if Layers() not in combinations:
        raise ConfigError("the combinations must include the bare one (no layer): every change is against it")
    cfg = config or ScanConfig()
    shared = SharedAnswers(model)
    result = LayersResult(model.info.spec, [], guard.describe(), system_prompt, len(attempts))
    result.config = {**asdict(cfg), "judge": judge.spec, **(extra_config or {})}
    start = time.perf_counter()
    for layers in combinations:
        run_id = f"{run_prefix}-{layers.slug}"
        extra = {**(extra_config or {}), "layers": layers.to_dict(), "system_prompt": system_prompt}
        await run_scan(
            defenses(shared, guard, layers, system_prompt), attempts, judge=judge, store=store, run_id=run_id,
            config=cfg, on_progress=_reporter(on_progress, layers), extra_config=extra,
        )  # fmt: skip
        result.runs.append(LayerRun(layers, run_id, summarize(store.attempts(run_id))))
    result.generated, result.reused = shared.generated, shared.reused
    result.seconds = time.perf_counter() - start
    return result


# -- the HTML report ------------------------------------------------------------------------------------
def pp(value: float | None) -> str:
    """A change in percentage points: ``-42 pp``, ``+3 pp``, ``0 pp``, or ``n/a``."""
    if value is None:
        return "n/a"
    points = round(value)
    return f"{points:+d} pp" if points else "0 pp"


def _cell(rate: Rate) -> str:
    return f"{100 * rate.hits / rate.total:.0f}% ({rate.hits}/{rate.total})" if rate.total else "-"


def to_html(result: LayersResult) -> str:
    """A self-contained page: each combination's rates with intervals and change vs bare, and attack
    success by hazard category under each. Every text from outside (names, prompts) is HTML-escaped."""
    esc = html.escape
    base = result.bare.summary
    yes = {True: "on", False: "-"}
    body = [
        f"<h1>Multi-layer defense: {esc(result.target)}</h1>",
        f"<p>Guard <code>{esc(str(result.guard.get('name')))}</code>, system prompt "
        f"<code>{esc(result.system_prompt)}</code>; {result.attempts} attempts per combination, the same for each; "
        f"{result.generated} answers generated, {result.reused} shared between combinations; "
        f"{result.seconds:.0f} s; alignkit {__version__}.</p>",
        "<table><tr><th>layers</th><th>input filter</th><th>system prompt</th><th>output filter</th>"
        "<th>attack success</th><th>vs bare</th><th>over-refusal</th><th>vs bare</th><th>judged</th><th>run</th></tr>",
    ]
    for r in result.runs:
        s, c = r.summary, r.layers
        body.append(
            f"<tr><td>{esc(c.name)}</td><td>{yes[c.input]}</td><td>{yes[c.system_prompt]}</td><td>{yes[c.output]}</td>"
            f"<td>{s.asr.text()}</td><td>{pp(change(s.asr, base.asr))}</td><td>{s.over_refusal.text()}</td>"
            f"<td>{pp(change(s.over_refusal, base.over_refusal))}</td><td>{s.attempts.judged} of {s.attempts.total}"
            f"</td><td><code>{esc(r.run_id)}</code></td></tr>"
        )
    body.append("</table><h2>Attack success by hazard category</h2><table><tr><th>category</th>")
    body += [f"<th>{esc(r.layers.name)}</th>" for r in result.runs]
    body.append("</tr>")
    for cat in sorted({c for r in result.runs for c in r.summary.by_category}):
        cells = [_cell(r.summary.by_category.get(cat, (Rate(), Rate()))[0]) for r in result.runs]
        body.append(f"<tr><td>{esc(cat)}</td>" + "".join(f"<td>{x}</td>" for x in cells) + "</tr>")
    body.append(
        "</table><p>Attack success: harmful requests the model helped with, of those judged. Over-refusal: "
        "benign look-alikes refused. Intervals: 95% Wilson. Each run's attempts: <code>alignkit redteam report "
        "RUN --store ...</code>.</p>"
    )
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin-bottom:1em}td,th{border:1px solid #ccc;padding:4px 8px}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><meta http-equiv='Content-Security-Policy' "
        f"content=\"default-src 'none'; style-src 'unsafe-inline'\"><title>alignkit multi-layer defense</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>"
    )
