"""The ledger as the rest of Remit uses it: record decisions, events and sign-offs, and
sign checkpoints.

Wraps a `LedgerStore`. The log's identity (its origin) is the name of its signing key, as
C2SP recommends. Without a signing key the ledger still records; signing refuses.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from remit.domain.canonical import canonical_json, sha256_hex
from remit.domain.clock import ts_text
from remit.domain.decisions import Decision
from remit.domain.tiers import Tier
from remit.envelope.signoff import SignoffCheck, signoff_id
from remit.errors import Unavailable
from remit.ledger.gate_reads import LockedReads
from remit.ledger.kinds import (
    ApprovalTerms,
    DecisionRecord,
    EnvelopeVersionRecord,
    GrantTerms,
    OrgEventRecord,
    SignoffRecord,
)
from remit.ledger.records import NewEntry, make_entry
from remit.ledger.store import LedgerStore, StoredCheckpoint
from remit.signing.keys import SigningKey
from remit.tlog.checkpoint import Checkpoint, sign_checkpoint


def request_digest(request_json: dict[str, Any]) -> str:
    """The digest an approval is bound to: SHA-256 of the request's canonical JSON."""
    return "sha256:" + sha256_hex(canonical_json(request_json))


class NoLogKey(Unavailable):
    """A command that must sign was given no log key (nothing can be signed)."""

    def __init__(self) -> None:
        super().__init__(
            "no log signing key: pass --log-key FILE or set REMIT_LOG_KEY "
            "(make one with `remit keygen --out log --name example.com/remit-log`)"
        )


class Ledger:
    """Appends entries and signs checkpoints over one store."""

    def __init__(self, store: LedgerStore, log_key: SigningKey | None = None) -> None:
        self.store = store
        self.log_key = log_key

    @property
    def origin(self) -> str | None:
        return self.log_key.name if self.log_key else None

    @staticmethod
    def decision_entry(
        request_json: dict[str, Any],
        decision: Decision,
        actor: str,
        approval_expires: datetime | None = None,
        grant_terms: GrantTerms | None = None,
    ) -> NewEntry:
        """The entry for one decision: the full request (reasoning, provenance, resources;
        its canonical JSON) and the full decision (tier, reasons, rules, envelope). A
        decision held for approval also records what the approval is bound to: the
        request digest and its deadline; one that may run, its grant terms."""
        terms = None
        if decision.tier is Tier.APPROVE:
            if approval_expires is None:
                raise ValueError("a decision held for approval needs its approval deadline")
            terms = ApprovalTerms(request_digest(request_json), approval_expires)
        record = DecisionRecord(decision.to_dict(), request_json, terms, grant_terms)
        return make_entry(record, decision.decided_at, actor)

    def record_event(
        self, kind: str, at: datetime, note: str, actor: str, recorded_at: datetime
    ) -> int:
        """Record an organisational event that happened at `at`; its ledger index."""
        entry = make_entry(OrgEventRecord(kind, at, note), recorded_at, actor)
        return self.store.append([entry])[0]

    def record_signoffs(
        self, checks: Sequence[SignoffCheck], now: datetime, actor: str
    ) -> list[int]:
        """Put every sign-off on the ledger once, with whether it verified when first seen.
        The check for "already recorded" runs under the append lock, so replicas that see
        the same sign-off at once record it once."""

        def build(locked: LockedReads, _size: int) -> list[NewEntry]:
            known = locked.signoff_ids()
            fresh = []
            for c in checks:
                sid = signoff_id(c.signoff)
                if sid in known:
                    continue
                known.add(sid)
                record = SignoffRecord(c.signoff.to_dict(), sid, c.valid, c.problem)
                fresh.append(make_entry(record, now, actor))
            return fresh

        if not checks:
            return []
        return self.store.append_computed(build)[1]

    def record_envelope_version(
        self, digest: str, document: dict[str, Any], now: datetime, actor: str
    ) -> int | None:
        """Put an envelope version (its canonical document) on the ledger once per digest;
        its ledger index, or None when it was recorded before. Checked under the append
        lock, so replicas loading the same version at once record it once."""
        record = EnvelopeVersionRecord(digest, document)

        def build(locked: LockedReads, _size: int) -> list[NewEntry]:
            if locked.envelope_version(digest) is not None:
                return []
            return [make_entry(record, now, actor)]

        made = self.store.append_computed(build)[1]
        return made[0] if made else None

    def checkpoint(self, now: datetime, *, force: bool = False) -> StoredCheckpoint:
        """Sign and store a checkpoint of the current tree if it grew; return the latest."""
        if self.log_key is None:
            raise NoLogKey()
        latest = self.store.latest_checkpoint()
        size = self.store.size()
        if latest is not None and latest.size >= size and not force:
            return latest
        root = self.store.root(size)
        note = sign_checkpoint(Checkpoint(self.log_key.name, size, root), self.log_key)
        cp = StoredCheckpoint(size, root, note, ts_text(now))
        self.store.put_checkpoint(cp)
        newest = self.store.latest_checkpoint()
        assert newest is not None
        return newest
