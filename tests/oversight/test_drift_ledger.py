"""Drift on a real ledger (issue 15 §1): an undeclared behaviour change found in the
recorded stream, the finding and demotion recorded, the gate naming them, a human review
ending the demotion; and a what-if replay honouring the recorded demotion."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest
from tests.conftest import EXAMPLES, NOW, SIGNED_AT, role

from remit.decide import Gate
from remit.domain import ReasonCode
from remit.domain.tiers import Tier
from remit.envelope.loader import load_envelope_text
from remit.envelope.signoff import check_signoffs, create_signoff
from remit.errors import Conflict, NotFound
from remit.ledger.history import records
from remit.ledger.kinds import DemotionRecord, DriftFindingRecord
from remit.ledger.log import Ledger
from remit.ledger.sqlite_store import SqliteStore
from remit.oversight.drift_runs import plan_of, record_findings, record_review, watch
from remit.oversight.whatif import REPLAY_KINDS, replay
from remit.recorder import DecisionRecorder
from remit.signing.keys import generate_signing_key

FIND = {"name": "iam-hygiene", "run": "r-1", "step": "find-stale"}
DRIFT = "drift: {baseline: 100, false_alarm_one_per: 1000}\nrules:"


@pytest.fixture
def setup(tmp_path: Path, make_request):  # type: ignore[no-untyped-def]
    text = (EXAMPLES / "envelope.yaml").read_text().replace("rules:", DRIFT, 1)
    loaded = load_envelope_text(text)
    key = generate_signing_key("ciso.example.com")
    signoff = create_signoff(loaded, key, "ciso@example.com", "CISO", SIGNED_AT)
    trust, checks = check_signoffs(loaded, [signoff], [key.verifier()], NOW)
    gate = Gate(loaded.envelope, loaded.digest, trust)
    ledger = Ledger(SqliteStore(tmp_path / "l.db"))
    ledger.record_signoffs(checks, SIGNED_AT, "system:remit")
    return gate, ledger, DecisionRecorder(gate, ledger), make_request


def test_drift_is_found_recorded_and_demotes_until_reviewed(setup) -> None:  # type: ignore[no-untyped-def]
    gate, ledger, recorder, make_request = setup
    plan = plan_of(gate.envelope)
    assert (plan.baseline_size, plan.arl0) == (100, 1000)
    rng = random.Random(11)
    t = NOW
    n = 0

    def ask(risky: bool):  # type: ignore[no-untyped-def]
        nonlocal t, n
        t += timedelta(minutes=4)  # below R7's rate window
        n += 1
        if risky:
            return recorder.decide(make_request(resources=[role(f"r{n}")]), "agent:r", t)
        return recorder.decide(make_request(action="iam:ListRoles", workflow=FIND), "agent:r", t)

    for _ in range(300):
        ask(rng.random() < 0.2)
    assert not watch(ledger.store, plan).agents["remediator"].flagged
    for _ in range(300):  # same declared model, different behaviour
        ask(rng.random() < 0.7)
    monitor = watch(ledger.store, plan)
    alarm = monitor.agents["remediator"].flagged
    assert alarm is not None and alarm.index > 300  # after the change, not before
    made = record_findings(ledger, monitor, Tier.APPROVE, t, "system:drift")
    assert len(made) == 1 and made[0].new
    assert made[0].demotion_index == made[0].finding_index + 1
    finding = ledger.store.entry(made[0].finding_index).read().record
    demotion = ledger.store.entry(made[0].finding_index + 1).read().record
    assert isinstance(finding, DriftFindingRecord) and finding.statistic >= finding.threshold
    assert isinstance(demotion, DemotionRecord) and demotion.floor == "approve"
    again = record_findings(ledger, watch(ledger.store, plan), Tier.APPROVE, t, "x")
    assert [(m.finding_id, m.new) for m in again] == [(made[0].finding_id, False)]
    assert again[0].finding_index == made[0].finding_index

    d = ask(False)
    assert d.tier is Tier.APPROVE
    reason = next(r for r in d.reasons if r.code is ReasonCode.DRIFT_DEMOTED)
    assert made[0].finding_id in reason.message and str(made[0].demotion_index) in reason.message

    review = record_review(ledger, made[0].finding_id, "person:ciso@example.com", "expected", t)
    assert review.record.agent == "remediator"
    with pytest.raises(Conflict, match="already reviewed"):
        record_review(ledger, made[0].finding_id, "person:ciso@example.com", "again", t)
    with pytest.raises(NotFound):
        record_review(ledger, "drift-nope", "person:ciso@example.com", "", t)
    assert ask(False).tier is Tier.AUTONOMOUS
    after = watch(ledger.store, plan).agents["remediator"]
    assert after.flagged is None and after.p0 is None  # learning a new baseline

    # What-if replay under the same envelope reproduces the demoted decision too.
    report = replay(gate, records(ledger.store, REPLAY_KINDS))
    assert report.flips == [] and report.replayed == 602


def test_the_standing_sweep_records_once_and_reads_only_what_is_new(
    tmp_path: Path,
    make_request,  # type: ignore[no-untyped-def]
) -> None:
    from tests.oversight.history import record_drifting

    from remit.oversight.drift_runs import DriftWatch

    ledger, gate, t = record_drifting(tmp_path / "l.db", make_request)
    sweep = DriftWatch()
    made = sweep.sweep(ledger, gate.envelope, t)
    assert len(made) == 1 and made[0].demotion_index is not None
    assert sweep.next_index == ledger.store.size() - 2  # everything before the new entries
    size = ledger.store.size()
    appends = 0
    append_computed = ledger.store.append_computed

    def counted(build):  # type: ignore[no-untyped-def]
        nonlocal appends
        appends += 1
        return append_computed(build)

    ledger.store.append_computed = counted  # type: ignore[method-assign]
    assert sweep.sweep(ledger, gate.envelope, t) == [] and ledger.store.size() == size
    assert appends == 0  # the agent is still flagged, its finding known: no write lock taken
    fresh = DriftWatch()  # a new service finds the finding on the ledger (under the lock)
    assert fresh.sweep(ledger, gate.envelope, t) == [] and appends == 1
    assert fresh.sweep(ledger, gate.envelope, t) == [] and appends == 1
    ledger.store.append_computed = append_computed  # type: ignore[method-assign]
    d = DecisionRecorder(gate, ledger).decide(
        make_request(action="iam:ListRoles", workflow=FIND), "agent:r", t + timedelta(minutes=4)
    )
    assert d.tier is Tier.APPROVE and ReasonCode.DRIFT_DEMOTED in [r.code for r in d.reasons]


def test_a_sweep_fed_hints_sees_exactly_what_reading_the_ledger_sees(
    tmp_path: Path,
    make_request,  # type: ignore[no-untyped-def]
) -> None:
    """The service's sweep takes what its own decisions show from the writer's answers
    (`DriftHints`) and reads only the rest back: the monitor ends in the same state, the
    same finding is recorded, a hint never stands in for an entry that is not a decision,
    and no hint outlives the sweep that passed its index."""
    from tests.oversight.history import record_drifting

    from remit.ledger.kinds import DecisionRecord
    from remit.oversight.drift import DriftInput
    from remit.oversight.drift_runs import DriftHints, DriftWatch

    ledger, gate, t = record_drifting(tmp_path / "l.db", make_request)
    hints = DriftHints()
    decisions = [r for r in records(ledger.store, {"decision"})]
    for r in decisions:
        if r.index % 3:  # two in three come with a hint, the rest are read back
            assert isinstance(r.record, DecisionRecord)
            hints.add(r.index, DriftInput.of(r.record))
    first = decisions[0].record
    assert isinstance(first, DecisionRecord) and decisions[0].index > 0
    ghost = DriftInput("ghost", "dec_ghost", ("-",) * 5, DriftInput.of(first).features)
    hints.add(0, ghost)  # entry 0 is a sign-off: a hint there must never be fed

    plain, hinted = DriftWatch(), DriftWatch()
    found: dict[str, list[str]] = {"plain": [], "hinted": []}
    for name, watch_, h in (("plain", plain, None), ("hinted", hinted, hints)):
        while True:  # in chunks, as the service sweeps
            made = watch_.sweep(ledger, gate.envelope, t, chunk=97, hints=h)
            found[name] += [m.finding_id for m in made]
            if not watch_.behind:
                break
    assert plain.monitor is not None and hinted.monitor is not None
    assert "ghost" not in hinted.monitor.agents
    assert {a: s.to_dict() for a, s in hinted.monitor.agents.items()} == {
        a: s.to_dict() for a, s in plain.monitor.agents.items()
    }
    assert found["plain"] and found["hinted"] == []  # the second found it already recorded
    assert plain.next_index == hinted.next_index and len(hints) == 0
