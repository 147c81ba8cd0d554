"""Layer 2: runtime guardrails. Validate what goes into a model and what comes out of it.

The guide's sample runs with only the import changed::

    from alignkit.guard import Guard
    guard = Guard.from_rail('''<rail version="0.1"><output>
        <string name="response" validators="no_toxic_language; no_pii" /></output></rail>''')
    validated_response = guard(llm, prompt)
"""

from alignkit.guard.actions import DEFAULT_ESCALATION, DEFAULT_REFUSAL
from alignkit.guard.guard import EscalationEvent, Guard
from alignkit.guard.model import CallableModel, GuardedModel, as_model
from alignkit.guard.outcome import ActionRecord, GuardOutcome, GuardValidationError, ValidationResult
from alignkit.guard.stream import astream_validate, stream_validate
from alignkit.guard.validator import ACTIONS, Validator

__all__ = [
    "ACTIONS",
    "DEFAULT_ESCALATION",
    "DEFAULT_REFUSAL",
    "ActionRecord",
    "CallableModel",
    "EscalationEvent",
    "Guard",
    "GuardOutcome",
    "GuardValidationError",
    "GuardedModel",
    "ValidationResult",
    "Validator",
    "as_model",
    "astream_validate",
    "stream_validate",
]
