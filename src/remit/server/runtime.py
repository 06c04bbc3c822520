"""What a running service holds: the ledger, keys, approvals, the current envelope (reloaded
when its file or sign-offs change), the notifier, and the decide-and-record path.

Edges (HTTP routes, the dashboard) call this; it calls the core. Nothing here knows HTTP.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from remit.approvals.queue import ApprovalQueue
from remit.decide import Gate
from remit.domain.decisions import Decision
from remit.domain.ids import new_id
from remit.domain.requests import ActionRequest
from remit.domain.tiers import Tier
from remit.domain.trust import EnvelopeTrust
from remit.envelope import LoadedEnvelope, load_envelope
from remit.envelope.signoff import SignoffCheck, check_signoffs, read_signoffs, signoffs_path
from remit.grants.backend import GrantBackend
from remit.grants.local import LocalBackend
from remit.grants.service import GrantService
from remit.identity.model import Identity
from remit.identity.store import KeyStore
from remit.ledger.log import Ledger
from remit.ledger.open import open_store
from remit.ledger.records import make_entry
from remit.recorder.batch import BatchRecorder
from remit.recorder.decisions import Ask, utcnow
from remit.server.config import ServerConfig
from remit.signing.keys import VerifierKey, load_signing_key, load_verifier_key

if TYPE_CHECKING:
    from remit.notify import DeliveryResult, Notification, Notifier


@dataclass(frozen=True)
class EnvelopeView:
    """The envelope in force, its trust, and the gate compiled from it."""

    loaded: LoadedEnvelope
    trust: EnvelopeTrust
    checks: list[SignoffCheck]
    gate: Gate
    stamp: tuple[float, float]


class EnvelopeSource:
    """Loads the envelope and its sign-offs, and reloads them when either file changes."""

    def __init__(self, path: Path, trusted: list[VerifierKey], insecure: bool) -> None:
        self.path = path
        self.trusted = trusted
        self.insecure = insecure
        self._lock = threading.Lock()
        self._view: EnvelopeView | None = None
        self._checked = 0.0

    def _stamp(self) -> tuple[float, float]:
        so = signoffs_path(self.path)
        return (
            self.path.stat().st_mtime_ns,
            so.stat().st_mtime_ns if so.exists() else 0.0,
        )

    RECHECK_SECONDS = 0.25

    def current(self, now: datetime, force: bool = False) -> EnvelopeView:
        """The view as of `now` (trust depends on time: future-dated sign-offs). The files
        are checked for changes at most every RECHECK_SECONDS."""
        view = self._view
        tick = time.monotonic()
        fresh = tick - self._checked < self.RECHECK_SECONDS
        if view is not None and view.trust.valid and fresh and not force:
            return view
        self._checked = tick
        stamp = self._stamp()
        with self._lock:
            view = self._view
            if view is None or view.stamp != stamp or not view.trust.valid:
                loaded = load_envelope(self.path)
                trust, checks = check_signoffs(
                    loaded, read_signoffs(signoffs_path(self.path)), self.trusted, now
                )
                if self.insecure and not trust.valid:
                    trust = EnvelopeTrust.insecure_unsigned()
                view = EnvelopeView(
                    loaded, trust, checks, Gate(loaded.envelope, loaded.digest, trust), stamp
                )
                self._view = view
            return view


class Runtime:
    """The service's state and its one path for deciding."""

    def __init__(self, config: ServerConfig, clock: Callable[[], datetime] = utcnow) -> None:
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
        self.envelope_view()  # fail at start if the envelope cannot be loaded
        self.grants = self._grant_service()
        self.batcher = BatchRecorder(self.ledger)
        self.notifier: Notifier | None = None
        notify = config.notify_dict()
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

            def planner(action: str, parameters: dict[str, Any]) -> dict[str, Any]:
                return snapshot_and_plan(action, parameters, session, aws.endpoint_url).to_dict()
        else:
            backend = LocalBackend()
        return GrantService(
            self.store,
            backend,
            lambda: self.envelope_view().loaded.envelope,
            self.approvals,
            self.clock,
            planner,
        )

    # -- envelope ----------------------------------------------------------------------
    def envelope_view(self, force: bool = False) -> EnvelopeView:
        now = self.clock()
        view = self.envelopes.current(now, force)
        if view is not self._last_view:  # new or reloaded: put its sign-offs on the ledger
            self.ledger.record_signoffs(view.checks, now, "system:remit")
            self._last_view = view
        return view

    # -- deciding ----------------------------------------------------------------------
    def submit(self, request: ActionRequest, who: Identity) -> Future[Decision]:
        """Queue a request for the group-commit writer; the future resolves once recorded."""
        now = self.clock()
        try:
            gate = self.envelope_view().gate
        except Exception as exc:  # envelope unreadable now: nothing is allowed
            raise EnvelopeUnavailable(str(exc)) from exc
        return self.batcher.submit(Ask(gate, request, who.label, now, new_id("dec", now)))

    def decided(self, decision: Decision, request: ActionRequest) -> None:
        """After a decision is recorded: tell the humans who must know."""
        if decision.tier in (Tier.NOTIFY, Tier.APPROVE) and self.notifier is not None:
            self.notifier.submit(self._notification(decision, request))

    def decide(self, request: ActionRequest, who: Identity) -> Decision:
        """Decide and record one request (blocking)."""
        decision = self.submit(request, who).result()
        self.decided(decision, request)
        return decision

    def _notification(self, decision: Decision, request: ActionRequest) -> Notification:
        from remit.notify import Notification

        approval: dict[str, Any] | None = None
        base = self.config.public_url
        if decision.tier is Tier.APPROVE:
            rec = self.approvals.get(decision.id)
            approval = {
                "expires_at": rec.pending.expires_at.isoformat() if rec else None,
                "approve_url": None,  # approving is a POST with a key, never a link click
                "state": "pending",
            }
        return Notification(
            id=f"ntf_{decision.id}",
            kind="approve" if decision.tier is Tier.APPROVE else "notify",
            decision=decision.to_dict(),
            request=request.canonical(),
            approval=approval,
            dashboard_url=f"{base}/dashboard" if base else None,
        )

    def _record_delivery(self, result: DeliveryResult) -> None:
        self.store.append(
            [
                make_entry(
                    "notification",
                    result.at,
                    "system:notifier",
                    {
                        "notification_id": result.notification_id,
                        "channel": result.channel,
                        "attempt": result.attempt,
                        "ok": result.ok,
                        "error": result.error,
                        "final": result.final,
                    },
                )
            ]
        )

    def close(self) -> None:
        self.batcher.close()
        if self.notifier is not None:
            self.notifier.close()
        self.store.close()


class EnvelopeUnavailable(RuntimeError):
    """The envelope file or its sign-offs cannot be read right now."""
