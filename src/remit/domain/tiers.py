"""The four severity tiers an action can resolve to, ordered from least to most strict.

`autonomous` runs at once, `notify` runs and humans are told, `approve` waits for a human
and times out to deny, `deny` never runs. Stricter always wins when tiers are combined.
"""

from __future__ import annotations

from enum import StrEnum


class Tier(StrEnum):
    """A severity tier. Compare strictness with `rank` or `strictest`, never by name."""

    AUTONOMOUS = "autonomous"
    NOTIFY = "notify"
    APPROVE = "approve"
    DENY = "deny"

    @property
    def rank(self) -> int:
        """0 for autonomous … 3 for deny."""
        return _RANK[self]

    @property
    def allows_execution(self) -> bool:
        """True for the tiers under which an action may run without a human's yes."""
        return self is Tier.AUTONOMOUS or self is Tier.NOTIFY

    def at_least(self, floor: Tier) -> Tier:
        """This tier raised to `floor` if `floor` is stricter."""
        return floor if _RANK[floor] > _RANK[self] else self

    @staticmethod
    def strictest(tiers: list[Tier] | tuple[Tier, ...]) -> Tier:
        """The strictest of `tiers`; an empty list is refused (nothing passes trivially)."""
        if not tiers:
            raise ValueError("strictest() needs at least one tier")
        return max(tiers, key=_RANK.__getitem__)


_RANK: dict[Tier, int] = {Tier.AUTONOMOUS: 0, Tier.NOTIFY: 1, Tier.APPROVE: 2, Tier.DENY: 3}
ORDERED: tuple[Tier, ...] = (Tier.AUTONOMOUS, Tier.NOTIFY, Tier.APPROVE, Tier.DENY)
