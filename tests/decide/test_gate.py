"""The gate's semantics (issue 2 §4), one promise per test, on the example envelope."""

from __future__ import annotations

from datetime import timedelta

import pytest
from tests.conftest import NOW, SIGNED_AT, role

from remit.decide import Gate, OrgEvent, StaticState
from remit.domain import ReasonCode as C
from remit.domain import Tier
from remit.domain.trust import EnvelopeTrust

FIND = {"name": "iam-hygiene", "run": "r-1", "step": "find-stale"}


def codes(d):
    return [r.code for r in d.reasons]


def test_example_request_is_notify_by_severity_floor(gate, make_request, state):
    d = gate.decide(make_request(), NOW, state)
    assert d.tier is Tier.NOTIFY
    assert codes(d) == [C.RULE_MATCHED, C.SEVERITY_FLOOR]
    assert d.rules == ("R7-revoke-stale",)
    assert d.envelope.name == "prod-security-automation" and d.envelope.version == 7
    assert d.envelope.digest.startswith("sha256:")
    assert d.access_level == "Permissions management"
    assert all(r.message.endswith(".") for r in d.reasons)


def test_read_in_workflow_step_is_autonomous(gate, make_request, state):
    d = gate.decide(make_request(action="iam:ListRoles", workflow=FIND), NOW, state)
    assert d.tier is Tier.AUTONOMOUS and codes(d) == [C.RULE_MATCHED]


def test_action_matching_is_case_insensitive(gate, make_request, state):
    d = gate.decide(make_request(action="IAM:listroles", workflow=FIND), NOW, state)
    assert d.tier is Tier.AUTONOMOUS


def test_resource_type_word_is_matched_as_written(gate, make_request, state):
    # `ROLE/x` is not a role ARN: R7 (role/*) may apply (it touches case-insensitively)
    # but does not cover it, so the envelope's default (deny) applies too.
    req = make_request(resources=[{"arn": "arn:aws:iam::111122223333:ROLE/x", "tags": {}}])
    d = gate.decide(req, NOW, state)
    assert d.tier is Tier.DENY and codes(d) == [C.RULE_MATCHED, C.NO_MATCHING_RULE]


def test_strictest_matching_rule_wins(gate, make_request, state):
    d = gate.decide(make_request(resources=[role("OrganizationAccountAccessRole")]), NOW, state)
    assert d.tier is Tier.DENY
    assert set(d.rules) == {"R7-revoke-stale", "R9-break-glass-role"}


def test_every_resource_must_match(gate, make_request, state):
    other_account = {"arn": "arn:aws:iam::999999999999:role/x", "tags": {}}
    d = gate.decide(make_request(resources=[role("a"), other_account]), NOW, state)
    # R7 applies to role/a, but no rule covers the other account's role: default deny.
    assert d.tier is Tier.DENY and codes(d) == [C.RULE_MATCHED, C.NO_MATCHING_RULE]


def test_request_wildcard_is_not_covered_by_narrower_pattern(gate, make_request, state):
    # R7 covers role/*; a request for "arn:aws:iam::111122223333:*" is broader than that.
    req = make_request(resources=[{"arn": "arn:aws:iam::111122223333:*", "tags": {}}])
    assert gate.decide(req, NOW, state).tier is Tier.DENY


def test_no_matching_rule_uses_default(gate, make_request, state):
    d = gate.decide(make_request(action="iam:CreateUser"), NOW, state)
    assert d.tier is Tier.DENY and codes(d) == [C.NO_MATCHING_RULE]


def test_unknown_agent_denied(gate, make_request, state):
    d = gate.decide(make_request(agent="intruder"), NOW, state)
    assert d.tier is Tier.DENY and codes(d) == [C.UNKNOWN_AGENT]


def test_unknown_action_denied(gate, make_request, state):
    d = gate.decide(make_request(action="iam:DetachEverything"), NOW, state)
    assert d.tier is Tier.DENY and codes(d) == [C.UNKNOWN_ACTION]


def test_invalid_signature_denies_everything(example, make_request, state):
    g = Gate(example.envelope, example.digest, EnvelopeTrust(False, None, "it has no sign-offs"))
    d = g.decide(make_request(action="iam:ListRoles", workflow=FIND), NOW, state)
    assert d.tier is Tier.DENY and codes(d) == [C.ENVELOPE_SIGNATURE_INVALID]


def test_insecure_unsigned_is_marked(example, make_request, state):
    g = Gate(example.envelope, example.digest, EnvelopeTrust.insecure_unsigned())
    d = g.decide(make_request(action="iam:ListRoles", workflow=FIND), NOW, state)
    assert C.ENVELOPE_UNSIGNED_INSECURE in codes(d)
    # never reviewed: autonomy drops to notify even in experiments
    assert d.tier is Tier.NOTIFY and C.ENVELOPE_REVIEW_OVERDUE in codes(d)


