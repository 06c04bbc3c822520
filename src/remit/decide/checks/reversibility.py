"""Reversibility (C1, B5): a change Remit cannot roll back can be held at the envelope's
`defaults.irreversible` tier, so irreversible actions need a human."""

from __future__ import annotations

from remit.decide.checks.base import NONE, Context, Finding
from remit.domain.decisions import Reason
from remit.domain.reasons import ReasonCode
from remit.domain.reversibility import rollback_status


class ReversibilityCheck:
    """`defaults.irreversible` is the least tier for a change with no rollback."""

    def findings(self, ctx: Context) -> tuple[Finding, ...]:
        floor = ctx.envelope.defaults.irreversible
        if floor is None or floor.rank <= ctx.tier.rank:
            return NONE
        if rollback_status(ctx.action.name, ctx.action.access_level) != "unavailable":
            return NONE
        return (
            Finding(
                floor,
                Reason(
                    ReasonCode.IRREVERSIBLE_ACTION,
                    f"{ctx.action.name} changes state and Remit cannot roll it back "
                    f"(rollback: unavailable); the envelope decides such actions at "
                    f"{floor.value} or stricter.",
                ),
            ),
        )
