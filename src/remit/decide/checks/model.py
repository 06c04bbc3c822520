"""Model binding (C8): an AI request from a model version not validated for the agent
loses autonomy.
"""

from __future__ import annotations

from remit.decide.checks.base import NONE, Context, Finding
from remit.domain.decisions import Reason
from remit.domain.reasons import ReasonCode
from remit.domain.requests import Origin
from remit.domain.tiers import Tier


class ModelCheck:
    """Autonomous/notify become approve unless the request's model is bound to the agent."""

    def findings(self, ctx: Context) -> tuple[Finding, ...]:
        if ctx.request.origin is not Origin.AI:
            return NONE
        model = ctx.request.provenance.model
        if model is not None and model in ctx.agent.models:
            return NONE
        bound = ", ".join(f"{m.name}@{m.version}" for m in ctx.agent.models) or "none"
        said = f"{model.name}@{model.version}" if model else "no model named in provenance"
        return (
            Finding(
                Tier.APPROVE,
                Reason(
                    ReasonCode.MODEL_UNVALIDATED,
                    f"Model {said} is not validated for agent {ctx.request.agent} "
                    f"(validated: {bound}).",
                ),
            ),
        )
