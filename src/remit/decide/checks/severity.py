"""Severity floors (C1): the IAM access level of the action sets a minimum tier."""

from __future__ import annotations

from remit.decide.checks.base import NONE, Context, Finding
from remit.domain.decisions import Reason
from remit.domain.reasons import ReasonCode


class SeverityFloorCheck:
    """`defaults.severity_floors[access level]` is the least tier for the action."""

    def findings(self, ctx: Context) -> tuple[Finding, ...]:
        floors = ctx.envelope.defaults.severity_floors
        level = ctx.action.access_level
        floor = floors.get(level)  # type: ignore[call-overload]
        if floor is None or floor.rank <= ctx.tier.rank:
            return NONE
        return (
            Finding(
                floor,
                Reason(
                    ReasonCode.SEVERITY_FLOOR,
                    f"{ctx.action.name} has IAM access level '{level}', which the envelope "
                    f"decides at {floor.value} or stricter.",
                ),
            ),
        )
