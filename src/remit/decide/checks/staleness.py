"""Envelope staleness (C2): expired, review overdue, or re-validation pending after an
organisational event. A stale envelope never lets an action run autonomously.
"""

from __future__ import annotations

from remit.decide.checks.base import NONE, Context, Finding
from remit.domain.decisions import Reason
from remit.domain.reasons import ReasonCode
from remit.domain.text import article as _article
from remit.domain.tiers import Tier


def _iso(t: object) -> str:
    return str(getattr(t, "isoformat", lambda: t)()).replace("+00:00", "Z")


class ExpiryCheck:
    """Past `expires_at`: autonomous and notify become approve."""

    def findings(self, ctx: Context) -> tuple[Finding, ...]:
        expires = ctx.envelope.metadata.expires_at
        if ctx.now < expires:
            return NONE
        return (
            Finding(
                Tier.APPROVE,
                Reason(
                    ReasonCode.ENVELOPE_EXPIRED,
                    f"Envelope {ctx.envelope.metadata.name} expired at {_iso(expires)}; "
                    "nothing runs without a human until it is renewed and signed off.",
                ),
            ),
        )


class ReviewCheck:
    """Last review older than `review_every`: autonomous becomes notify."""

    def findings(self, ctx: Context) -> tuple[Finding, ...]:
        last = ctx.trust.last_review
        every = ctx.envelope.metadata.review_every
        if last is not None and ctx.now - last <= every:
            return NONE
        when = f"last reviewed {_iso(last)}" if last else "never reviewed (no valid sign-off)"
        return (
            Finding(
                Tier.NOTIFY,
                Reason(
                    ReasonCode.ENVELOPE_REVIEW_OVERDUE,
                    f"Envelope review is overdue: {when}, review required every "
                    f"{ctx.envelope.metadata.review_every.days} days; humans are told of "
                    "every action until it is signed off again.",
                ),
            ),
        )


class RevalidationCheck:
    """An event listed in `revalidate_on` after the last sign-off: approve until re-signed."""

    def findings(self, ctx: Context) -> tuple[Finding, ...]:
        kinds = frozenset(ctx.envelope.metadata.revalidate_on)
        if not kinds:
            return NONE
        events = ctx.state.events_after(ctx.trust.last_review, kinds)
        events = [e for e in events if e.at <= ctx.now]
        if not events:
            return NONE
        first = min(events, key=lambda e: e.at)
        more = f" (and {len(events) - 1} more)" if len(events) > 1 else ""
        return (
            Finding(
                Tier.APPROVE,
                Reason(
                    ReasonCode.ENVELOPE_REVALIDATION_PENDING,
                    f"{_article(first.kind)} {first.kind} event on {_iso(first.at)}{more} "
                    "happened after the envelope's last sign-off; it must be re-validated "
                    "before AI actions run without approval.",
                ),
            ),
        )
