"""What the gate reads besides the request and the envelope: organisational events,
rate-window counts and drift demotions. The gate only sees this protocol; stores implement it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from remit.domain.tiers import Tier


@dataclass(frozen=True, slots=True)
class OrgEvent:
    """An organisational event (acquisition, regulation change, model update, …)."""

    kind: str
    at: datetime
    note: str = ""
    index: int | None = None


@dataclass(frozen=True, slots=True)
class Demotion:
    """An agent's autonomy demoted to at least `floor` by a drift finding (recorded at
    ledger index `index`) until a human review of it is recorded."""

    finding_id: str
    floor: Tier
    index: int


class GateState(Protocol):
    """Read-only view of recorded history that some checks need."""

    def events_after(self, after: datetime | None, kinds: frozenset[str]) -> Sequence[OrgEvent]:
        """Events of the given kinds recorded strictly after `after` (all if None)."""
        ...

    def actions_in_window(self, agent: str, rule_id: str, since: datetime) -> int:
        """How many actions `agent` ran under `rule_id` at or after `since`."""
        ...

    def demotions(self, agent: str) -> Sequence[Demotion]:
        """The drift demotions of `agent` no human review has ended yet."""
        ...


@dataclass
class StaticState:
    """An in-memory `GateState`: for tests, the demo and what-if replays."""

    events: list[OrgEvent] = field(default_factory=list)
    actions: list[tuple[str, str, datetime]] = field(default_factory=list)
    demoted: dict[str, list[Demotion]] = field(default_factory=dict)

    def events_after(self, after: datetime | None, kinds: frozenset[str]) -> Sequence[OrgEvent]:
        return [e for e in self.events if e.kind in kinds and (after is None or e.at > after)]

    def actions_in_window(self, agent: str, rule_id: str, since: datetime) -> int:
        return sum(1 for a, r, t in self.actions if a == agent and r == rule_id and t >= since)

    def demotions(self, agent: str) -> Sequence[Demotion]:
        return self.demoted.get(agent, [])
