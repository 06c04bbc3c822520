"""Resource sets: protected resources (C1/C5) and regulatory constraints (C9).

Both only make a decision stricter, so a set applies to a request resource when they can
share a member: ARN patterns are matched as sets (`resource_match.touches`, with each
service's case rules), and tags come from a trusted source — the envelope's signed
`inventory` — never from the request: a resource the inventory does not cover is taken
to carry whatever tags a set selects on, and tags a request sends can only add to that.
"""

from __future__ import annotations

from collections.abc import Sequence

from remit.decide.checks.base import NONE, Context, Finding
from remit.domain.decisions import Reason
from remit.domain.envelope import ResourceMatch, TaggedResources
from remit.domain.reasons import ReasonCode
from remit.domain.requests import Resource
from remit.domain.resource_match import ResourceKey, resource_key, touches, within
from remit.domain.tiers import ORDERED, Tier


def possible_tags(
    inventory: Sequence[TaggedResources], key: ResourceKey
) -> dict[str, set[str]] | None:
    """The values each tag may have on the resource (or on any resource a wildcard stands
    for), from the envelope's inventory; None when no entry covers all of it, so nothing
    trusted says what its tags are."""
    covered = False
    possible: dict[str, set[str]] = {}
    for entry in inventory:
        if not any(touches(p, key) for p in entry.resources):
            continue
        covered = covered or any(within(key, p) for p in entry.resources)
        for k, v in entry.tags.items():
            possible.setdefault(k, set()).add(v)
    return possible if covered else None


def selects(
    match: ResourceMatch, resource: Resource, inventory: Sequence[TaggedResources] = ()
) -> bool:
    """True if the resource (or, for a wildcard, some resource it stands for) may be in the
    set: if the match lists ARN patterns, one of them touches the resource's ARN; and it
    may carry every tag of the match — by the envelope's inventory, or, where no entry
    covers it, always (failing closed). Tags the request itself sends are claims: they
    can put a resource into a set, never take it out."""
    key = resource_key(resource.arn)
    if match.resources and not any(touches(p, key) for p in match.resources):
        return False
    if not match.tags:
        return True
    claimed = resource.tags
    if all(claimed.get(k) == v for k, v in match.tags.items()):
        return True
    possible = possible_tags(inventory, key)
    return possible is None or all(v in possible.get(k, ()) for k, v in match.tags.items())


class ProtectedResourceCheck:
    """A resource in a protected set raises the tier to the set's `min_tier`."""

    def findings(self, ctx: Context) -> tuple[Finding, ...]:
        out = []
        for prot in ctx.envelope.protected:
            hits = [
                r.arn
                for r in ctx.request.resources
                if selects(prot.match, r, ctx.envelope.inventory)
            ]
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
            hits = [
                r.arn
                for r in ctx.request.resources
                if selects(reg.match, r, ctx.envelope.inventory)
            ]
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
