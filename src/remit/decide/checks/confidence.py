"""Confidence (C3): below a matched rule's `when.min_confidence`, a human must approve."""

from __future__ import annotations

from remit.decide.checks.base import NONE, Context, Finding
from remit.domain.decisions import Reason
from remit.domain.reasons import ReasonCode
from remit.domain.tiers import Tier


class ConfidenceCheck:
    """Missing or low confidence against any matched rule's minimum → approve."""

    def findings(self, ctx: Context) -> tuple[Finding, ...]:
        conf = ctx.request.reasoning.confidence
        out = []
        for compiled in ctx.matched:
            when = compiled.rule.when
            if when is None or when.min_confidence is None:
                continue
            if conf is None or conf < when.min_confidence:
                said = "no confidence given" if conf is None else f"confidence {conf:g}"
                out.append(
                    Finding(
                        Tier.APPROVE,
                        Reason(
                            ReasonCode.CONFIDENCE_TOO_LOW,
                            f"{said.capitalize()}; rule {compiled.rule.id} needs at least "
                            f"{when.min_confidence:g} to run without approval.",
                        ),
                    )
                )
        return tuple(out) if out else NONE
