"""What-if replay in partitions (issue 15, speed): a replay cut into partitions of the
ledger — each reading only its rate windows' lookback before its start — reports exactly
what one replay from the start of the ledger reports, in worker processes or not; a
worker that fails ends the replay with a clear error."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import NOW, SIGNED_AT, role
from tests.oversight.history import proposed

from remit.decide import Gate, StaticState
from remit.domain import ActionRequest
from remit.envelope import LoadedEnvelope
from remit.envelope.signoff import check_signoffs, create_signoff
from remit.ledger.history import records
from remit.ledger.kinds import ApprovalResolution, DecisionRecord
from remit.ledger.log import Ledger
from remit.ledger.open import open_store
from remit.ledger.records import make_entry
from remit.ledger.sqlite_store import SqliteStore
from remit.oversight.runs import Part, plan, replay_part, whatif
from remit.oversight.whatif import REPLAY_KINDS, WhatIfReport, merged, replay
from remit.oversight.whatif_pool import ReplayFailed
from remit.recorder import DecisionRecorder
from remit.signing.keys import generate_signing_key

FIND = {"name": "iam-hygiene", "run": "r-1", "step": "find-stale"}
SECOND_SIGNOFF = NOW + timedelta(hours=3)


@dataclass
class Busy:
    store: SqliteStore
    decisions: list[int]  # ledger indexes of the decisions, in order


def record_busy(
    path: Path, example: LoadedEnvelope, make_request: Callable[..., ActionRequest], late: bool
) -> Busy:
    """Five hours of decisions a minute apart: reads, and revocations that fill R7's
    window (20 per hour) and get held; some held ones approved (they count in the
    window), a model-update event at 2h, a new sign-off at 3h. With `late`, every 7th
    revocation is recorded 90 minutes after it was decided (its ledger time is later)."""
    key = generate_signing_key("ciso.example.com")
    store = SqliteStore(path)
    ledger = Ledger(store)
    signoff = create_signoff(example, key, "ciso@example.com", "CISO", SIGNED_AT)
    trust, checks = check_signoffs(example, [signoff], [key.verifier()], NOW)
    ledger.record_signoffs(checks, SIGNED_AT, "system:remit")
    recorder = DecisionRecorder(Gate(example.envelope, example.digest, trust), ledger)
    decisions: list[int] = []
    for i in range(300):
        at = NOW + timedelta(minutes=i)
        if i == 120:
            ledger.record_event("model_update", at, "sonnet rolled", "cli", at)
        if at == SECOND_SIGNOFF:
            again = create_signoff(example, key, "ciso@example.com", "CISO", at)
            trust, checks = check_signoffs(example, [again], [key.verifier()], at)
            ledger.record_signoffs(checks, at, "system:remit")
            recorder = DecisionRecorder(Gate(example.envelope, example.digest, trust), ledger)
        if i % 4 == 0:
            req = make_request(action="iam:ListRoles", workflow=FIND)
        else:
            req = make_request(resources=[role(f"r{i}")])
        if late and i % 7 == 3:
            d = recorder.gate.decide(req, at, StaticState())
            entry = Ledger.decision_entry(req.canonical(), d, "agent:r", at + timedelta(hours=2))
            later = make_entry(entry.record, at + timedelta(minutes=90), "agent:r")
            decisions.append(store.append([later])[0])
            continue
        d = recorder.decide(req, "agent:r", at)
        decisions.append(int(d.extra["ledger_index"]))
        if d.tier.value == "approve" and i % 3 == 0:
            rec = store.entry(decisions[-1]).read().record
            assert isinstance(rec, DecisionRecord)
            resolution = ApprovalResolution(
                rec.id, "approved", "ok", "d", rec.agent, rec.action, rec.rules
            )
            store.append([make_entry(resolution, at + timedelta(seconds=30), "person:oncall")])
    return Busy(store, decisions)


TIGHTER = proposed(("max_actions: 20, per: PT1H", "max_actions: 7, per: PT1H"))
LOOSER = proposed(("max_actions: 20, per: PT1H", "max_actions: 30, per: PT2H"))
WINDOWS: list[tuple[datetime | None, datetime | None]] = [
    (None, None),
    (NOW + timedelta(minutes=95), None),
    (NOW + timedelta(minutes=61), NOW + timedelta(minutes=250)),
    # decision 297 is in, but recorded (late) after `until`; nothing after it is in
    (NOW + timedelta(minutes=61), NOW + timedelta(minutes=297, seconds=30)),
]


@pytest.fixture(scope="module", params=[False, True], ids=["on-time", "late-entries"])
def busy(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    example: LoadedEnvelope,
    example_request_data: dict[str, Any],
) -> Busy:
    import json

    def make(**changes: Any) -> ActionRequest:
        data = json.loads(json.dumps(example_request_data))
        for k in ("action", "resources"):
            if k in changes:
                data[k] = changes[k]
        if "workflow" in changes:
            data["provenance"]["workflow"] = changes["workflow"]
        return ActionRequest.model_validate(data)

    return record_busy(tmp_path_factory.mktemp("busy") / "ledger.db", example, make, request.param)


def sequential(busy: Busy, gate: Gate, since: datetime | None, until: datetime | None) -> Any:
    """The reference: one replay of the whole ledger from its start."""
    return replay(gate, records(busy.store, REPLAY_KINDS), since, until).to_dict()


def in_parts(
    busy: Busy, gate: Gate, since: datetime | None, until: datetime | None, cuts: list[int]
) -> WhatIfReport:
    span = plan(busy.store, since, 1, 1)
    assert len(span) == 1
    lo, hi = span[0]
    inside = sorted({c for c in cuts if lo < c < hi})
    parts: list[Part] = list(itertools.pairwise([lo, *inside, hi]))
    return merged(
        gate, since, until, [replay_part(busy.store, gate, since, until, p) for p in parts]
    )


def test_the_busy_ledger_has_flips_windows_approvals_and_events(busy: Busy) -> None:
    report = replay(TIGHTER, records(busy.store, REPLAY_KINDS))
    assert report.replayed == 300
    assert report.by_tiers[("notify", "approve")] > 20
    looser = replay(LOOSER, records(busy.store, REPLAY_KINDS))
    assert looser.by_tiers[("approve", "notify")] > 5
    kinds = {r.record.KIND for r in records(busy.store, REPLAY_KINDS)}
    assert {"decision", "approval", "event", "signoff"} <= kinds


@pytest.mark.parametrize("gate", [TIGHTER, LOOSER], ids=["tighter", "looser"])
@pytest.mark.parametrize("window", WINDOWS, ids=["all", "since", "since-until", "until-late"])
def test_partitions_cut_anywhere_report_exactly_the_sequential_replay(
    busy: Busy, gate: Gate, window: tuple[datetime | None, datetime | None]
) -> None:
    since, until = window
    want = sequential(busy, gate, since, until)
    d = busy.decisions
    # Cuts inside rate windows (an hour is 60 decisions), at approvals' neighbours, and
    # one cut per decision in a stretch where the window is full.
    cut_sets = [[d[150]], [d[37], d[200]], [d[10], d[61], d[62], d[119], d[121], d[299]]]
    cut_sets += [[d[i] for i in range(100, 140)], [d[k] + 1 for k in (20, 80, 180)]]
    for cuts in cut_sets:
        assert in_parts(busy, gate, since, until, cuts).to_dict() == want, cuts
        assert in_parts(busy, gate, since, until, cuts).to_dict(5) == (
            replay(gate, records(busy.store, REPLAY_KINDS), since, until).to_dict(5)
        )


@pytest.mark.parametrize("workers", [2, 3])
def test_worker_processes_report_exactly_the_sequential_replay(busy: Busy, workers: int) -> None:
    for since, until in WINDOWS[:2]:
        assert len(plan(busy.store, since, workers, 1)) == workers
        got = whatif(busy.store, TIGHTER, since, until, workers=workers, min_part=1)
        assert got.to_dict() == sequential(busy, TIGHTER, since, until)
        assert got.to_dict(3)["flips"] == got.to_dict()["flips"][:3]


def test_a_small_replay_stays_in_process_and_agrees(busy: Busy) -> None:
    assert len(plan(busy.store, None, 4)) == 1  # 300 decisions: not worth a process
    got = whatif(busy.store, TIGHTER, None, None, workers=4)
    assert got.to_dict() == sequential(busy, TIGHTER, None, None)


def test_a_period_with_no_decisions_replays_nothing(busy: Busy) -> None:
    later = NOW + timedelta(days=30)
    assert plan(busy.store, later, 2, 1) == []
    assert whatif(busy.store, TIGHTER, later, None, workers=2, min_part=1).replayed == 0


def test_a_worker_whose_ledger_vanished_fails_clearly(
    tmp_path: Path, example: LoadedEnvelope, make_request: Callable[..., ActionRequest]
) -> None:
    path = tmp_path / "gone.db"
    record_busy(path, example, make_request, False).store.close()
    store = open_store(str(path), read_only=True)
    try:
        parts = plan(store, None, 2, 1)
        assert len(parts) == 2
        for f in tmp_path.iterdir():  # the ledger goes away; this process still has it open
            f.unlink()
        with pytest.raises(ReplayFailed, match=r"worker for ledger indexes \[\d+, \d+\)") as got:
            whatif(store, TIGHTER, None, None, workers=2, min_part=1)
        assert "gone.db" in str(got.value)  # names the ledger the worker could not open
    finally:
        store.close()
