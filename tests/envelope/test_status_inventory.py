"""Status (the board's three questions), conflicts with regulations (C9) and the decision
inventory (C7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import EXAMPLES, NOW, SIGNED_AT

from remit.catalog import default_catalog
from remit.decide import OrgEvent
from remit.domain.trust import EnvelopeTrust
from remit.envelope import load_envelope_text
from remit.envelope.conflicts import find_conflicts
from remit.envelope.inventory import build_inventory
from remit.envelope.status import envelope_status

TEXT = (EXAMPLES / "envelope.yaml").read_text()
PCI_BY_ARN = TEXT.replace(
    'match: {tags: {pci-scope: "true"}}',
    'match: {resources: ["arn:aws:iam::111122223333:role/card-*"]}',
)


def test_example_has_no_static_conflicts(example):
    assert find_conflicts(example.envelope) == []


def test_rule_overlapping_regulation_patterns_is_a_conflict():
    conflicts = find_conflicts(load_envelope_text(PCI_BY_ARN).envelope)
    assert {c.rule_id for c in conflicts} == {"R1-read", "R7-revoke-stale"}
    assert all(c.regulation_id == "PCI-DSS-4.0" for c in conflicts)


def test_non_overlapping_patterns_are_not_conflicts():
    text = TEXT.replace(
        'match: {tags: {pci-scope: "true"}}',
        'match: {resources: ["arn:aws:iam::999999999999:role/*"]}',
    )
    assert find_conflicts(load_envelope_text(text).envelope) == []


def test_status_answers_the_three_questions(example):
    trust = EnvelopeTrust(True, SIGNED_AT, "signed off by ciso")
    events = [OrgEvent("acquisition", SIGNED_AT + timedelta(days=1), "bought co")]
    st = envelope_status(example, trust, [], events, NOW)
    assert st.owner == "ciso@example.com"
    assert st.last_review == SIGNED_AT
    assert st.next_review_due == SIGNED_AT + timedelta(days=90)
    assert not st.review_overdue and not st.expired
    assert [e.kind for e in st.pending_events] == ["acquisition"]
    assert not st.healthy
    later = envelope_status(example, trust, [], [], SIGNED_AT + timedelta(days=91))
    assert later.review_overdue and not later.healthy
    expired = envelope_status(example, trust, [], [], datetime(2027, 3, 1, tzinfo=UTC))
    assert expired.expired
    assert envelope_status(example, trust, [], [], NOW).healthy


def test_inventory_lists_each_agent_rule_with_conditions(example):
    rows = build_inventory(example.envelope, default_catalog())
    by_rule = {r.rule_id: r for r in rows}
    assert set(by_rule) == {"R1-read", "R7-revoke-stale", "R9-break-glass-role"}
    r7 = by_rule["R7-revoke-stale"]
    assert r7.agent == "remediator" and r7.tier == "autonomous"
    assert r7.effective_tier.startswith("notify")  # raised by the severity floor
    assert "confidence ≥ 0.8" in r7.conditions
    assert any("20 actions per" in c for c in r7.conditions)
    assert by_rule["R1-read"].action_count > 50  # iam:List* and iam:Get* expanded from the IAM db
    assert by_rule["R9-break-glass-role"].effective_tier == "deny"
