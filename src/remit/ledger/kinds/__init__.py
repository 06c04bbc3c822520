"""Every kind of entry the ledger holds, one frozen typed class each (`base` has the
interface; `decision`, `grant`, `governance` the kinds), and the registry from an entry's
kind to the parser of its `data`. `docs/ledger.md` has a table per kind.

Pure: no I/O. Building the entry around a record is `remit.ledger.records`; storing it is
the stores'. A new capability that keeps entries adds a module here and registers its kinds
in `PARSERS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from remit.ledger.kinds.access import AccessRecord
from remit.ledger.kinds.base import EntryFormatError, IndexRow, Json, Record, _field
from remit.ledger.kinds.cloudtrail import ReconciliationRecord
from remit.ledger.kinds.decision import (
    ApprovalResolution,
    ApprovalTerms,
    DecisionRecord,
    GrantTerms,
)
from remit.ledger.kinds.governance import (
    EnvelopeVersionRecord,
    IdentityRecord,
    NoteRecord,
    NotificationRecord,
    OrgEventRecord,
    SignoffRecord,
)
from remit.ledger.kinds.grant import (
    CLAIM_SECONDS,
    GrantClaimRecord,
    GrantRecord,
    GrantRefusalRecord,
    OutcomeRecord,
    PreviewRecord,
    RevocationRecord,
)
from remit.ledger.kinds.oversight import (
    ChangeReviewRecord,
    DemotionRecord,
    DriftFindingRecord,
    DriftReviewRecord,
    ReviewSampleRecord,
    SampleStratum,
    VerdictRecord,
)

__all__ = [
    "CLAIM_SECONDS",
    "PARSERS",
    "AccessRecord",
    "ApprovalResolution",
    "ApprovalTerms",
    "ChangeReviewRecord",
    "DecisionRecord",
    "DemotionRecord",
    "DriftFindingRecord",
    "DriftReviewRecord",
    "EntryFormatError",
    "EnvelopeVersionRecord",
    "GrantClaimRecord",
    "GrantRecord",
    "GrantRefusalRecord",
    "GrantTerms",
    "IdentityRecord",
    "IndexRow",
    "Json",
    "NoteRecord",
    "NotificationRecord",
    "OrgEventRecord",
    "OutcomeRecord",
    "PreviewRecord",
    "ReconciliationRecord",
    "Record",
    "ReviewSampleRecord",
    "RevocationRecord",
    "SampleStratum",
    "SignoffRecord",
    "VerdictRecord",
    "parse_record",
]


def _grant(data: Mapping[str, Any]) -> Record:
    if _field(data, "status") == "issued":
        return GrantRecord.from_data(data)
    return GrantRefusalRecord.from_data(data)


PARSERS: Mapping[str, Callable[[Mapping[str, Any]], Record]] = {
    "decision": DecisionRecord.from_data,
    "approval": ApprovalResolution.from_data,
    "grant": _grant,
    "revocation": RevocationRecord.from_data,
    "outcome": OutcomeRecord.from_data,
    "notification": NotificationRecord.from_data,
    "signoff": SignoffRecord.from_data,
    "event": OrgEventRecord.from_data,
    "identity": IdentityRecord.from_data,
    "note": NoteRecord.from_data,
    "preview": PreviewRecord.from_data,
    "grant_claim": GrantClaimRecord.from_data,
    "access": AccessRecord.from_data,
    "reconciliation": ReconciliationRecord.from_data,
    "review_sample": ReviewSampleRecord.from_data,
    "review_verdict": VerdictRecord.from_data,
    "drift_finding": DriftFindingRecord.from_data,
    "demotion": DemotionRecord.from_data,
    "drift_review": DriftReviewRecord.from_data,
    "change_review": ChangeReviewRecord.from_data,
    "envelope_version": EnvelopeVersionRecord.from_data,
}
"""Entry kind → the parser of its `data`. Every kind the ledger holds is here."""


def parse_record(kind: str, data: Mapping[str, Any]) -> Record:
    """The typed record of an entry of `kind`; EntryFormatError for an unknown kind or
    invalid data."""
    parser = PARSERS.get(kind)
    if parser is None:
        raise EntryFormatError(f"unknown entry kind {kind!r}")
    try:
        return parser(data)
    except EntryFormatError as exc:
        raise EntryFormatError(f"{kind}: {exc}") from None
    except (TypeError, ValueError) as exc:
        raise EntryFormatError(f"{kind}: {exc}") from None
