"""Envelope status (C6): the three questions a board asks — who signed it off and when,
when was it last reviewed and when is the next review due, does it still fit (expiry,
pending re-validation events, conflicts) — computed as one pure report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from remit.decide.state import OrgEvent
from remit.domain.trust import EnvelopeTrust
from remit.envelope.conflicts import Conflict, find_conflicts, tag_only_regulations
from remit.envelope.loader import LoadedEnvelope
from remit.envelope.signoff import SignoffCheck


@dataclass(frozen=True)
class EnvelopeStatus:
    """Everything `remit envelope status` shows."""

    name: str
    version: int
    digest: str
    owner: str
    threat_model: str
    trust: EnvelopeTrust
    signoffs: list[SignoffCheck]
    last_review: datetime | None
    next_review_due: datetime | None
    review_overdue: bool
    expires_at: datetime
    expired: bool
    pending_events: list[OrgEvent]
    conflicts: list[Conflict]
    tag_only_regulations: list[str]

    @property
    def healthy(self) -> bool:
        return (
            self.trust.valid
            and not self.review_overdue
            and not self.expired
            and not self.pending_events
            and not self.conflicts
        )

    def to_dict(self) -> dict[str, Any]:
        def iso(t: datetime | None) -> str | None:
            return t.isoformat().replace("+00:00", "Z") if t else None

        return {
            "name": self.name,
            "version": self.version,
            "digest": self.digest,
            "owner": self.owner,
            "threat_model": self.threat_model,
            "authority": self.trust.valid,
            "authority_detail": self.trust.detail,
            "signoffs": [
                {
                    "signer": c.signoff.signer,
                    "role": c.signoff.role,
                    "key": f"{c.signoff.key_name}+{c.signoff.key_id}",
                    "at": iso(c.signoff.at),
                    "valid": c.valid,
                    "problem": c.problem,
                }
                for c in self.signoffs
            ],
            "last_review": iso(self.last_review),
            "next_review_due": iso(self.next_review_due),
            "review_overdue": self.review_overdue,
            "expires_at": iso(self.expires_at),
            "expired": self.expired,
            "pending_revalidation": [
                {"kind": e.kind, "at": iso(e.at), "note": e.note} for e in self.pending_events
            ],
            "conflicts": [str(c) for c in self.conflicts],
            "tag_only_regulations": self.tag_only_regulations,
            "healthy": self.healthy,
        }


def envelope_status(
    loaded: LoadedEnvelope,
    trust: EnvelopeTrust,
    checks: list[SignoffCheck],
    events: Sequence[OrgEvent],
    now: datetime,
) -> EnvelopeStatus:
    """Compute the status of `loaded` at `now` from its sign-off checks and recorded events."""
    meta = loaded.envelope.metadata
    last = trust.last_review
    due = last + meta.review_every if last else None
    kinds = set(meta.revalidate_on)
    pending = [e for e in events if e.kind in kinds and (last is None or e.at > last)]
    return EnvelopeStatus(
        name=meta.name,
        version=meta.version,
        digest=loaded.digest,
        owner=meta.owner,
        threat_model=meta.threat_model,
        trust=trust,
        signoffs=checks,
        last_review=last,
        next_review_due=due,
        review_overdue=due is None or now > due,
        expires_at=meta.expires_at,
        expired=now >= meta.expires_at,
        pending_events=pending,
        conflicts=find_conflicts(loaded.envelope),
        tag_only_regulations=tag_only_regulations(loaded.envelope),
    )
