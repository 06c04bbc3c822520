"""What a running service holds: the ledger, keys, approvals, the current envelope (reloaded
when its file or sign-offs change), the notifier, and the decide-and-record path.

Edges (HTTP routes, the dashboard) call this; it calls the core. Nothing here knows HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from remit.approvals.queue import ApprovalQueue
from remit.domain.clock import Clock, ts_text, utcnow
from remit.domain.envelope import Envelope
from remit.domain.ids import new_id
from remit.domain.tiers import Tier
from remit.envelope.source import EnvelopeSource, EnvelopeView
from remit.errors import Conflict, Unavailable
from remit.grants.backend import GrantBackend
from remit.grants.local import LocalBackend
from remit.grants.readiness import CachedBrokerCheck
from remit.grants.service import GrantService
from remit.identity.model import Identity, Role
from remit.identity.store import KeyStore
from remit.ledger.gate_reads import LockedReads
from remit.ledger.kinds import DecisionRecord, NotificationRecord, OutcomeRecord
from remit.ledger.log import Ledger
from remit.ledger.open import open_store
from remit.ledger.records import NewEntry, make_entry
from remit.ledger.store import LedgerUnavailable
from remit.oversight.drift_runs import DriftHints, DriftWatch
from remit.server.coalesce import LoopCoalescer
from remit.server.config import ServerConfig
from remit.server.writer import (
    Answer,
    DecisionWriter,
    WireAsk,
    WriterSpec,
    WriterUnavailable,
    unrecorded_answer,
)
from remit.signing.keys import load_signing_key, load_verifier_key

if TYPE_CHECKING:
    from remit.notify import DeliveryResult, Notification, Notifier


class Runtime:
    """The service's state and its one path for deciding."""

    def __init__(self, config: ServerConfig, clock: Clock = utcnow) -> None:
        self.config = config
        self.clock = clock
        self.store = open_store(config.db)
        log_key = load_signing_key(config.log_key) if config.log_key else None
        self.ledger = Ledger(self.store, log_key)
        self.keys = KeyStore(self.store)
        self.approvals = ApprovalQueue(self.store)
        trusted = [load_verifier_key(k) for k in config.trusted_keys]
        self.envelopes = EnvelopeSource(config.envelope, trusted, config.insecure_unsigned)
        self._last_view: EnvelopeView | None = None
        self._versions_seen: set[str] = set()
        self.envelope_view()  # fail at start if the envelope cannot be loaded
        self.broker_check: CachedBrokerCheck | None = None
        """For the sts backend: can the broker assume each agent's role (/readyz)."""
        self.grants = self._grant_service()
        notify = config.notify_dict()
        self.writer = DecisionWriter(
            WriterSpec(
                config.db,
                str(config.envelope),
                tuple(config.trusted_keys),
                config.insecure_unsigned,
                notifying=bool(notify),
                checkpoint_key=config.log_key if config.checkpoint_after_commit else None,
            ),
            deadline=config.writer_deadline,
        )
        self.coalescer: LoopCoalescer[WireAsk, Answer] = LoopCoalescer(self.writer.submit_many)
        self.drift_hints = DriftHints()
        """What the decisions recorded through this process show the drift sweep."""
        self.drift_watch = DriftWatch()
        """The standing drift test: the periodic sweep keeps it up to date and records its
        findings; `GET /v1/drift` and the dashboard read it (only what is new is read)."""
        self.notifier: Notifier | None = None
        if notify:
            from remit.notify import Notifier

            self.notifier = Notifier.from_config(notify, record=self._record_delivery)

    def _grant_service(self) -> GrantService:
        aws = self.config.aws
        planner = None
        backend: GrantBackend
        if aws.backend == "sts":
            import boto3

            from remit.grants.sts import StsBackend
            from remit.rollback.plans import snapshot_and_plan

            session = boto3.Session(profile_name=aws.profile, region_name=aws.region)
            backend = StsBackend(session, aws.endpoint_url, aws.region)
            self.broker_check = CachedBrokerCheck(  # a session of its own: /readyz's thread
                boto3.Session(profile_name=aws.profile, region_name=aws.region),
                aws.region,
                aws.endpoint_url,
            )

            def planner(action: str, parameters: dict[str, Any]) -> dict[str, Any]:
                return snapshot_and_plan(action, parameters, session, aws.endpoint_url).to_dict()
        else:
            backend = LocalBackend(clock=self.clock)
        return GrantService(
            self.store,
            backend,
            self._authority,
            self.approvals,
            self.clock,
            planner,
        )

    # -- envelope ----------------------------------------------------------------------
    def envelope_view(self, force: bool = False) -> EnvelopeView:
        now = self.clock()
        view = self.envelopes.current(now, force)
        if view is not self._last_view:  # new or reloaded: record it and its sign-offs
            loaded = view.loaded
            if loaded.digest not in self._versions_seen:
                document = json.loads(loaded.canonical)
                self.ledger.record_envelope_version(loaded.digest, document, now, "system:remit")
                self._versions_seen.add(loaded.digest)
            self.ledger.record_signoffs(view.checks, now, "system:remit")
            self._last_view = view
        return view

    def _authority(self) -> tuple[Envelope, str]:
        """The envelope in force and its digest, if it is authority now (grants need it)."""
        view = self.envelope_view()
        if not (view.trust.valid or view.trust.insecure):
            raise Conflict(f"the envelope in force is not authority ({view.trust.detail})")
        return view.loaded.envelope, view.loaded.digest

    # -- deciding ----------------------------------------------------------------------
    async def decide_async(self, raw: bytes, who: Identity) -> Answer:
        """Decide and record the request in `raw` (its body as received) without blocking
        the event loop: requests that arrive together go to the writer as one group,
        recorded in one transaction. The writer validates the body and checks the agent
        the caller's key is bound to; if it cannot record, or cannot be reached, the
        answer is deny LEDGER_UNAVAILABLE."""
        now = self.clock()
        try:
            view = self.envelope_view()
        except Exception as exc:  # envelope unreadable now: nothing is allowed
            raise EnvelopeUnavailable(str(exc)) from exc
        bound = who.agent if who.role is Role.AGENT else None
        decision_id = new_id("dec", now)
        wire = WireAsk(raw, who.label, bound, ts_text(now), decision_id, view.version)
        try:
            answer = await self.coalescer.submit(wire)
        except WriterUnavailable as exc:  # refused as the writer would, or deny unrecorded
            answer = unrecorded_answer(wire, view, str(exc))
        if answer.drift is not None and answer.summary is not None:
            index = answer.summary[3]
            if index is not None:
                self.drift_hints.add(index, answer.drift)
        notice = answer.notice
        if notice is not None and self.notifier is not None:
            self.notifier.submit(self._notification(notice.decision, notice.request))
        return answer

    def _notification(self, decision: dict[str, Any], request: dict[str, Any]) -> Notification:
        from remit.notify import Notification

        approval: dict[str, Any] | None = None
        base = self.config.public_url
        held = decision["tier"] == Tier.APPROVE
        if held:
            approval = {
                "expires_at": (decision.get("approval") or {}).get("expires_at"),
                "approve_url": None,  # approving is a POST with a key, never a link click
                "state": "pending",
            }
        return Notification(
            id=f"ntf_{decision['id']}",
            kind="approve" if held else "notify",
            decision=decision,
            request=request,
            approval=approval,
            dashboard_url=(
                f"{base}/ui/approvals/{decision['id']}"
                if held
                else f"{base}/ui/decisions/{decision['id']}"
            )
            if base
            else None,
        )

    def _record_delivery(self, result: DeliveryResult) -> None:
        record = NotificationRecord(
            result.notification_id, result.channel, result.attempt, result.ok, result.error,
            result.final,
        )  # fmt: skip
        self.store.append([make_entry(record, result.at, "system:notifier")])

    # -- outcomes ----------------------------------------------------------------------
    def record_outcome(
        self,
        decision: DecisionRecord,
        decision_status: str,
        status: str,
        error: str | None,
        cloud_request_ids: Sequence[str],
        actor: str,
    ) -> tuple[int, OutcomeRecord]:
        """Record what happened when the agent acted, then end its credentials. A success
        reported for a decision that was not allowed is recorded as such. One outcome per
        decision: a second is refused (Conflict), checked under the append lock."""
        outcome = OutcomeRecord(
            decision.id,
            status,
            error,
            tuple(cloud_request_ids),
            decision_status,
            ran_without_allow=decision_status != "allowed" and status == "succeeded",
        )
        entry = make_entry(outcome, self.clock(), actor)

        def build(locked: LockedReads, _size: int) -> list[NewEntry]:
            first = locked.outcome_index(decision.id)
            if first is not None:
                raise Conflict(
                    f"an outcome was already reported for decision {decision.id} "
                    f"(ledger index {first}); outcomes are recorded once"
                )
            return [entry]

        (index,) = self.store.append_computed(build)[1]
        try:
            self.grants.revoke(decision.id, f"outcome reported: {status}", actor)
        except LedgerUnavailable as exc:
            raise LedgerUnavailable(f"outcome recorded, {exc}") from exc
        return index, outcome

    def close(self) -> None:
        self.writer.close()
        if self.notifier is not None:
            self.notifier.close()
        self.store.close()


class EnvelopeUnavailable(Unavailable):
    """The envelope file or its sign-offs cannot be read right now: nothing is allowed."""

    def __init__(self, why: str) -> None:
        super().__init__(f"envelope unavailable, nothing is allowed: {why}")
