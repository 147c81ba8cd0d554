"""The guard's engine: validators on a model's input and output, with an action for each failure.

:class:`BaseGuard` holds the validators and runs them; :class:`alignkit.guard.Guard` (in
:mod:`alignkit.guard.api`) adds the constructors from specs, streaming and wrapping. Those modules
import this one; this one imports none of them.

    guard = Guard().use("jailbreak", on="input", on_fail="refrain").use("pii", on_fail="fix")
    outcome = guard(model, "My email is ann@example.com, summarise it")
    print(outcome)                 # the text to show
    outcome.output_verdicts        # every check: score, spans, reason, time taken
    outcome.actions                # what ran: fix, refrain, reask, ...

The input rail runs before the model sees the prompt (the last user message), the output rail before
the user sees the answer. Validators on a rail run in order, each on the text as the previous action
left it. ``exception`` raises :class:`GuardValidationError`; ``fix`` repairs (redacts spans, truncates);
``filter`` drops what failed; ``anonymize`` (input) hides values behind placeholders and restores them in
the answer. These three fail closed: when nothing can be repaired, the repair changes nothing, or the
detector still flags the repaired text, the guard refrains (recorded as ``fix->refrain`` and so on) rather
than hand on what was flagged. ``refrain`` answers with a safe refusal; ``reask`` re-prompts the model
with what failed (at most ``max_reasks`` times, then refrains); ``noop`` only records (the outcome still
says the validation failed); ``escalate`` hands the case to ``escalate_to`` (a callback or a queue) and
answers with a holding message.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Self

from alignkit.core.config import GenerateConfig
from alignkit.core.errors import ConfigError
from alignkit.core.messages import Message, Prompt, assistant, to_messages, user
from alignkit.core.model import Model, run_sync
from alignkit.core.records import Verdict
from alignkit.detectors.base import Detector
from alignkit.detectors.pii import Vault
from alignkit.guard.actions import DEFAULT_ESCALATION, DEFAULT_REFUSAL, filter_out, fix, reask_instruction
from alignkit.guard.outcome import ActionRecord, GuardOutcome, GuardValidationError, ValidationResult
from alignkit.guard.validator import OnFail, Rail, Validator
from alignkit.providers.function import as_model


@dataclass(frozen=True)
class EscalationEvent:
    """What a human reviewer receives when a validator escalates."""

    guard: str
    on: str
    validator: str
    verdict: Verdict
    text: str
    at: float  # unix time


Escalation = Callable[[EscalationEvent], Any]


class BaseGuard:
    """Input and output validators with on-fail actions; callable on any model.

    The engine of :class:`alignkit.guard.Guard`, which adds constructors from specs, streaming and
    wrapping (their modules import this one, never the reverse)."""

    def __init__(
        self,
        validators: Iterable[Validator] = (),
        *,
        name: str = "guard",
        refusal_message: str = DEFAULT_REFUSAL,
        escalation_message: str = DEFAULT_ESCALATION,
        max_reasks: int = 1,
        escalate_to: Escalation | Any | None = None,
        prompt_template: str | None = None,
    ) -> None:
        if max_reasks < 0:
            raise ConfigError(f"max_reasks must be >= 0; got {max_reasks}")
        self.name = name
        self.refusal_message = refusal_message
        self.escalation_message = escalation_message
        self.max_reasks = max_reasks
        self.escalate_to = escalate_to
        self.prompt_template = prompt_template
        self.validators: list[Validator] = []
        for v in validators:
            self._add(v)

    # -- building -----------------------------------------------------------------------------------
    def use(
        self,
        validator: Validator | Detector | str,
        *,
        on: Rail | None = None,
        on_fail: OnFail | None = None,
        **args: Any,
    ) -> Self:
        """Add a validator (chainable): ``guard.use("toxicity", on_fail="exception", threshold=0.7)``."""
        if isinstance(validator, Validator):
            if on is not None or on_fail is not None or args:
                raise ConfigError("configure a Validator object when you build it, not in use()")
            v = validator
        else:
            v = Validator(validator, on=on or "output", on_fail=on_fail or "fix", **args)
        self._add(v)
        return self

    def _add(self, v: Validator) -> None:
        if v.on_fail == "escalate" and self.escalate_to is None:
            raise ConfigError(
                f"{v.name} escalates, but the guard has nowhere to send cases: "
                "pass escalate_to=<callback or queue> to the Guard (or from_rail/from_yaml)"
            )
        self.validators.append(v)

    def rail(self, on: Rail) -> list[Validator]:
        """The validators on one rail, in the order they run."""
        return [v for v in self.validators if v.on == on]

    def describe(self) -> dict[str, Any]:
        """The guard as JSON-able data: its name, reask bound and each validator's detector spec and action."""
        return {
            "name": self.name,
            "max_reasks": self.max_reasks,
            "validators": [v.describe() for v in self.validators],
        }

    # -- validating text ----------------------------------------------------------------------------
    def validate(self, text: str, on: Rail = "output", *, context: Sequence[Message] | None = None) -> ValidationResult:
        """Run one rail's validators on ``text`` and apply their actions. ``context``: the conversation
        ``text`` answers, for validators that judge an answer against it (``grounded``)."""
        return self.validate_batch([text], on, contexts=None if context is None else [context])[0]

    def validate_batch(
        self, texts: Sequence[str], on: Rail = "output", *, contexts: Sequence[Sequence[Message]] | None = None
    ) -> list[ValidationResult]:
        """Validate many texts; each detector scores the whole batch at once. ``contexts[i]``: the
        conversation ``texts[i]`` answers (without it, a validator that needs one sees an empty one)."""
        validators = self.rail(on)
        convs = _contexts(texts, contexts)
        columns = [v.detector.detect_batch_in_context(texts, convs) for v in validators]
        return [
            self._apply(t, on, validators, [c[i] for c in columns], raise_on_exception=True, context=convs[i])
            for i, t in enumerate(texts)
        ]

    async def avalidate_batch(
        self,
        texts: Sequence[str],
        on: Rail = "output",
        *,
        raise_on_exception: bool = True,
        contexts: Sequence[Sequence[Message]] | None = None,
    ) -> list[ValidationResult]:
        """Async form of :meth:`validate_batch`; the rail's detectors score the batch concurrently."""
        validators = self.rail(on)
        convs = _contexts(texts, contexts)
        columns = await asyncio.gather(*(v.detector.adetect_batch_in_context(texts, convs) for v in validators))
        return [
            self._apply(
                t, on, validators, [c[i] for c in columns], raise_on_exception=raise_on_exception, context=convs[i]
            )
            for i, t in enumerate(texts)
        ]

    def _apply(
        self,
        text: str,
        on: Rail,
        validators: list[Validator],
        verdicts: list[Verdict],
        *,
        raise_on_exception: bool,
        context: Sequence[Message] = (),
    ) -> ValidationResult:
        res = ValidationResult(text=text)
        current, changed = text, False
        for val, verdict in zip(validators, verdicts, strict=True):
            if changed:  # an earlier action changed the text: judge what is there now
                verdict = val.detector.detect_batch_in_context([current], [context])[0]
            res.verdicts.append(verdict)
            if not verdict.flagged:
                continue
            res.passed = False
            record = ActionRecord(val.name, on, val.action_name, verdict.reason)
            act = val.on_fail
            if callable(act):
                current, changed = act(current, verdict), True
                res.actions.append(record)
                continue
            if act == "noop":
                res.actions.append(record)
            elif act == "exception":
                res.actions.append(record)
                res.text, res.stopped = self.refusal_message, True
                if raise_on_exception:
                    raise GuardValidationError(
                        f"{self.name}: {val.name} failed on the {on} ({verdict.reason or verdict.label})", res
                    )
                return res
            elif act in ("fix", "filter", "anonymize"):
                repaired, failure = _repair(act, current, verdict, val, res)
                if failure:  # fail closed: what was flagged is never handed on
                    res.actions.append(ActionRecord(val.name, on, f"{act}->refrain", failure))
                    res.text, res.stopped = self.refusal_message, True
                    return res
                res.actions.append(record)
                current, changed = repaired, True
            elif act == "refrain":
                res.actions.append(record)
                res.text, res.stopped = self.refusal_message, True
                return res
            elif act == "escalate":
                self._escalate(EscalationEvent(self.name, on, val.name, verdict, current, time.time()))
                res.actions.append(record)
                res.text, res.stopped = self.escalation_message, True
                return res
            elif act == "reask":
                res.actions.append(record)
                res.reask.append(verdict)
        res.text = current
        return res

    def _escalate(self, event: EscalationEvent) -> None:
        target = self.escalate_to
        if target is None:  # _add() makes this unreachable; keep the case loud rather than silent
            raise ConfigError("escalation without escalate_to")
        put = getattr(target, "put_nowait", None) or getattr(target, "put", None)
        if callable(put):
            put(event)
        elif callable(target):
            target(event)
        else:
            raise ConfigError("escalate_to must be a callable or a queue with put()/put_nowait()")

    # -- guarding a model ---------------------------------------------------------------------------
    def __call__(self, llm: Model | Callable[..., Any], prompt: Prompt | None = None, **gen: Any) -> GuardOutcome:
        """Guard one call: ``guard(llm, prompt)``. ``llm``: an alignkit model, or a function from prompt
        text to answer text."""
        return run_sync(self.acall(llm, prompt, **gen))

    async def acall(self, llm: Model | Callable[..., Any], prompt: Prompt | None = None, **gen: Any) -> GuardOutcome:
        """Async form of ``guard(llm, prompt)``."""
        return (await self.acall_batch(llm, [self._prompt(prompt)], **gen))[0]

    def call_batch(self, llm: Model | Callable[..., Any], prompts: Sequence[Prompt], **gen: Any) -> list[GuardOutcome]:
        """Guard many calls at once (see :meth:`acall_batch`)."""
        return run_sync(self.acall_batch(llm, prompts, **gen))

    def _prompt(self, prompt: Prompt | None) -> Prompt:
        if prompt is not None:
            return prompt
        if self.prompt_template:
            return self.prompt_template
        raise ConfigError("guard(llm, prompt) needs a prompt (or a <prompt> in the RAIL spec)")

    async def acall_batch(
        self,
        llm: Model | Callable[..., Any],
        prompts: Sequence[Prompt],
        *,
        config: GenerateConfig | None = None,
        raise_on_exception: bool = True,
        **gen: Any,
    ) -> list[GuardOutcome]:
        """Guard many calls: one batched pass per rail and one batched model call (plus reasks)."""
        model = as_model(llm)
        convs = [list(to_messages(p)) for p in prompts]
        texts = [_last_user(c) for c in convs]
        ins = await self.avalidate_batch(texts, "input", raise_on_exception=raise_on_exception)
        outcomes = [
            GuardOutcome(
                prompt=t,
                validated_output=r.text if r.stopped else None,
                validation_passed=r.passed,
                blocked=r.stopped,
                input_verdicts=r.verdicts,
                actions=list(r.actions),
                escalated=any(a.action == "escalate" for a in r.actions),
                model=model.info.spec,
            )
            for t, r in zip(texts, ins, strict=True)
        ]
        live = [i for i, r in enumerate(ins) if not r.stopped]
        for i in live:
            if ins[i].text != texts[i]:  # an input fix (e.g. PII redaction) changes what the model sees
                convs[i][_last_user_index(convs[i])] = user(ins[i].text)
        attempt = 0
        while live:
            answers = await model.agenerate_batch([convs[i] for i in live], config, **gen)
            outs = await self.avalidate_batch(
                [a.text for a in answers], "output", raise_on_exception=False, contexts=[convs[i] for i in live]
            )
            retry = []
            for i, answer, res in zip(live, answers, outs, strict=True):
                o = outcomes[i]
                o.raw_output = o.raw_output if o.raw_output is not None else answer.text
                o.output_verdicts = res.verdicts
                o.actions += res.actions
                o.validation_passed = ins[i].passed and res.passed  # the final attempt decides
                o.escalated = o.escalated or any(a.action == "escalate" for a in res.actions)
                if res.reask and not res.stopped and attempt < self.max_reasks:
                    convs[i] = [*convs[i], assistant(answer.text), user(reask_instruction(res.reask))]
                    retry.append(i)
                    continue
                if res.reask and not res.stopped:
                    o.actions.append(
                        ActionRecord(
                            res.reask[0].detector,
                            "output",
                            "reask->refrain",
                            f"still failing after {self.max_reasks} reask(s)",
                        )
                    )
                    o.validated_output = self.refusal_message
                else:
                    vault = ins[i].vault
                    o.validated_output = vault.restore(res.text) if vault is not None else res.text
                raised = [a for a in res.actions if a.action == "exception"]
                if raise_on_exception and raised:
                    raise GuardValidationError(
                        f"{self.name}: {raised[0].validator} failed on the output ({raised[0].detail})", o
                    )
            for i in retry:
                outcomes[i].reasks += 1
            live, attempt = retry, attempt + 1
        return outcomes