def test_expired_envelope_needs_approval(gate, make_request, state):
    later = NOW.replace(year=2027, month=3, day=2)
    g = Gate(gate.envelope, gate.ref.digest, EnvelopeTrust(True, later - timedelta(days=1), "ok"))
    d = g.decide(make_request(action="iam:ListRoles", workflow=FIND), later, state)
    assert d.tier is Tier.APPROVE and C.ENVELOPE_EXPIRED in codes(d)


def test_review_overdue_downgrades_autonomy_to_notify(gate, make_request, state):
    t = SIGNED_AT + timedelta(days=91)
    d = gate.decide(make_request(action="iam:ListRoles", workflow=FIND), t, state)
    assert d.tier is Tier.NOTIFY and C.ENVELOPE_REVIEW_OVERDUE in codes(d)


def test_review_exactly_at_cadence_is_not_overdue(gate, make_request, state):
    t = SIGNED_AT + timedelta(days=90)
    d = gate.decide(make_request(action="iam:ListRoles", workflow=FIND), t, state)
    assert d.tier is Tier.AUTONOMOUS


def test_revalidation_event_after_signoff_requires_approval(gate, make_request):
    st = StaticState(events=[OrgEvent("acquisition", SIGNED_AT + timedelta(days=2), "bought co")])
    d = gate.decide(make_request(action="iam:ListRoles", workflow=FIND), NOW, st)
    assert d.tier is Tier.APPROVE and C.ENVELOPE_REVALIDATION_PENDING in codes(d)


def test_event_before_signoff_or_unlisted_kind_does_not_count(gate, make_request):
    st = StaticState(
        events=[
            OrgEvent("acquisition", SIGNED_AT - timedelta(days=1)),
            OrgEvent("office_move", SIGNED_AT + timedelta(days=1)),
        ]
    )
    d = gate.decide(make_request(action="iam:ListRoles", workflow=FIND), NOW, st)
    assert d.tier is Tier.AUTONOMOUS


def test_unvalidated_model_needs_approval(gate, make_request, state):
    d = gate.decide(
        make_request(model={"name": "claude-sonnet", "version": "2099-01-01"}), NOW, state
    )
    assert d.tier is Tier.APPROVE and C.MODEL_UNVALIDATED in codes(d)


def test_ai_request_without_model_needs_approval(gate, make_request, state):
    d = gate.decide(make_request(model=None), NOW, state)
    assert C.MODEL_UNVALIDATED in codes(d) and d.tier is Tier.APPROVE


def test_action_outside_step_uses_out_of_workflow(gate, make_request, state):
    d = gate.decide(make_request(workflow=FIND), NOW, state)  # detach in find-stale
    assert d.tier is Tier.APPROVE and C.OUT_OF_WORKFLOW in codes(d)


def test_no_workflow_named_while_bound(gate, make_request, state):
    d = gate.decide(make_request(workflow=None), NOW, state)
    assert d.tier is Tier.APPROVE and C.OUT_OF_WORKFLOW in codes(d)


def test_unknown_step(gate, make_request, state):
    wf = {"name": "iam-hygiene", "run": "r", "step": "nope"}
    assert C.OUT_OF_WORKFLOW in codes(gate.decide(make_request(workflow=wf), NOW, state))


def test_protected_resource_raises_to_min_tier(gate, make_request, state):
    d = gate.decide(make_request(resources=[role("p", system="payments")]), NOW, state)
    assert d.tier is Tier.APPROVE and C.PROTECTED_RESOURCE in codes(d)


def test_regulation_forbids_tier(gate, make_request, state):
    d = gate.decide(make_request(resources=[role("p", **{"pci-scope": "true"})]), NOW, state)
    assert d.tier is Tier.APPROVE and C.REGULATORY_CONSTRAINT in codes(d)


def test_regulation_tag_value_must_match_exactly(gate, make_request, state):
    d = gate.decide(make_request(resources=[role("p", **{"pci-scope": "false"})]), NOW, state)
    assert C.REGULATORY_CONSTRAINT not in codes(d)


def test_too_many_resources_denied(gate, make_request, state):
    d = gate.decide(make_request(resources=[role(f"r{i}") for i in range(4)]), NOW, state)
    assert d.tier is Tier.DENY and C.BLAST_RADIUS_EXCEEDED in codes(d)


