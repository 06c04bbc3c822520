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
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from remit.approvals.queue import ApprovalQueue
from remit.approvals.rules import outcome_for
from remit.domain.envelope import Envelope
from remit.domain.reversibility import rollback_status
from remit.grants.backend import (
    BackendError,
    Credentials,
    GrantBackend,
    GrantSpec,
    revocation_policy,
)
from remit.grants.effective import Permission, describe, effective_permissions
from remit.grants.policy import GrantRefused, policy_json, session_policy
from remit.identity.model import Identity, Role
from remit.ledger.records import NewEntry, make_entry, parse_ts, ts_text
from remit.ledger.store import LedgerStore, LedgerUnavailable

log = logging.getLogger("remit.grants")
STS_MIN_SECONDS = 900
STS_MAX_SECONDS = 43_200

RollbackPlanner = Callable[[str, dict[str, Any]], dict[str, Any]]
"""(action, parameters) → a JSON-safe rollback plan, snapshotting the state first."""


class GrantError(Exception):
    """A grant was refused or failed; `status` is the HTTP-ish status for callers."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class IssuedGrant:
    credentials: Credentials
    record: dict[str, Any]


class GrantService:
    """Issues and revokes decision-scoped credentials through one backend."""

    def __init__(
        self,
        store: LedgerStore,
        backend: GrantBackend,
        envelope: Callable[[], Envelope],
        approvals: ApprovalQueue,
        clock: Callable[[], datetime],
        rollback_planner: RollbackPlanner | None = None,
    ) -> None:
        self.store = store
        self.backend = backend
        self.envelope = envelope
        self.approvals = approvals
        self.clock = clock
        self.rollback_planner = rollback_planner
        self._applied: dict[str, list[str]] = {}  # deny list last applied per role
        # Revocations applied in the cloud whose ledger entry could not be written yet: kept
        # in every deny list this replica writes until they are recorded (sweep retries).
        self._unrecorded: dict[str, tuple[str, datetime]] = {}

    # -- issuing -------------------------------------------------------------------------
    def issue(self, decision_id: str, who: Identity) -> IssuedGrant:
        now = self.clock()
        entry = self.store.decision_entry(decision_id)
        if entry is None:
            raise GrantError(f"no decision {decision_id}", 404)
        body = json.loads(entry.body)
        d, req = body["data"]["decision"], body["data"]["request"]
        try:
            spec, record = self._plan(decision_id, d, req, body["actor"], who, now)
        except GrantError as exc:
            self._record_refusal(decision_id, who, str(exc), exc.status, now)
            raise
        except BackendError as exc:  # the role's policies could not be read: fail closed
            self._record_refusal(decision_id, who, f"the cloud refused: {exc}", 502, now, "failed")
            raise GrantError(f"credentials could not be issued: {exc}", 502) from None
        try:
            creds = self.backend.issue(spec)
        except BackendError as exc:
            self._record_refusal(decision_id, who, f"the cloud refused: {exc}", 502, now, "failed")
            raise GrantError(f"credentials could not be issued: {exc}", 502) from None
        record["expires_at"] = ts_text(creds.expiration)
        record["assumed_role_arn"] = creds.assumed_role_arn
        record["access_key_id"] = creds.access_key_id  # an identifier, not a secret

        def build(_state: object, _size: int) -> list[NewEntry]:
            if self.store.query("SELECT 1 FROM grants WHERE decision_id = ?", (decision_id,)):
                raise GrantError(f"decision {decision_id} was already granted", 409)
            return [make_entry("grant", now, who.label, record)]

        try:
            self.store.append_computed(build)
        except Exception as exc:
            # Not recorded (or lost a race): the credentials must not stay usable.
            self._revoke_now(spec.role_arn, decision_id, now)
            if isinstance(exc, GrantError):
                self._record_refusal(decision_id, who, str(exc), exc.status, now)
                raise
            raise GrantError(f"grant not recorded, so not given: {exc}", 503) from None
        return IssuedGrant(creds, record)

    def _plan(
        self,
        decision_id: str,
        d: dict[str, Any],
        req: dict[str, Any],
        asked_by: str,
        who: Identity,
        now: datetime,
    ) -> tuple[GrantSpec, dict[str, Any]]:
        human_admin = who.role is Role.ADMIN and req.get("origin") == "human"
        if not human_admin and (who.role is not Role.AGENT or who.agent != d["agent"]):
            raise GrantError("credentials are handed only to the agent that asked", 403)
        if who.label != asked_by:
            raise GrantError("credentials are handed only to the key that asked", 403)
        approval = self.approvals.get(decision_id) if d["tier"] == "approve" else None
        state = approval.state_at(now) if approval else None
        status = outcome_for(d["tier"], state)
        if status != "allowed":
            raise GrantError(
                f"decision {decision_id} is {d['tier']} and {status}: no credentials", 409
            )
        if self.store.query("SELECT 1 FROM grants WHERE decision_id = ?", (decision_id,)):
            raise GrantError(
                f"decision {decision_id} was already granted (grants are single-use)", 409
            )
        env = self.envelope()
        allowed_at = (
            parse_ts(approval.resolved_at)
            if approval and approval.resolved_at
            else _iso(d["decided_at"])
        )
        if now > allowed_at + env.defaults.grant_window:
            raise GrantError(
                f"the grant window ({env.defaults.grant_window}) after decision {decision_id} "
                "was allowed has passed; ask again",
                410,
            )
        scope = self._scope(decision_id, d, req, env, now)
        role_arn, doc, text, seconds, sts_seconds, tags, session_name, perms = scope
        rollback: dict[str, Any] = {"status": rollback_status(d["action"], d.get("access_level"))}
        if rollback["status"] == "available":
            if self.rollback_planner is None:
                rollback = {"status": "unavailable", "why": "no cloud endpoint to snapshot"}
            else:
                try:
                    rollback["plan"] = self.rollback_planner(
                        d["action"], dict(req.get("parameters") or {})
                    )
                except Exception as exc:
                    raise GrantError(
                        f"could not snapshot the state for rollback: {exc}", 409
                    ) from None
        record = {
            "status": "issued",
            "decision_id": decision_id,
            "agent": d["agent"],
            "role_arn": role_arn,
            "session_name": session_name,
            "source_identity": decision_id,
            "tags": tags,
            "duration_seconds": sts_seconds,
            "revoke_at": ts_text(now + timedelta(seconds=seconds)),
            "session_policy": doc,
            "effective_permissions": [asdict(p) for p in perms],
            "effective_summary": describe(perms),
            "backend": self.backend.name,
            "rollback": rollback,
        }
        spec = GrantSpec(decision_id, d["agent"], role_arn, session_name, sts_seconds, text, tags)
        return spec, record

    def _scope(
        self, decision_id: str, d: dict[str, Any], req: dict[str, Any], env: Envelope, now: datetime
    ) -> tuple[str, dict[str, Any], str, int, int, dict[str, str], str, list[Permission]]:
        """What a grant for this decision would be: role, session policy, lifetime, tags,
        and the effective permissions it would carry."""
        agent = env.agents.get(d["agent"])
        if agent is None:
            raise GrantError(f"agent {d['agent']} is no longer in the envelope", 409)
        role_arn = agent.execution_role or agent.service_account
        arns = [r["arn"] for r in req["resources"]]
        try:
            doc = session_policy([d["action"]], arns)
            text = policy_json(doc)
        except GrantRefused as exc:
            raise GrantError(str(exc), 422) from None
        lifetime = env.defaults.grant_duration
        for rule in env.rules:
            if rule.id in d["rules"] and rule.grant_duration is not None:
                lifetime = min(lifetime, rule.grant_duration)
        seconds = int(lifetime.total_seconds())
        sts_seconds = max(STS_MIN_SECONDS, min(seconds, STS_MAX_SECONDS))
        wf = (req.get("provenance") or {}).get("workflow") or {}
        tags = {
            "remit:agent": d["agent"],
            "remit:workflow": wf.get("name") or "-",
            "remit:step": wf.get("step") or "-",
        }
        session_name = f"remit-{decision_id}"[:64]
        revoked = self._active_revoked(role_arn, now)
        identity_docs = [*self.backend.identity_policies(role_arn)]
        if revoked:
            identity_docs.append(revocation_policy(revoked))
        perms = effective_permissions(
            identity_docs, doc, arns, {"aws:SourceIdentity": decision_id}, _catalog()
        )
        return role_arn, doc, text, seconds, sts_seconds, tags, session_name, perms

    def preview(self, decision_id: str) -> dict[str, Any]:
        """What credentials for this decision would be able to do (for the approver)."""
        entry = self.store.decision_entry(decision_id)
        if entry is None:
            raise GrantError(f"no decision {decision_id}", 404)
        data = json.loads(entry.body)["data"]
        d, req = data["decision"], data["request"]
        try:
            role_arn, doc, _, seconds, _, _, _, perms = self._scope(
                decision_id, d, req, self.envelope(), self.clock()
            )
        except GrantError as exc:
            return {"grantable": False, "why": str(exc)}
        except BackendError as exc:
            return {"grantable": False, "why": f"cannot read the role's policies: {exc}"}
        return {
            "grantable": True,
            "role_arn": role_arn,
            "session_policy": doc,
            "lifetime_seconds": seconds,
            "effective_permissions": [asdict(p) for p in perms],
            "effective_summary": describe(perms),
            "rollback": rollback_status(d["action"], d.get("access_level")),
        }

    def _record_refusal(
        self,
        decision_id: str,
        who: Identity,
        why: str,
        status: int,
        now: datetime,
        kind: str = "refused",
    ) -> None:
        try:
            self.store.append(
                [
                    make_entry(
                        "grant",
                        now,
                        who.label,
                        {
                            "status": kind,
                            "decision_id": decision_id,
                            "reason": why,
                            "http_status": status,
                        },
                    )
                ]
            )
        except Exception:
            log.exception("could not record a refused grant for %s", decision_id)

    # -- revoking ------------------------------------------------------------------------
    def _active_revoked(self, role_arn: str, now: datetime) -> list[str]:
        rows = self.store.query(
            "SELECT DISTINCT g.decision_id FROM grants g "
            "JOIN revocations r ON r.decision_id = g.decision_id "
            "WHERE g.role_arn = ? AND g.expires_at > ?",
            (role_arn, ts_text(now)),
        )
        held = {
            d for d, (role, until) in self._unrecorded.items() if role == role_arn and until > now
        }
        return sorted({*(str(r[0]) for r in rows), *held})

    def _apply(self, role_arn: str, ids: list[str]) -> None:
        self.backend.set_revoked(role_arn, ids)
        self._applied[role_arn] = ids

    def _revoke_now(self, role_arn: str, decision_id: str, now: datetime) -> None:
        ids = sorted({*self._active_revoked(role_arn, now), decision_id})
        try:
            self._apply(role_arn, ids)
        except BackendError:
            log.exception("emergency revocation of %s failed", decision_id)

    def grant_record(self, decision_id: str) -> dict[str, Any] | None:
        """The recorded grant of a decision (what it could do, its rollback plan)."""
        rows = self.store.query("SELECT idx FROM grants WHERE decision_id = ?", (decision_id,))
        if not rows:
            return None
        data: dict[str, Any] = json.loads(self.store.entry(int(rows[0][0])).body)["data"]
        return data

    def has_grant(self, decision_id: str) -> bool:
        return bool(self.store.query("SELECT 1 FROM grants WHERE decision_id = ?", (decision_id,)))

    def revoke(self, decision_id: str, reason: str, actor: str) -> bool:
        """Deny the decision's session from now on; record it. True if the cloud applied it."""
        now = self.clock()
        rows = self.store.query(
            "SELECT role_arn, expires_at FROM grants WHERE decision_id = ?", (decision_id,)
        )
        if not rows:
            return False
        role_arn, expires = str(rows[0][0]), parse_ts(str(rows[0][1]))
        self._unrecorded[decision_id] = (role_arn, expires)
        ids = sorted({*self._active_revoked(role_arn, now), decision_id})
        applied, error = True, None
        try:
            self._apply(role_arn, ids)
        except BackendError as exc:
            applied, error = False, str(exc)
        self.store.append(
            [
                make_entry(
                    "revocation",
                    now,
                    actor,
                    {
                        "decision_id": decision_id,
                        "reason": reason,
                        "applied": applied,
                        "error": error,
                        "role_arn": role_arn,
                        "deny_list_size": len(ids),
                    },
                )
            ]
        )  # raises LedgerUnavailable: the id stays in _unrecorded and in every deny list
        del self._unrecorded[decision_id]
        return applied

    def sweep(self, actor: str = "system:remit") -> dict[str, int]:
        """Revoke grants whose time is up, retry revocations the cloud refused, and drop
        expired sessions from the deny list. Safe to run on every replica."""
        now = self.clock()
        for did, (_, until) in list(self._unrecorded.items()):
            if until <= now:
                del self._unrecorded[did]
            else:
                with contextlib.suppress(LedgerUnavailable):
                    self.revoke(did, "recording a revocation the ledger missed", actor)
        due = self.store.query(
            "SELECT g.decision_id FROM grants g "
            "WHERE g.revoke_at <= ? AND g.expires_at > ? AND NOT EXISTS "
            "(SELECT 1 FROM revocations r WHERE r.decision_id = g.decision_id)",
            (ts_text(now), ts_text(now)),
        )
        expired = sum(self.revoke(str(r[0]), "grant time is up", actor) for r in due)
        retry = self.store.query(
            "SELECT r.decision_id FROM revocations r "
            "JOIN grants g ON g.decision_id = r.decision_id "
            "WHERE g.expires_at > ? GROUP BY r.decision_id "
            "HAVING MAX(CASE WHEN r.applied THEN 1 ELSE 0 END) = 0",
            (ts_text(now),),
        )
        retried = sum(
            self.revoke(str(r[0]), "retrying a revocation the cloud refused", actor) for r in retry
        )
        for (role,) in self.store.query("SELECT DISTINCT role_arn FROM grants"):
            role_arn = str(role)
            ids = self._active_revoked(role_arn, now)
            if self._applied.get(role_arn) == ids:
                continue
            try:
                self._apply(role_arn, ids)
            except BackendError:
                log.warning("pruning the deny list of %s failed; will retry", role_arn)
        return {"expired": expired, "retried": retried}


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _catalog() -> Any:
    from remit.catalog import default_catalog

    return default_catalog()
