"""What each dashboard page shows, gathered from the runtime and the ledger's typed reads:
a held decision as an approver must see it, a decision's whole life with its inclusion
proof checked against the latest signed checkpoint, a page of the decisions list, the
sign-off history and the diff between two recorded envelope versions.
No HTML here (the templates render), no HTTP (the router answers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from remit.approvals.queue import ApprovalRecord
from remit.catalog import ActionCatalog
from remit.domain.envelope import Envelope
from remit.envelope.diff import EnvelopeDiff, diff_envelopes
from remit.errors import NotFound
from remit.ledger.kinds import DecisionRecord, GrantRecord, OutcomeRecord, RevocationRecord
from remit.ledger.reads import DecisionRow, EnvelopeVersionRow
from remit.ledger.records import Recorded
from remit.server.routes.approvals import detail
from remit.server.runtime import Runtime
from remit.tlog import merkle
from remit.tlog.checkpoint import CheckpointError, open_checkpoint


@dataclass(frozen=True)
class ApprovalCard:
    """One held decision, with everything the approver judges it by."""

    approval: dict[str, Any]
    decision: dict[str, Any]
    request: dict[str, Any]
    blast_radius: dict[str, Any] | None
    preview: dict[str, Any] | None

    @property
    def id(self) -> str:
        return str(self.decision["id"])


def approval_card(rt: Runtime, rec: ApprovalRecord) -> ApprovalCard:
    """The same view of an approval the API gives (`GET /v1/approvals`)."""
    d = detail(rt, rec)
    return ApprovalCard(d.approval.model_dump(), d.decision, d.request, d.blast_radius,
                        d.credential_preview)  # fmt: skip


def pending_cards(rt: Runtime, limit: int = 50) -> list[ApprovalCard]:
    from remit.approvals.rules import ApprovalState

    records, _ = rt.approvals.list(ApprovalState.PENDING, rt.clock(), limit)
    return [approval_card(rt, r) for r in records]


@dataclass(frozen=True)
class ProofCheck:
    """Whether a ledger entry is provably in the log the latest signed checkpoint signs."""

    index: int
    verified: bool
    detail: str
    tree_size: int | None = None
    checkpoint_at: str | None = None
    leaf_hash: str | None = None
    root: str | None = None
    proof: tuple[str, ...] = ()


def prove(rt: Runtime, index: int) -> ProofCheck:
    """Check entry `index` against the latest checkpoint: its signature (the service's log
    key), then the inclusion proof from the entry's own bytes to the signed root."""
    cp = rt.store.latest_checkpoint()
    if cp is None or cp.size <= index:
        return ProofCheck(index, False, "not yet covered by a signed checkpoint")
    key = rt.ledger.log_key
    if key is None:
        return ProofCheck(index, False, "the service has no log key to check the checkpoint")
    try:
        signed = open_checkpoint(cp.note, [key.verifier()], expected_origin=key.name)
        if signed.size != cp.size:
            raise CheckpointError(f"stored for size {cp.size}, signs size {signed.size}")
        leaf = merkle.leaf_hash(rt.store.entry(index).body)
        path = rt.store.inclusion_proof(index, signed.size)
        merkle.verify_inclusion(leaf, index, signed.size, path, signed.root)
    except (CheckpointError, merkle.ProofError) as exc:
        return ProofCheck(index, False, f"verification FAILED: {exc}", cp.size, cp.ts)
    return ProofCheck(
        index,
        True,
        f"entry {index} is in the log of size {signed.size} signed by {key.name}",
        signed.size,
        cp.ts,
        leaf.hex(),
        signed.root.hex(),
        tuple(h.hex() for h in path),
    )


@dataclass(frozen=True)
class DecisionLife:
    """A decision from request to outcome, as recorded."""

    recorded: Recorded[DecisionRecord]
    approval: dict[str, Any] | None
    preview: dict[str, Any] | None
    grant: Recorded[GrantRecord] | None
    revocations: list[Recorded[RevocationRecord]]
    outcome: Recorded[OutcomeRecord] | None
    proof: ProofCheck

    @property
    def decision(self) -> dict[str, Any]:
        return dict(self.recorded.record.decision)

    @property
    def request(self) -> dict[str, Any]:
        return dict(self.recorded.record.request)


