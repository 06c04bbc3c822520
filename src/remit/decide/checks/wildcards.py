"""Wildcard request resources: refused unless every rule they touch explicitly allows them.

Its one job: deny a request naming a resource by wildcard (`*` or `?` in the ARN) unless
at least one matched rule touches that resource and every matched rule touching it sets
`allow_wildcards: true`. A fallback request (matched against fallbacks, not rules) has no
rule that could allow a wildcard, so its wildcard resources are refused too.

What it does not do: count what a wildcard covers (blast_radius.py counts it as unbounded)
or decide which rules apply (the index does).
"""

from __future__ import annotations

from remit.decide.checks.base import NONE, Context, Finding
from remit.domain.decisions import Reason
from remit.domain.patterns import has_wildcard
from remit.domain.reasons import ReasonCode
from remit.domain.resource_match import resource_key
from remit.domain.tiers import Tier


class WildcardCheck:
    """A wildcard resource no rule explicitly allows → deny, naming the resource."""

    def findings(self, ctx: Context) -> tuple[Finding, ...]:
        out: list[Finding] = []
        for res in ctx.request.resources:
            if not has_wildcard(res.arn):
                continue
            key = resource_key(res.arn)
            touching = [c for c in ctx.matched if c.touches(key)]
            refusing = [c.rule.id for c in touching if not c.rule.allow_wildcards]
            if touching and not refusing:
                continue
            why = (
                f"rule(s) {', '.join(refusing)} do not set allow_wildcards"
                if refusing
                else "no rule allows wildcards for it"
            )
            out.append(
                Finding(
                    Tier.DENY,
                    Reason(
                        ReasonCode.WILDCARD_RESOURCE,
                        f"{res.arn} is a wildcard standing for every matching resource and "
                        f"{why}; name each resource exactly.",
                    ),
                )
            )
        return tuple(out) if out else NONE
