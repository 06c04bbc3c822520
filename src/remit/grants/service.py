"""Granting and revoking, with every step recorded: hand scoped credentials to the agent
that asked, once, for an allowed decision; refuse anything else with a reason (and record
the refusal); revoke when the outcome is reported, the step ends or the time is up, and
retry a revocation the cloud refused until it holds or the session has expired.

Credentials are returned to the caller and never recorded; the ledger entry says what
they can do (session policy and effective permissions), for how long, and how to undo
the change (rollback plan).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, NoReturn

from remit.approvals.queue import ApprovalQueue
from remit.approvals.rules import outcome_for
from remit.domain.clock import Clock, parse_ts
from remit.domain.envelope import Envelope
from remit.domain.reversibility import rollback_status
from remit.errors import Conflict, Forbidden, Gone, NotFound, RemitError, Unprocessable, Upstream
from remit.grants.backend import (
    BackendError,
    Credentials,
    DenyList,
    GrantBackend,
    GrantSpec,
    compact_revocations,
    revocation_policy,
)
from remit.grants.effective import Permission, describe, effective_permissions
from remit.grants.policy import GrantRefused, policy_json, session_policy
from remit.grants.terms import grant_terms
from remit.identity.model import Identity, Role
from remit.ledger.gate_reads import LockedReads
from remit.ledger.kinds import (
    CLAIM_SECONDS,
    DecisionRecord,
    GrantClaimRecord,
    GrantRecord,
    GrantRefusalRecord,
    GrantTerms,
    PreviewRecord,
    RevocationRecord,
)
from remit.ledger.reads import LedgerReads
from remit.ledger.records import NewEntry, Recorded, make_entry
from remit.ledger.store import LedgerStore, LedgerUnavailable

log = logging.getLogger("remit.grants")
STS_MIN_SECONDS = 900
STS_MAX_SECONDS = 43_200

RollbackPlanner = Callable[[str, dict[str, Any]], dict[str, Any]]
"""(action, parameters) → a JSON-safe rollback plan, snapshotting the state first."""


@dataclass(frozen=True)
class IssuedGrant:
    credentials: Credentials
    record: GrantRecord


@dataclass(frozen=True)
class _Scope:
    """What a grant for one decision would be: role, session policy, lifetime, tags, and
    the effective permissions it would carry."""

    role_arn: str
    policy: dict[str, Any]
    policy_text: str
    seconds: int
    sts_seconds: int
    tags: dict[str, str]
    session_name: str
    permissions: list[Permission]


class GrantService:
    """Issues and revokes decision-scoped credentials through one backend."""

    def __init__(
        self,
        store: LedgerStore,
        backend: GrantBackend,
        authority: Callable[[], tuple[Envelope, str]],
        approvals: ApprovalQueue,
        clock: Clock,
        rollback_planner: RollbackPlanner | None = None,
    ) -> None:
        self.store = store
        self.backend = backend
        self._authority = authority
        """The envelope in force and its digest, if it is authority now (else it raises)."""
        self.approvals = approvals
        self.clock = clock
        self.rollback_planner = rollback_planner
        self._applied: dict[str, DenyList] = {}  # deny list last applied per role
        # Revocations applied in the cloud whose ledger entry could not be written yet: kept
        # in every deny list this replica writes until they are recorded (sweep retries):
        # decision id → (role, session expiry, when the session was issued).
        self._unrecorded: dict[str, tuple[str, datetime, datetime]] = {}

    # -- issuing -------------------------------------------------------------------------
    def issue(self, decision_id: str, who: Identity) -> IssuedGrant:
        """Credentials for an allowed decision, to the key that asked, once. Raises a
        `RemitError` (and records the refusal) for anything else."""
        now = self.clock()
        found = self.store.reads.decision(decision_id)
        if found is None:
            raise NotFound(f"no decision {decision_id}")
        try:
            spec, plan = self._plan(found, who, now)
        except RemitError as exc:
            self._record_refusal(decision_id, who, str(exc), exc, now)
            raise
        except BackendError as exc:  # the role's policies could not be read: fail closed
            self._refuse_upstream(decision_id, who, exc, now)
        self._claim(decision_id, who, now)
        try:
            creds = self.backend.issue(spec)
        except BackendError as exc:
            self._release(decision_id, who, now)
            self._refuse_upstream(decision_id, who, exc, now)
        record = GrantRecord(
            **plan,
            expires_at=creds.expiration,
            assumed_role_arn=creds.assumed_role_arn,
            access_key_id=creds.access_key_id,  # an identifier, not a secret
        )

        def build(locked: LockedReads, _size: int) -> list[NewEntry]:
            if locked.has_grant(decision_id):
                raise Conflict(f"decision {decision_id} was already granted")
            return [make_entry(record, now, who.label)]

        try:
            self.store.append_computed(build)
        except Exception as exc:
            # Not recorded (or lost a race): the credentials must not stay usable.
            self._revoke_now(spec.role_arn, decision_id, now)
            if isinstance(exc, Conflict):
                self._record_refusal(decision_id, who, str(exc), exc, now)
                raise
            raise LedgerUnavailable(f"grant not recorded, so not given: {exc}") from None
        return IssuedGrant(creds, record)

    def _claim(self, decision_id: str, who: Identity, now: datetime) -> None:
        """Record this replica's claim to issue the decision's credentials, under the
        append lock; Conflict (recorded) if it was granted or another ask holds a claim.
        Only the claimant asks the cloud, so no second session ever carries the decision
        id as its SourceIdentity, and no loser's emergency revocation can touch it."""
        since = now - timedelta(seconds=CLAIM_SECONDS)

        def build(locked: LockedReads, _size: int) -> list[NewEntry]:
            if locked.has_grant(decision_id):
                raise Conflict(f"decision {decision_id} was already granted")
            _not_ended(locked, decision_id)
            held = locked.live_claim(decision_id, since)
            if held is not None:
                raise Conflict(
                    f"credentials for decision {decision_id} are being issued "
                    f"(claim at ledger index {held}); grants are single-use"
                )
            return [make_entry(GrantClaimRecord(decision_id), now, who.label)]

        try:
            self.store.append_computed(build)
        except Conflict as exc:
            self._record_refusal(decision_id, who, str(exc), exc, now)
            raise

    def _release(self, decision_id: str, who: Identity, now: datetime) -> None:
        """Give the claim up (the cloud refused): a later ask may try again."""
        try:
            self.store.append([make_entry(GrantClaimRecord(decision_id, True), now, who.label)])
        except LedgerUnavailable:
            log.exception("could not release the grant claim of %s", decision_id)

    def _refuse_upstream(
        self, decision_id: str, who: Identity, exc: BackendError, now: datetime
    ) -> NoReturn:
        error = Upstream(f"credentials could not be issued: {exc}")
        self._record_refusal(decision_id, who, f"the cloud refused: {exc}", error, now, "failed")
        raise error from None

    def _plan(
        self, found: Recorded[DecisionRecord], who: Identity, now: datetime
    ) -> tuple[GrantSpec, dict[str, Any]]:
        d = found.record
        decision_id = d.id
        human_admin = who.role is Role.ADMIN and d.origin == "human"
        if not human_admin and (who.role is not Role.AGENT or who.agent != d.agent):
            raise Forbidden("credentials are handed only to the agent that asked")
        if who.label != found.actor:
            raise Forbidden("credentials are handed only to the key that asked")
        approval = self.approvals.get(decision_id) if d.tier == "approve" else None
        state = approval.state_at(now) if approval else None
        status = outcome_for(d.tier, state)
        if status != "allowed":
            raise Conflict(f"decision {decision_id} is {d.tier.value} and {status}: no credentials")
        if self.store.reads.has_grant(decision_id):
            raise Conflict(f"decision {decision_id} was already granted (grants are single-use)")
        _not_ended(self.store.reads, decision_id)
        terms = self._terms(d)
        allowed_at = (
            parse_ts(approval.resolved_at) if approval and approval.resolved_at else d.decided_at
        )
        window = timedelta(seconds=terms.window_seconds)
        if now > allowed_at + window:
            raise Gone(
                f"the grant window ({window}) after decision {decision_id} "
                "was allowed has passed; ask again"
            )
        scope = self._scope(d, terms, now)
        rollback: dict[str, Any] = {"status": rollback_status(d.action, d.access_level)}
        if rollback["status"] == "available":
            if self.rollback_planner is None:
                rollback = {"status": "unavailable", "why": "no cloud endpoint to snapshot"}
            else:
                try:
                    rollback["plan"] = self.rollback_planner(d.action, d.parameters)
                except Exception as exc:
                    raise Conflict(f"could not snapshot the state for rollback: {exc}") from None
        plan = {
            "decision_id": decision_id,
            "agent": d.agent,
            "role_arn": scope.role_arn,
            "session_name": scope.session_name,
            "source_identity": decision_id,
            "tags": scope.tags,
            "duration_seconds": scope.sts_seconds,
            "revoke_at": now + timedelta(seconds=scope.seconds),
            "session_policy": scope.policy,
            "effective_permissions": tuple(asdict(p) for p in scope.permissions),
            "effective_summary": describe(scope.permissions),
            "backend": self.backend.name,
            "rollback": rollback,
        }
        spec = GrantSpec(
            decision_id,
            d.agent,
            scope.role_arn,
            scope.session_name,
            scope.sts_seconds,
            scope.policy_text,
            scope.tags,
        )
        return spec, plan

    def _terms(self, d: DecisionRecord) -> GrantTerms:
        """The decision's grant terms, from the signed envelope version that decided. The
        envelope in force must still be authority (an unsigned edit stops every grant).
        Decisions recorded before terms were recorded take them from the envelope in force
        only if it is the very version that decided."""
        env, digest = self._authority()
        if d.grant_terms is not None:
            return d.grant_terms
        decided_by = (d.decision.get("envelope") or {}).get("digest")
        if decided_by != digest:
            raise Conflict(
                f"decision {d.id} was decided under another envelope version and recorded "
                "no grant terms; ask again"
            )
        terms = grant_terms(env, d.agent, d.tier, d.rules)
        if terms is None:
            raise Conflict(f"agent {d.agent} is not in the envelope: no credentials")
        return terms

    def _scope(self, d: DecisionRecord, terms: GrantTerms, now: datetime) -> _Scope:
        """What a grant for this decision would be."""
        role_arn = terms.role_arn
        arns = d.resource_arns
        try:
            doc = session_policy([d.action], arns, allow_wildcards=terms.allow_wildcards)
            text = policy_json(doc)
        except GrantRefused as exc:
            raise Unprocessable(str(exc)) from None
        seconds = terms.duration_seconds
        sts_seconds = max(STS_MIN_SECONDS, min(seconds, STS_MAX_SECONDS))
        wf = d.workflow
        tags = {
            "remit:agent": d.agent,
            "remit:workflow": wf.get("name") or "-",
            "remit:step": wf.get("step") or "-",
        }
        session_name = f"remit-{d.id}"[:64]
        revoked = self._active_revoked(role_arn, now)
        identity_docs = [*self.backend.identity_policies(role_arn)]
        if revoked:
            deny = compact_revocations(revoked)
            identity_docs.append(revocation_policy(deny.source_identities, deny.issued_before))
        perms = effective_permissions(
            identity_docs, doc, arns, {"aws:SourceIdentity": d.id}, _catalog()
        )
        return _Scope(role_arn, doc, text, seconds, sts_seconds, tags, session_name, perms)

    def preview(self, decision_id: str) -> dict[str, Any]:
        """What credentials for this decision can do (for the approver), without asking
        the cloud more than once per decision: once granted, what the grant recorded; once
        revoked, nothing; before that, a preview computed once and kept on the ledger (a
        preview that failed for a passing reason — the cloud, the envelope's trust — is not
        kept and is computed again next time)."""
        reads = self.store.reads
        if reads.is_revoked(decision_id):
            return {"grantable": False, "why": "its credentials were revoked",
                    "effective_permissions": [], "effective_summary": describe([])}  # fmt: skip
        granted = reads.grant(decision_id)
        if granted is not None:
            g = granted.record
            return {
                "grantable": False,
                "why": "already granted (grants are single-use)",
                "role_arn": g.role_arn,
                "session_policy": g.session_policy,
                "lifetime_seconds": int((g.revoke_at - parse_ts(granted.ts)).total_seconds()),
                "effective_permissions": list(g.effective_permissions),
                "effective_summary": g.effective_summary,
                "rollback": g.rollback.get("status"),
            }
        kept = reads.preview(decision_id)
        if kept is not None:
            return dict(kept.record.preview)
        found = self.store.reads.decision(decision_id)
        if found is None:
            raise NotFound(f"no decision {decision_id}")
        d = found.record
        try:
            scope = self._scope(d, self._terms(d), self.clock())
        except Unprocessable as exc:
            return self._keep_preview(decision_id, {"grantable": False, "why": str(exc)})
        except RemitError as exc:
            return {"grantable": False, "why": str(exc)}
        except BackendError as exc:
            return {"grantable": False, "why": f"cannot read the role's policies: {exc}"}
        return self._keep_preview(
            decision_id,
            {
                "grantable": True,
                "role_arn": scope.role_arn,
                "session_policy": scope.policy,
                "lifetime_seconds": scope.seconds,
                "effective_permissions": [asdict(p) for p in scope.permissions],
                "effective_summary": describe(scope.permissions),
                "rollback": rollback_status(d.action, d.access_level),
            },
        )

    def _keep_preview(self, decision_id: str, preview: dict[str, Any]) -> dict[str, Any]:
        """Record `preview` unless another request or replica kept one first; return the
        one kept."""
        record = PreviewRecord(decision_id, preview)

        def build(locked: LockedReads, _size: int) -> list[NewEntry]:
            if locked.preview(decision_id) is not None:
                return []
            return [make_entry(record, self.clock(), "system:remit")]

        try:
            self.store.append_computed(build)
        except LedgerUnavailable:
            log.warning("could not keep the credential preview of %s", decision_id)
            return preview
        kept = self.store.reads.preview(decision_id)
        return dict(kept.record.preview) if kept is not None else preview

    def _record_refusal(
        self,
        decision_id: str,
        who: Identity,
        why: str,
        error: RemitError,
        now: datetime,
        status: Literal["refused", "failed"] = "refused",
    ) -> None:
        record = GrantRefusalRecord(decision_id, status, why, error=error.kind)
        try:
            self.store.append([make_entry(record, now, who.label)])
        except Exception:
            log.exception("could not record a refused grant for %s", decision_id)

    # -- revoking ------------------------------------------------------------------------
    def _active_revoked(self, role_arn: str, now: datetime) -> dict[str, datetime]:
        """The revoked, still-live sessions of a role: decision id → when issued."""
        revoked = dict(self.store.reads.revoked_sessions(role_arn, now))
        for d, (role, until, issued) in self._unrecorded.items():
            if role == role_arn and until > now:
                revoked.setdefault(d, issued)
        return revoked

    def _apply(self, role_arn: str, deny: DenyList) -> None:
        self.backend.set_revoked(role_arn, deny.source_identities, deny.issued_before)
        self._applied[role_arn] = deny

    def _revoke_now(self, role_arn: str, decision_id: str, now: datetime) -> None:
        try:
            revoked = {**self._active_revoked(role_arn, now), decision_id: now}
            self._apply(role_arn, compact_revocations(revoked))
        except BackendError:
            log.exception("emergency revocation of %s failed", decision_id)

    def grant_record(self, decision_id: str) -> GrantRecord | None:
        """The recorded grant of a decision (what it could do, its rollback plan)."""
        found = self.store.reads.grant(decision_id)
        return found.record if found else None

    def has_grant(self, decision_id: str) -> bool:
        return self.store.reads.has_grant(decision_id)

    def revoke(self, decision_id: str, reason: str, actor: str) -> bool:
        """Deny the decision's session from now on; record it. True if the cloud applied it."""
        now = self.clock()
        found = self.store.reads.grant(decision_id)
        if found is None:
            return False
        grant = found.record
        role_arn = grant.role_arn
        issued = parse_ts(found.ts)  # when the grant was recorded, as revoked_sessions reads it
        self._unrecorded[decision_id] = (role_arn, grant.expires_at, issued)
        revoked = {**self._active_revoked(role_arn, now), decision_id: issued}
        applied, error = True, None
        try:
            self._apply(role_arn, compact_revocations(revoked))
        except BackendError as exc:
            applied, error = False, str(exc)
        record = RevocationRecord(decision_id, reason, applied, error, role_arn, len(revoked))
        try:
            self.store.append([make_entry(record, now, actor)])
        except LedgerUnavailable as exc:  # the id stays in _unrecorded and every deny list
            raise LedgerUnavailable(f"revocation not recorded yet: {exc}") from exc
        del self._unrecorded[decision_id]
        return applied

    def sweep(self, actor: str = "system:remit") -> dict[str, int]:
        """Revoke grants whose time is up, retry revocations the cloud refused, and drop
        expired sessions from the deny list. Safe to run on every replica."""
        now = self.clock()
        reads = self.store.reads
        for did, (_, until, _issued) in list(self._unrecorded.items()):
            if until <= now:
                del self._unrecorded[did]
            else:
                with contextlib.suppress(LedgerUnavailable):
                    self.revoke(did, "recording a revocation the ledger missed", actor)
        expired = sum(self.revoke(did, "grant time is up", actor) for did in reads.grants_due(now))
        retried = sum(
            self.revoke(did, "retrying a revocation the cloud refused", actor)
            for did in reads.revocations_to_retry(now)
        )
        for role_arn in reads.granted_roles():
            deny = compact_revocations(self._active_revoked(role_arn, now))
            if self._applied.get(role_arn) == deny:
                continue
            try:
                self._apply(role_arn, deny)
            except BackendError:
                log.warning("pruning the deny list of %s failed; will retry", role_arn)
        return {"expired": expired, "retried": retried}


def _catalog() -> Any:
    from remit.catalog import default_catalog

    return default_catalog()


def _not_ended(reads: LedgerReads, decision_id: str) -> None:
    """Gone when the decision's outcome is already recorded: its step has ended (e.g. an
    MCP call recorded as never forwarded), so no credentials are handed out for it."""
    index = reads.outcome_index(decision_id)
    if index is not None:
        raise Gone(
            f"the outcome of decision {decision_id} is recorded (ledger index {index}): "
            "its step has ended, so no credentials are given; ask again"
        )
