"""Layer 2: runtime guardrails. Validate what goes into a model and what comes out of it.

The guide's sample runs with only the import changed::

    from alignkit.guard import Guard
    guard = Guard.from_rail('''<rail version="0.1"><output>
        <string name="response" validators="no_toxic_language; no_pii" /></output></rail>''')
    validated_response = guard(llm, prompt)   # llm: an alignkit Model, or a function from prompt to answer

Modules: ``guard`` (the engine: rails, actions, guarded calls), ``spec`` (the one validated schema,
:class:`GuardSpec`), ``spec_rail`` and ``spec_yaml`` (the formats that parse to it), ``arguments`` (what a
registered detector takes), ``stream``, ``model`` (:class:`GuardedModel`), and ``api`` (:class:`Guard`,
which puts them together).
"""

from alignkit.guard.actions import DEFAULT_ESCALATION, DEFAULT_REFUSAL
from alignkit.guard.api import Guard
from alignkit.guard.guard import BaseGuard, EscalationEvent
from alignkit.guard.model import GuardedModel
from alignkit.guard.outcome import ActionRecord, GuardOutcome, GuardValidationError, ValidationResult
from alignkit.guard.spec import GuardConfig, GuardSpec, ValidatorSpec, build_guard
from alignkit.guard.stream import AsyncValidatedStream, ValidatedStream, astream_validate, stream_validate
from alignkit.guard.validator import ACTIONS, Validator

__all__ = [
    "ACTIONS",
    "DEFAULT_ESCALATION",
    "DEFAULT_REFUSAL",
    "ActionRecord",
    "AsyncValidatedStream",
    "BaseGuard",
    "EscalationEvent",
    "Guard",
    "GuardConfig",
    "GuardOutcome",
    "GuardSpec",
    "GuardValidationError",
    "GuardedModel",
    "ValidatedStream",
    "ValidationResult",
    "Validator",
    "ValidatorSpec",
    "astream_validate",
    "build_guard",
    "stream_validate",
]
