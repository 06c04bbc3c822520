"""Rollback of the mutating AWS actions Remit supports (B5).

Before a supported change runs, `snapshot_and_plan` reads the state it will touch and
returns a `RollbackPlan` — the inverse calls plus the snapshot, JSON-safe for the ledger.
`execute` performs a plan. Which actions are supported is `SUPPORTED_ACTIONS`, the list
`remit.domain.reversibility` keeps as pure data (the gate reads it too).
"""

from remit.rollback.model import (
    INVERSE_OPERATIONS,
    SUPPORTED_ACTIONS,
    InverseCall,
    RollbackError,
    RollbackPlan,
    RollbackUnavailable,
    canonical_action,
    supports,
)
from remit.rollback.plans import execute, snapshot_and_plan

__all__ = [
    "INVERSE_OPERATIONS",
    "SUPPORTED_ACTIONS",
    "InverseCall",
    "RollbackError",
    "RollbackPlan",
    "RollbackUnavailable",
    "canonical_action",
    "execute",
    "snapshot_and_plan",
    "supports",
]
