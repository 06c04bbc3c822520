"""Resource sets: protected resources (C1/C5) and regulatory constraints (C9).

Both only make a decision stricter, so a set applies to a request resource when they can
share a member: ARN patterns are matched as sets (`resource_match.touches`, with each
service's case rules), and a wildcard resource, whose members' tags nobody has stated, is
taken to carry whatever tags the set selects on.
"""

from __future__ import annotations

from remit.decide.checks.base import NONE, Context, Finding
from remit.domain.decisions import Reason
from remit.domain.envelope import ResourceMatch
from remit.domain.reasons import ReasonCode
from remit.domain.requests import Resource
from remit.domain.resource_match import resource_key, touches
from remit.domain.tiers import ORDERED, Tier


def selects(match: ResourceMatch, resource: Resource) -> bool:
    """True if the resource (or, for a wildcard, some resource it stands for) is in the set.

    That is: it has every tag of the match (a wildcard is assumed to) and, if the match
    lists ARN patterns, one of them touches the resource's ARN.
    """
    arn = resource.arn
    if not ("*" in arn or "?" in arn):
        tags = resource.tags
        for k, v in match.tags.items():
            if tags.get(k) != v:
                return False
    if match.resources:
        key = resource_key(arn)
        return any(touches(p, key) for p in match.resources)
    return True


class ProtectedResourceCheck:
    """A resource in a protected set raises the tier to the set's `min_tier`."""

    def findings(self, ctx: Context) -> tuple[Finding, ...]:
        out = []
        for prot in ctx.envelope.protected:
            hits = [r.arn for r in ctx.request.resources if selects(prot.match, r)]
            if hits and prot.min_tier.rank > ctx.tier.rank:
                out.append(
                    Finding(
                        prot.min_tier,
                        Reason(
                            ReasonCode.PROTECTED_RESOURCE,
                            f"{', '.join(hits)} is in protected set {prot.id}, decided at "
                            f"{prot.min_tier.value} or stricter.",
                        ),
                    )
                )
        return tuple(out) if out else NONE


def regulated_tier(tier: Tier, forbidden: tuple[Tier, ...]) -> Tier:
    """The least tier at or above `tier` that the regulation allows."""
    for t in ORDERED[tier.rank :]:
        if t not in forbidden:
            return t
    return Tier.DENY


class RegulationCheck:
    """A regulated resource may not be decided at a forbidden tier: it becomes approve.

    Runs after the other checks, because it depends on the tier they produced.
    """

    def findings(self, ctx: Context) -> tuple[Finding, ...]:
        out = []
        for reg in ctx.envelope.regulations:
            if ctx.tier not in reg.forbid_tiers:
                continue
            hits = [r.arn for r in ctx.request.resources if selects(reg.match, r)]
            if hits:
                floor = regulated_tier(ctx.tier, reg.forbid_tiers)
                out.append(
                    Finding(
                        floor,
                        Reason(
                            ReasonCode.REGULATORY_CONSTRAINT,
                            f"{reg.id} forbids {ctx.tier.value} decisions on {', '.join(hits)}; "
                            f"raised to {floor.value}.",
                        ),
                    )
                )
        return tuple(out) if out else NONE