def _repair(act: str, text: str, verdict: Verdict, val: Validator, res: ValidationResult) -> tuple[str, str]:
    """``text`` repaired by ``act`` ("fix", "filter" or "anonymize"), and why it could not be ("" when it
    was): no way to repair, a repair that changed nothing, or a repaired text the detector still flags
    (e.g. a value the verdict had no span for). Only a repair that left nothing needs no second look."""
    vault = res.vault or Vault()
    if act == "anonymize":
        if not verdict.spans:  # nothing to point a placeholder at: the value cannot be hidden
            return text, "no spans to anonymize"
        repaired: str | None = vault.anonymize(text, verdict.spans)
    else:
        repaired = fix(text, verdict, val.detector) if act == "fix" else filter_out(text, verdict)
    if repaired is None or (val.on == "input" and not repaired.strip()):
        return text, "nothing left to repair"
    if repaired == text:
        return text, f"the {act} changed nothing"
    if repaired and val.detector.detect(repaired).flagged:
        return text, f"still flagged after the {act}"
    if act == "anonymize":
        res.vault = vault
    return repaired, ""


def _contexts(texts: Sequence[str], contexts: Sequence[Sequence[Message]] | None) -> list[Sequence[Message]]:
    if contexts is None:
        return [()] * len(texts)
    if len(contexts) != len(texts):
        raise ConfigError(f"{len(texts)} texts but {len(contexts)} conversations to check them against")
    return list(contexts)


def _last_user_index(conv: list[Message]) -> int:
    for i in range(len(conv) - 1, -1, -1):
        if conv[i].role == "user":
            return i
    return len(conv) - 1


def _last_user(conv: list[Message]) -> str:
    return conv[_last_user_index(conv)].content if conv else ""