def decision_life(rt: Runtime, decision_id: str) -> DecisionLife:
    reads = rt.store.reads
    found = reads.decision(decision_id)
    if found is None:
        raise NotFound(f"no decision {decision_id}")
    approval = rt.approvals.get(decision_id)
    preview = None
    if found.record.tier.value != "deny":
        try:
            preview = rt.grants.preview(decision_id)
        except Exception as exc:  # a preview the cloud cannot give now is shown as such
            preview = {"grantable": False, "why": f"no preview now: {exc}"}
    return DecisionLife(
        found,
        approval.to_dict(rt.clock()) if approval else None,
        preview,
        reads.grant(decision_id),
        reads.revocations(decision_id),
        reads.outcome(decision_id),
        prove(rt, found.index),
    )


@dataclass(frozen=True)
class DecisionLine:
    """One row of the decisions list: the index row and what the entry adds."""

    row: DecisionRow
    rules: tuple[str, ...]
    resources: list[str]
    origin: str
    summary: str


def decision_lines(rt: Runtime, rows: list[DecisionRow]) -> list[DecisionLine]:
    out = []
    for row in rows:
        found = rt.store.reads.decision(row.id)
        if found is None:  # the index names a decision that is not there: shown as such
            out.append(DecisionLine(row, (), [], "?", "(entry missing)"))
            continue
        rec = found.record
        summary = str((rec.request.get("reasoning") or {}).get("summary") or "")
        out.append(DecisionLine(row, rec.rules, rec.resource_arns, rec.origin, summary))
    return out


@dataclass(frozen=True)
class SignoffLine:
    """One sign-off as the ledger first saw it."""

    index: int
    recorded_at: str
    signer: str
    role: str
    at: str
    envelope: str
    valid: bool
    problem: str | None


def signoff_history(rt: Runtime) -> list[SignoffLine]:
    """Every sign-off on the ledger, newest first, across envelope versions."""
    from remit.ledger.kinds import SignoffRecord

    out = []
    reads = rt.store.reads
    for index in reads.signoff_indexes(rt.store.size()):
        entry = reads.entry(index)
        if entry is None:
            continue
        got = entry.read_as(SignoffRecord)
        doc = got.record.signoff
        env = doc.get("envelope")
        what = (
            f"{env.get('name')} v{env.get('version')} ({str(env.get('digest', ''))[:19]}…)"
            if isinstance(env, dict)
            else str(env)
        )
        out.append(
            SignoffLine(index, got.ts, str(doc.get("signer")), str(doc.get("role")),
                        str(doc.get("at")), what, got.record.valid, got.record.problem)
        )  # fmt: skip
    return sorted(out, key=lambda s: -s.index)


class NoSuchVersion(LookupError):
    """A digest no envelope version on the ledger has."""


def versions(rt: Runtime) -> list[EnvelopeVersionRow]:
    """Every envelope version the service recorded, newest first."""
    return rt.store.reads.envelope_versions()


@dataclass(frozen=True)
class VersionDiff:
    """What changed from one recorded envelope version to another."""

    old: EnvelopeVersionRow
    new: EnvelopeVersionRow
    diff: EnvelopeDiff


def _version(rt: Runtime, digest: str) -> tuple[EnvelopeVersionRow, Envelope]:
    found = rt.store.reads.envelope_version(digest)
    if found is None:
        raise NoSuchVersion(f"no envelope version {digest!r} is recorded on the ledger")
    rec = found.record
    row = EnvelopeVersionRow(found.index, rec.digest, rec.name, rec.version, found.ts)
    return row, Envelope.model_validate(dict(rec.document))


def version_diff(
    rt: Runtime, old: str | None, new: str | None, catalog: ActionCatalog
) -> VersionDiff | None:
    """The diff `remit envelope diff` prints, between two recorded versions (None when
    either is not chosen)."""
    if not old or not new:
        return None
    (a, old_env), (b, new_env) = _version(rt, old), _version(rt, new)
    return VersionDiff(a, b, diff_envelopes(old_env, new_env, catalog))
