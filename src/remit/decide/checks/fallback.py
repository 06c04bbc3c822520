"""Fallback authorization (T3): a retry with broader scope after a permission failure is
matched against the envelope's pre-approved `fallbacks`, never against ordinary rules.

A fallback's `to.resources` must contain each request resource wholly
(`resource_match.within`, with each service's case rules); wildcard request resources are
refused later by the wildcard check, since no rule allows them.
"""

from __future__ import annotations

from remit.domain.decisions import Reason
from remit.domain.envelope import Envelope, Fallback
from remit.domain.patterns import compile_glob
from remit.domain.reasons import ReasonCode
from remit.domain.requests import ActionRequest
from remit.domain.resource_match import resource_key, within
from remit.domain.tiers import Tier


def _covers(patterns: tuple[str, ...], name: str, *, ignore_case: bool) -> bool:
    return any(compile_glob(p, ignore_case=ignore_case)(name) for p in patterns)


def _within(patterns: tuple[str, ...], arn: str) -> bool:
    key = resource_key(arn)
    return any(within(key, p) for p in patterns)


def matching_fallbacks(envelope: Envelope, request: ActionRequest) -> list[Fallback]:
    """Fallback entries whose `from` covers the failed action and `to` covers this request."""
    fb = request.fallback
    if fb is None:
        return []
    out = []
    for entry in envelope.fallbacks:
        if "*" not in entry.agents and request.agent not in entry.agents:
            continue
        if not _covers(entry.from_.actions, fb.failed_action, ignore_case=True):
            continue
        if not _covers(entry.to.actions, request.action, ignore_case=True):
            continue
        if all(_within(entry.to.resources, r.arn) for r in request.resources):
            out.append(entry)
    return out


def fallback_tier(envelope: Envelope, request: ActionRequest) -> tuple[Tier, Reason, list[str]]:
    """The base tier of a fallback request, its reason and the fallback ids that matched."""
    fb = request.fallback
    assert fb is not None
    entries = matching_fallbacks(envelope, request)
    if not entries:
        return (
            Tier.DENY,
            Reason(
                ReasonCode.FALLBACK_UNAUTHORIZED,
                f"Fallback after {fb.failed_action} failed ({fb.error}) in decision {fb.of}: no "
                f"pre-approved fallback covers {request.action} on these resources.",
            ),
            [],
        )
    tier = Tier.strictest([e.tier for e in entries])
    ids = [e.id for e in entries]
    return (
        tier,
        Reason(
            ReasonCode.FALLBACK_MATCHED,
            f"Fallback after {fb.failed_action} failed in decision {fb.of} matches "
            f"{', '.join(ids)}: {tier.value}.",
        ),
        ids,
    )
