"""Whether an envelope is authority: the result of checking its sign-offs.

Pure data. Computing it (signatures, digests, trusted keys) is `remit.envelope.signoff`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class EnvelopeTrust:
    """`valid` when at least one sign-off by a trusted key covers the current envelope."""

    valid: bool
    last_review: datetime | None
    detail: str
    insecure: bool = False

    @classmethod
    def insecure_unsigned(cls) -> EnvelopeTrust:
        """For experiments only: treat an unsigned envelope as authority (loudly)."""
        return cls(False, None, "unsigned envelope accepted by --insecure-unsigned", True)