def test_three_resources_allowed(gate, make_request, state):
    d = gate.decide(make_request(resources=[role(f"r{i}") for i in range(3)]), NOW, state)
    assert d.tier is Tier.NOTIFY


def test_rate_window_holds_the_21st_action(gate, make_request):
    recent = [("remediator", "R7-revoke-stale", NOW - timedelta(minutes=i)) for i in range(20)]
    d = gate.decide(make_request(), NOW, StaticState(actions=recent))
    assert d.tier is Tier.APPROVE and C.RATE_LIMIT_EXCEEDED in codes(d)
    d19 = gate.decide(make_request(), NOW, StaticState(actions=recent[:19]))
    assert d19.tier is Tier.NOTIFY


def test_rate_window_forgets_old_actions(gate, make_request):
    old = [("remediator", "R7-revoke-stale", NOW - timedelta(hours=1, seconds=1))] * 30
    assert gate.decide(make_request(), NOW, StaticState(actions=old)).tier is Tier.NOTIFY


def test_low_confidence_needs_approval(gate, make_request, state):
    d = gate.decide(make_request(confidence=0.79), NOW, state)
    assert d.tier is Tier.APPROVE and C.CONFIDENCE_TOO_LOW in codes(d)


def test_missing_confidence_needs_approval(gate, make_request, state):
    d = gate.decide(make_request(confidence=None), NOW, state)
    assert C.CONFIDENCE_TOO_LOW in codes(d)


def test_reasoning_incomplete_for_resulting_tier_denies(gate, make_request, state):
    d = gate.decide(
        make_request(action="iam:ListRoles", workflow=FIND, alternatives=[]), NOW, state
    )
    assert d.tier is Tier.DENY and C.REASONING_INCOMPLETE in codes(d)
    assert "alternatives" in d.reasons[-1].message


def test_reasoning_requirement_follows_the_final_tier(gate, make_request, state):
    # notify needs summary, signals, confidence — alternatives are not required there
    d = gate.decide(make_request(alternatives=[]), NOW, state)
    assert d.tier is Tier.NOTIFY


def test_blank_summary_does_not_count(gate, make_request, state):
    d = gate.decide(make_request(summary="   ", confidence=0.5), NOW, state)
    assert d.tier is Tier.DENY and C.REASONING_INCOMPLETE in codes(d)


def _fallback(make_request, **kw):
    base = {
        "action": "s3:GetObject",
        "resources": [{"arn": "arn:aws:s3:::reports-archive/q3.csv", "tags": {}}],
        "workflow": None,
        "fallback": {"of": "dec_1", "failed_action": "s3:GetObject", "error": "AccessDenied"},
    }
    base.update(kw)
    return make_request(**base)


def test_fallback_matches_preapproved_entry(gate, make_request, state):
    d = gate.decide(_fallback(make_request), NOW, state)
    assert d.tier is Tier.APPROVE and d.fallback_rule == "F1"
    assert C.FALLBACK_MATCHED in codes(d) and d.rules == ()


def test_fallback_outside_entry_is_unauthorized(gate, make_request, state):
    req = _fallback(make_request, resources=[{"arn": "arn:aws:s3:::payroll/x", "tags": {}}])
    d = gate.decide(req, NOW, state)
    assert d.tier is Tier.DENY and codes(d) == [C.FALLBACK_UNAUTHORIZED]


def test_fallback_is_never_matched_against_rules(gate, make_request, state):
    # An ordinary rule allows iam:ListRoles autonomously, but as a fallback it has no entry.
    fb = {"of": "dec_1", "failed_action": "iam:GetRole", "error": "AccessDenied"}
    d = gate.decide(make_request(action="iam:ListRoles", workflow=FIND, fallback=fb), NOW, state)
    assert d.tier is Tier.DENY and codes(d) == [C.FALLBACK_UNAUTHORIZED]


def test_fallback_still_gets_other_checks(gate, make_request, state):
    d = gate.decide(_fallback(make_request, model=None), NOW, state)
    assert C.MODEL_UNVALIDATED in codes(d)


@pytest.mark.parametrize("seed", range(5))
def test_decision_is_deterministic(gate, make_request, seed):
    st = StaticState(actions=[("remediator", "R7-revoke-stale", NOW)] * seed)
    a = gate.decide(make_request(confidence=0.5 + seed / 10), NOW, st)
    b = gate.decide(make_request(confidence=0.5 + seed / 10), NOW, st)
    assert (a.tier, a.reasons, a.rules, a.envelope) == (b.tier, b.reasons, b.rules, b.envelope)


def test_naive_time_refused(gate, make_request, state):
    with pytest.raises(ValueError, match="timezone"):
        gate.decide(make_request(), NOW.replace(tzinfo=None), state)
