"""Reasoning completeness (C3): the resulting tier names the reasoning fields a request
must carry; a request without them is refused. Runs last, on the final tier.
"""

from __future__ import annotations

from remit.decide.checks.base import NONE, Context, Finding
from remit.domain.decisions import Reason
from remit.domain.reasons import ReasonCode
from remit.domain.tiers import Tier


class ReasoningCheck:
    """Missing required reasoning fields for the tier → deny. The reason names what the
    request lacks, never the tier it would otherwise have had: a denied request is not
    told what another decision would need."""

    def findings(self, ctx: Context) -> tuple[Finding, ...]:
        if ctx.tier is Tier.DENY:
            return NONE
        required = ctx.envelope.defaults.reasoning.get(ctx.tier, ())
        if not required:
            return NONE
        present = ctx.request.reasoning.present_fields()
        missing = [f for f in required if f not in present]
        if not missing:
            return NONE
        return (
            Finding(
                Tier.DENY,
                Reason(
                    ReasonCode.REASONING_INCOMPLETE,
                    f"Denied: the request's reasoning is incomplete (it lacks "
                    f"{', '.join(missing)}), and the envelope refuses requests without the "
                    "reasoning it requires.",
                ),
            ),
        )
