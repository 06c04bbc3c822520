"""What-if replay (issue 15 §4): the recorded history decided again under a proposed
envelope, with the recorded state at each decision; flips counted and listed by index."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from tests.conftest import NOW
from tests.oversight.history import History, proposed, record_history

from remit.domain.tiers import Tier
from remit.envelope import LoadedEnvelope
from remit.ledger.history import records
from remit.oversight.whatif import REPLAY_KINDS, replay


@pytest.fixture
def history(tmp_path: Path, example: LoadedEnvelope, make_request) -> History:  # type: ignore[no-untyped-def]
    return record_history(tmp_path / "ledger.db", example, make_request)


def test_history_has_every_state_the_replay_must_rebuild(history: History) -> None:
    t = history.tiers
    assert t["read-0"] is Tier.AUTONOMOUS
    assert t["revoke-0"] is Tier.NOTIFY and t["revoke-19"] is Tier.NOTIFY
    assert t["revoke-20"] is Tier.APPROVE  # the R7 window is full
    assert t["after-approval"] is Tier.APPROVE  # the approved one counts too
    assert t["payments"] is Tier.APPROVE
    assert t["new-model"] is Tier.APPROVE
    assert t["after-event"] is Tier.APPROVE  # model_update after the last sign-off


def test_the_same_envelope_reproduces_every_recorded_tier(history: History) -> None:
    gate = proposed()
    report = replay(gate, records(history.store, REPLAY_KINDS))
    assert report.replayed == len(history.tiers)
    assert report.flips == [] and report.unreplayable == []


def test_a_tightened_envelope_reports_its_flips_with_ledger_indexes(history: History) -> None:
    # Reads now notify, and R7 admits 10 per hour instead of 20.
    gate = proposed(
        ("    allow_wildcards: true             # reads may name a set (role/legacy-*): it counts "
         "as unbounded\n    tier: autonomous", "    allow_wildcards: true\n    tier: notify"),
        ("window: {max_actions: 20, per: PT1H}", "window: {max_actions: 10, per: PT1H}"),
    )  # fmt: skip
    report = replay(gate, records(history.store, REPLAY_KINDS))
    idx = history.indexes
    flipped = {f.index: (f.old_tier, f.new_tier) for f in report.flips}
    expected = {idx[f"read-{i}"]: (Tier.AUTONOMOUS, Tier.NOTIFY) for i in range(3)}
    expected |= {idx[f"revoke-{i}"]: (Tier.NOTIFY, Tier.APPROVE) for i in range(10, 20)}
    assert flipped == expected
    assert report.by_tiers[("autonomous", "notify")] == 3
    assert report.by_tiers[("notify", "approve")] == 10
    assert report.by_rule == {"R1-read": 3, "R7-revoke-stale": 10}
    assert report.by_agent == {"remediator": 13}
    assert report.by_action == {"iam:ListRoles": 3, "iam:DetachRolePolicy": 10}
    assert report.stricter == 13 and report.looser == 0
    assert "after-event" not in {f.decision_id for f in report.flips}


def test_replay_never_writes(history: History) -> None:
    before = history.store.size()
    replay(proposed(("tier: autonomous", "tier: notify")), records(history.store, REPLAY_KINDS))
    assert history.store.size() == before


def test_a_looser_envelope_flips_the_other_way(history: History) -> None:
    # Without the rate window, the held revocations would have run.
    gate = proposed((", window: {max_actions: 20, per: PT1H}", ""))
    report = replay(gate, records(history.store, REPLAY_KINDS))
    idx = history.indexes
    assert {f.index for f in report.flips} == {idx["revoke-20"], idx["after-approval"]}
    assert report.looser == 2 and report.by_tiers == {("approve", "notify"): 2}


def test_since_limits_what_is_decided_again_but_not_the_state(history: History) -> None:
    gate = proposed(("max_actions: 20, per: PT1H", "max_actions: 10, per: PT1H"))
    since = NOW + timedelta(minutes=16)  # revoke-15 onwards; revoke-0..14 still count
    report = replay(gate, records(history.store, REPLAY_KINDS), since=since)
    idx = history.indexes
    assert {f.index for f in report.flips} == {idx[f"revoke-{i}"] for i in range(15, 20)}
    assert report.replayed == 21 - 15 + 4  # revoke-15..20, after-approval, payments, ...
