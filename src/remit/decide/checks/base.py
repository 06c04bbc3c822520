"""What every check sees (`Context`) and returns (`Finding`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from remit.catalog import ActionInfo
from remit.decide.index import CompiledRule
from remit.decide.state import GateState
from remit.domain.decisions import Reason
from remit.domain.envelope import Agent, Envelope
from remit.domain.requests import ActionRequest
from remit.domain.tiers import Tier
from remit.domain.trust import EnvelopeTrust


@dataclass(slots=True)
class Context:
    """One request being decided, with everything the checks may read."""

    request: ActionRequest
    now: datetime
    state: GateState
    envelope: Envelope
    trust: EnvelopeTrust
    agent: Agent
    action: ActionInfo
    matched: list[CompiledRule]
    tier: Tier


@dataclass(frozen=True, slots=True)
class Finding:
    """A check's verdict: the tier must be at least `floor`, because of `reason`."""

    floor: Tier
    reason: Reason


class Check(Protocol):
    """A decision check: returns findings, or an empty tuple when nothing applies."""

    def findings(self, ctx: Context) -> tuple[Finding, ...]: ...


NONE: tuple[Finding, ...] = ()
