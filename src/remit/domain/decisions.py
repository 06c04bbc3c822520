"""The answer Remit gives: a `Decision` with its tier, reasons, matched rules and envelope.

A decision is immutable and carries everything a human needs to read why it came out as
it did. Turning it into ledger bytes is the ledger's job, not this module's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from remit.domain.clock import ts_text
from remit.domain.reasons import ReasonCode
from remit.domain.reversibility import rollback_status
from remit.domain.tiers import Tier


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason: a stable code and one readable sentence."""

    code: ReasonCode
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code.value, "message": self.message}


@dataclass(frozen=True, slots=True)
class EnvelopeRef:
    """Which envelope decided: name, version and the digest of its canonical form."""

    name: str
    version: int
    digest: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "digest": self.digest}


@dataclass(frozen=True, slots=True)
class Decision:
    """The gate's answer to one `ActionRequest`."""

    id: str
    tier: Tier
    reasons: tuple[Reason, ...]
    rules: tuple[str, ...]
    envelope: EnvelopeRef
    decided_at: datetime
    agent: str
    action: str
    fallback_rule: str | None = None
    access_level: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        """True if the action may run now without a human (autonomous or notify)."""
        return self.tier.allows_execution

    @property
    def codes(self) -> tuple[ReasonCode, ...]:
        return tuple(r.code for r in self.reasons)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        out: dict[str, Any] = {
            "id": self.id,
            "tier": self.tier.value,
            "allowed": self.allowed,
            "reasons": [r.to_dict() for r in self.reasons],
            "rules": list(self.rules),
            "envelope": self.envelope.to_dict(),
            "decided_at": ts_text(self.decided_at),
            "agent": self.agent,
            "action": self.action,
            "access_level": self.access_level,
            "rollback": rollback_status(self.action, self.access_level),
        }
        if self.fallback_rule is not None:
            out["fallback_rule"] = self.fallback_rule
        if self.extra:
            out.update(self.extra)
        return out
