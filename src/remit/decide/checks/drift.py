"""Drift demotion (C8): an agent whose behaviour drifted (a recorded drift finding) loses
autonomy to the envelope's `drift.demote_to` until a human review of the finding is
recorded. The finding and the demotion are ledger entries; the reason names them.
"""

from __future__ import annotations

from remit.decide.checks.base import NONE, Context, Finding
from remit.domain.decisions import Reason
from remit.domain.reasons import ReasonCode


class DemotionCheck:
    """Each unreviewed demotion of the agent floors the tier at its `floor`."""

    def findings(self, ctx: Context) -> tuple[Finding, ...]:
        found = ctx.state.demotions(ctx.request.agent)
        if not found:
            return NONE
        return tuple(
            Finding(
                d.floor,
                Reason(
                    ReasonCode.DRIFT_DEMOTED,
                    f"Agent {ctx.request.agent}'s behaviour drifted (finding {d.finding_id}); "
                    f"its autonomy is demoted to {d.floor.value} by ledger entry {d.index} "
                    "until a human signs a review of the change.",
                ),
            )
            for d in found
        )
