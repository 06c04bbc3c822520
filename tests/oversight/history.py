"""A recorded history for the oversight tests: a real SQLite ledger on which the example
envelope (signed off with a real key) decided a morning of requests through the live
recorder — reads, revocations up to and past the R7 rate window, an approval granted, a
model-update event, an unvalidated model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from tests.conftest import EXAMPLES, NOW, SIGNED_AT, role

from remit.decide import Gate
from remit.domain import ActionRequest
from remit.domain.tiers import Tier
from remit.domain.trust import EnvelopeTrust
from remit.envelope import LoadedEnvelope
from remit.envelope.loader import load_envelope_text
from remit.envelope.signoff import check_signoffs, create_signoff
from remit.ledger.kinds import ApprovalResolution
from remit.ledger.log import Ledger
from remit.ledger.records import make_entry
from remit.ledger.sqlite_store import SqliteStore
from remit.recorder import DecisionRecorder
from remit.signing.keys import generate_signing_key

FIND = {"name": "iam-hygiene", "run": "r-1", "step": "find-stale"}
EVENT_AT = NOW + timedelta(minutes=40)


@dataclass
class History:
    store: SqliteStore
    ledger: Ledger
    gate: Gate
    tiers: dict[str, Tier]
    indexes: dict[str, int]


def record_history(
    path: Path, example: LoadedEnvelope, make_request: Callable[..., ActionRequest]
) -> History:
    key = generate_signing_key("ciso.example.com")
    signoff = create_signoff(example, key, "ciso@example.com", "CISO", SIGNED_AT)
    trust, checks = check_signoffs(example, [signoff], [key.verifier()], NOW)
    assert trust.valid
    store = SqliteStore(path)
    ledger = Ledger(store)
    ledger.record_signoffs(checks, SIGNED_AT, "system:remit")
    gate = Gate(example.envelope, example.digest, trust)
    recorder = DecisionRecorder(gate, ledger)
    tiers: dict[str, Tier] = {}
    indexes: dict[str, int] = {}

    def decide(name: str, at: datetime, **changes: Any) -> None:
        d = recorder.decide(make_request(**changes), "agent:remediator", at)
        tiers[name] = d.tier
        indexes[name] = int(d.extra["ledger_index"])

    for i in range(3):
        decide(f"read-{i}", NOW + timedelta(minutes=i), action="iam:ListRoles", workflow=FIND)
    for i in range(21):  # R7 admits 20 per hour without approval: the 21st is held
        decide(f"revoke-{i}", NOW + timedelta(minutes=1 + i), resources=[role(f"r{i}")])
    held = recorder.ledger.store.reads.decision(_id(store, indexes["revoke-20"]))
    assert held is not None
    rec = held.record
    ledger.store.append(
        [
            make_entry(
                ApprovalResolution(rec.id, "approved", "ok", "d", rec.agent, rec.action, rec.rules),
                NOW + timedelta(minutes=23),
                "person:oncall@example.com",
            )
        ]
    )
    decide("after-approval", NOW + timedelta(minutes=24), resources=[role("r-late")])
    decide("payments", NOW + timedelta(minutes=25), resources=[role("payments-api")])
    newer = {"name": "claude-sonnet", "version": "2027-01-01"}
    decide("new-model", NOW + timedelta(minutes=26), model=newer)
    ledger.record_event("model_update", EVENT_AT, "sonnet rolled", "cli", EVENT_AT)
    decide("after-event", EVENT_AT + timedelta(minutes=1), action="iam:ListRoles", workflow=FIND)
    return History(store, ledger, gate, tiers, indexes)


def _id(store: SqliteStore, index: int) -> str:
    return str(store.entry(index).document()["data"]["decision"]["id"])


DRIFT_SECTION = "drift: {baseline: 100, false_alarm_one_per: 1000}\nrules:"


def drifting_envelope_text() -> str:
    return (EXAMPLES / "envelope.yaml").read_text().replace("rules:", DRIFT_SECTION, 1)


def record_drifting(
    path: Path, make_request: Callable[..., ActionRequest], before: int = 300, after: int = 300
) -> tuple[Ledger, Gate, datetime]:
    """A signed envelope with a small drift baseline, and an agent whose high-risk share
    goes from 20% to 70% after `before` decisions (the declared model never changes)."""
    import random

    from remit.envelope.loader import load_envelope_text

    loaded = load_envelope_text(drifting_envelope_text())
    key = generate_signing_key("ciso.example.com")
    signoff = create_signoff(loaded, key, "ciso@example.com", "CISO", SIGNED_AT)
    trust, checks = check_signoffs(loaded, [signoff], [key.verifier()], NOW)
    gate = Gate(loaded.envelope, loaded.digest, trust)
    ledger = Ledger(SqliteStore(path))
    ledger.record_signoffs(checks, SIGNED_AT, "system:remit")
    recorder = DecisionRecorder(gate, ledger)
    rng = random.Random(11)
    t = NOW
    for n in range(before + after):
        t += timedelta(minutes=4)  # below R7's rate window
        if rng.random() < (0.2 if n < before else 0.7):
            recorder.decide(make_request(resources=[role(f"r{n}")]), "agent:r", t)
        else:
            recorder.decide(make_request(action="iam:ListRoles", workflow=FIND), "agent:r", t)
    return ledger, gate, t


def proposed(*edits: tuple[str, str]) -> Gate:
    """A gate over the example envelope with `edits` (old, new) applied: a proposal. The
    trust given here is replaced by the recorded one at each replayed decision."""
    text = (EXAMPLES / "envelope.yaml").read_text()
    for old, new in edits:
        assert old in text
        text = text.replace(old, new)
    loaded = load_envelope_text(text)
    return Gate(loaded.envelope, loaded.digest, EnvelopeTrust(False, None, "unsigned proposal"))
