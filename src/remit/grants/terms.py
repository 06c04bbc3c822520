"""The grant terms of a decision, fixed when it is decided: which role credentials for it
assume, how long they live (the envelope's default grant duration, shortened by any
matched rule's), and how long after the decision they may be asked for.

Pure: reads the envelope that decided, does no I/O. Recorded on the decision's ledger
entry, so a later edit of the envelope file — signed or not — cannot change what an
earlier decision's credentials may be.
"""

from __future__ import annotations

from collections.abc import Sequence

from remit.domain.envelope import Envelope
from remit.domain.tiers import Tier
from remit.ledger.kinds import GrantTerms


def grant_terms(
    envelope: Envelope, agent: str, tier: Tier, rules: Sequence[str]
) -> GrantTerms | None:
    """The terms for a decision of `tier` by `agent` under `rules`; None when it can never
    be granted (denied, or the agent is not in the envelope)."""
    spec = envelope.agents.get(agent)
    if tier is Tier.DENY or spec is None:
        return None
    lifetime = envelope.defaults.grant_duration
    matched = [rule for rule in envelope.rules if rule.id in rules]
    for rule in matched:
        if rule.grant_duration is not None:
            lifetime = min(lifetime, rule.grant_duration)
    return GrantTerms(
        spec.execution_role or spec.service_account,
        max(1, int(lifetime.total_seconds())),
        max(1, int(envelope.defaults.grant_window.total_seconds())),
        # wildcards only if rules decided (not a fallback or the default) and all allow them
        allow_wildcards=bool(matched) and all(rule.allow_wildcards for rule in matched),
    )
