"""Domain types of Remit: requests, reasoning, provenance, decisions, tiers, reason codes,
and the envelope document model.

Pure data: nothing here reads files, talks to a network or reads the clock.
"""

from remit.domain.decisions import Decision, EnvelopeRef, Reason
from remit.domain.envelope import (
    Agent,
    BlastRadius,
    Defaults,
    Envelope,
    Fallback,
    Metadata,
    Protected,
    Regulation,
    ResourceMatch,
    Rule,
    Workflow,
)
from remit.domain.reasons import ReasonCode
from remit.domain.requests import (
    ActionRequest,
    Alternative,
    FallbackRef,
    ModelRef,
    Origin,
    Provenance,
    Reasoning,
    Resource,
    Signal,
    WorkflowRef,
)
from remit.domain.tiers import Tier

__all__ = [
    "ActionRequest",
    "Agent",
    "Alternative",
    "BlastRadius",
    "Decision",
    "Defaults",
    "Envelope",
    "EnvelopeRef",
    "Fallback",
    "FallbackRef",
    "Metadata",
    "ModelRef",
    "Origin",
    "Protected",
    "Provenance",
    "Reason",
    "ReasonCode",
    "Reasoning",
    "Regulation",
    "Resource",
    "ResourceMatch",
    "Rule",
    "Signal",
    "Tier",
    "Workflow",
    "WorkflowRef",
]
