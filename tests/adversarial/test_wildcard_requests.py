"""Wildcard request resources are the sets they denote (issue 11, item 1).

The reviewer's finding: on the example envelope, `iam:DetachRolePolicy` on
`role/OrganizationAccountAccessRole` is denied by the break-glass rule R9, but `role/*`,
`role/Organization*` and `role/OrganizationAccountAccessRol?` were decided under R7 alone,
passed `max_resources: 3`, and were granted a session policy carrying the wildcard.
"""

from __future__ import annotations

import fnmatch
import itertools
from copy import deepcopy
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import EXAMPLES, NOW, SIGNED_AT

from remit.decide import Gate, StaticState
from remit.domain import ActionRequest, Tier
from remit.domain import ReasonCode as C
from remit.domain.envelope import Envelope
from remit.domain.patterns import compile_glob, globs_overlap
from remit.domain.trust import EnvelopeTrust
from remit.grants.policy import GrantRefused, session_policy

ACCOUNT = "arn:aws:iam::111122223333:"
BREAK_GLASS = ACCOUNT + "role/OrganizationAccountAccessRole"
REVIEWER_WILDCARDS = [
    ACCOUNT + "role/*",
    ACCOUNT + "role/Organization*",
    ACCOUNT + "role/OrganizationAccountAccessRol?",
]
EXAMPLE_DATA: dict[str, Any] = yaml.safe_load((EXAMPLES / "envelope.yaml").read_text())
TRUST = EnvelopeTrust(True, SIGNED_AT, "signed off by test")


def gate_for(data: dict[str, Any]) -> Gate:
    return Gate(Envelope.model_validate(data), "sha256:test", TRUST)


def envelope_data(**rule_changes: dict[str, Any] | None) -> dict[str, Any]:
    """The example envelope with some rules changed (`None` value removes the rule)."""
    data = deepcopy(EXAMPLE_DATA)
    rules = []
    for r in data["rules"]:
        change = rule_changes.get(r["id"].replace("-", "_"), {})
        if change is None:
            continue
        rules.append({**r, **change})
    data["rules"] = rules
    return data


def request(make_request: Any, *arns: str, **tags: str) -> ActionRequest:
    req: ActionRequest = make_request(resources=[{"arn": a, "tags": tags} for a in arns])
    return req


def codes(d: Any) -> list[C]:
    return [r.code for r in d.reasons]


# --- the reviewer's exact cases -------------------------------------------------------


@pytest.mark.parametrize("arn", [BREAK_GLASS, *REVIEWER_WILDCARDS])
def test_break_glass_deny_applies_to_every_request_that_can_name_it(
    gate: Gate, make_request: Any, arn: str
) -> None:
    d = gate.decide(request(make_request, arn), NOW, StaticState())
    assert d.tier is Tier.DENY
    assert "R9-break-glass-role" in d.rules


@pytest.mark.parametrize("arn", REVIEWER_WILDCARDS)
def test_without_the_deny_a_wildcard_is_still_refused_by_name(make_request: Any, arn: str) -> None:
    gate = gate_for(envelope_data(R9_break_glass_role=None))
    d = gate.decide(request(make_request, arn), NOW, StaticState())
    assert d.tier is Tier.DENY
    (reason,) = [r for r in d.reasons if r.code is C.WILDCARD_RESOURCE]
    assert arn in reason.message and "R7-revoke-stale" in reason.message


def test_allowed_wildcard_is_unbounded_against_max_resources(make_request: Any) -> None:
    data = envelope_data(R9_break_glass_role=None, R7_revoke_stale={"allow_wildcards": True})
    arn = ACCOUNT + "role/legacy-*"
    d = gate_for(data).decide(request(make_request, arn), NOW, StaticState())
    assert d.tier is Tier.DENY
    (reason,) = [r for r in d.reasons if r.code is C.BLAST_RADIUS_EXCEEDED]
    assert arn in reason.message and "at most 3" in reason.message


def test_allowed_wildcard_without_limits_runs_but_the_deny_still_wins(make_request: Any) -> None:
    open_r7 = {"allow_wildcards": True, "blast_radius": None}
    data = envelope_data(R7_revoke_stale=open_r7)
    data["protected"], data["regulations"] = [], []
    gate = gate_for(data)
    d = gate.decide(request(make_request, ACCOUNT + "role/legacy-*"), NOW, StaticState())
    assert d.tier is Tier.NOTIFY, d.reasons  # the severity floor, nothing else
    for arn in REVIEWER_WILDCARDS:
        assert gate.decide(request(make_request, arn), NOW, StaticState()).tier is Tier.DENY


def test_every_touching_rule_must_allow_the_wildcard(make_request: Any) -> None:
    data = envelope_data(
        R9_break_glass_role=None, R7_revoke_stale={"allow_wildcards": True, "blast_radius": None}
    )
    data["protected"], data["regulations"] = [], []
    data["rules"].append(
        {
            "id": "R8-legacy",
            "agents": ["remediator"],
            "actions": ["iam:DetachRolePolicy"],
            "resources": [ACCOUNT + "role/legacy-batch"],
            "tier": "notify",
        }
    )
    d = gate_for(data).decide(request(make_request, ACCOUNT + "role/legacy-*"), NOW, StaticState())
    assert d.tier is Tier.DENY
    (reason,) = [r for r in d.reasons if r.code is C.WILDCARD_RESOURCE]
    assert "R8-legacy" in reason.message


def test_wildcard_in_account_is_unbounded_against_max_accounts(make_request: Any) -> None:
    data = envelope_data(
        R9_break_glass_role=None,
        R7_revoke_stale={
            "allow_wildcards": True,
            "resources": ["arn:aws:iam::*:role/*"],
            "blast_radius": {"max_accounts": 1},
        },
    )
    arn = "arn:aws:iam::*:role/legacy-batch"
    d = gate_for(data).decide(request(make_request, arn), NOW, StaticState())
    assert d.tier is Tier.DENY
    assert any(r.code is C.BLAST_RADIUS_EXCEEDED and arn in r.message for r in d.reasons)


def test_a_literal_protected_resource_protects_against_wildcards(make_request: Any) -> None:
    data = envelope_data(
        R9_break_glass_role=None, R7_revoke_stale={"allow_wildcards": True, "blast_radius": None}
    )
    data["protected"] = [
        {"id": "break-glass", "match": {"resources": [BREAK_GLASS]}, "min_tier": "approve"}
    ]
    data["regulations"] = []
    gate = gate_for(data)
    d = gate.decide(request(make_request, ACCOUNT + "role/Org*"), NOW, StaticState())
    assert d.tier is Tier.APPROVE and C.PROTECTED_RESOURCE in codes(d)
    d = gate.decide(request(make_request, ACCOUNT + "role/legacy-*"), NOW, StaticState())
    assert d.tier is Tier.NOTIFY


def test_a_wildcard_carries_the_tags_of_every_inventory_entry_it_touches(
    make_request: Any,
) -> None:
    # The example's `payments` set selects by tag; the inventory tags role/payments-*.
    data = envelope_data(
        R9_break_glass_role=None, R7_revoke_stale={"allow_wildcards": True, "blast_radius": None}
    )
    gate = gate_for(data)
    d = gate.decide(request(make_request, ACCOUNT + "role/pay*"), NOW, StaticState())
    assert d.tier is Tier.APPROVE
    assert C.PROTECTED_RESOURCE in codes(d) and C.REGULATORY_CONSTRAINT not in codes(d)
    other = gate.decide(request(make_request, ACCOUNT + "role/x-*"), NOW, StaticState())
    assert C.PROTECTED_RESOURCE not in codes(other)
    data["inventory"] = []  # nothing trusted says what the roles' tags are: fail closed
    unknown = gate_for(data).decide(request(make_request, ACCOUNT + "role/x-*"), NOW, StaticState())
    assert unknown.tier is Tier.APPROVE and C.PROTECTED_RESOURCE in codes(unknown)


def test_fallback_requests_cannot_name_wildcards(gate: Gate, make_request: Any) -> None:
    fallback = {"of": "dec_1", "failed_action": "s3:GetObject", "error": "AccessDenied"}
    literal = make_request(
        action="s3:GetObject",
        resources=[{"arn": "arn:aws:s3:::reports-archive/2026/q3.csv", "tags": {}}],
        fallback=fallback,
        workflow=None,
    )
    assert gate.decide(literal, NOW, StaticState()).tier is Tier.APPROVE
    wild = make_request(
        action="s3:GetObject",
        resources=[{"arn": "arn:aws:s3:::reports-archive/*", "tags": {}}],
        fallback=fallback,
        workflow=None,
    )
    d = gate.decide(wild, NOW, StaticState())
    assert d.tier is Tier.DENY and C.WILDCARD_RESOURCE in codes(d)


@pytest.mark.parametrize("arn", REVIEWER_WILDCARDS)
def test_grant_never_carries_a_wildcard_no_rule_allowed(arn: str) -> None:
    with pytest.raises(GrantRefused, match="allow_wildcards"):
        session_policy(["iam:DetachRolePolicy"], [arn])


# --- glob intersection, proven against brute force ------------------------------------

GLOB = st.text(alphabet="ab*?", max_size=5)


def brute_overlap(a: str, b: str) -> bool:
    # A shortest common string is at most as long as both patterns' non-`*` characters
    # together, and only needs letters the patterns use (a `?`/`*` takes any).
    for n in range(len(a) + len(b) + 1):
        for chars in itertools.product("ab", repeat=n):
            s = "".join(chars)
            if fnmatch.fnmatchcase(s, a) and fnmatch.fnmatchcase(s, b):
                return True
    return False


@settings(max_examples=300, deadline=None)
@given(GLOB, GLOB)
def test_glob_overlap_is_exact(a: str, b: str) -> None:
    assert globs_overlap(a, b) is brute_overlap(a, b)
    assert globs_overlap(b, a) is globs_overlap(a, b)


@settings(max_examples=200, deadline=None)
@given(GLOB, GLOB, st.data())
def test_glob_containment_is_sound(pattern: str, req: str, data: st.DataObject) -> None:
    if not compile_glob(pattern)(req):
        return
    for _ in range(5):
        assert fnmatch.fnmatchcase(instance(req, data), pattern)


def test_glob_overlap_handles_arn_length_patterns() -> None:
    long = "arn:aws:s3:::b/" + "k" * 2000
    assert globs_overlap(long[:-1] + "?", "arn:aws:s3:::b/*")
    assert not globs_overlap(long + "x", long + "y*")


def instance(pattern: str, data: st.DataObject) -> str:
    """A literal string matched by `pattern` (each `*` a random run, each `?` one char)."""
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(data.draw(st.text(alphabet="abAB-/", max_size=3)))
        elif ch == "?":
            out.append(data.draw(st.sampled_from("abAB-")))
        else:
            out.append(ch)
    return "".join(out)


# --- no request gets a weaker tier than a literal ARN it covers -----------------------

NAME = st.text(alphabet="abA*?", min_size=1, max_size=4)
TIERS = st.sampled_from(["autonomous", "notify", "approve", "deny"])


@st.composite
def rule_sets(draw: st.DrawFn) -> list[dict[str, Any]]:
    rules = []
    for i in range(draw(st.integers(1, 4))):
        names = draw(st.lists(NAME, min_size=1, max_size=2))
        br = draw(st.sampled_from([None, {"max_resources": 1}, {"max_resources": 3}]))
        rules.append(
            {
                "id": f"R{i}",
                "agents": ["remediator"],
                "actions": ["iam:DetachRolePolicy"],
                "resources": [ACCOUNT + "role/" + n for n in names],
                "tier": draw(TIERS),
                "allow_wildcards": draw(st.booleans()),
                "blast_radius": br,
            }
        )
    return rules


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_sets(), st.lists(NAME, min_size=1, max_size=2), TIERS, st.data())
def test_no_request_is_weaker_than_a_literal_it_covers(
    rules: list[dict[str, Any]], names: list[str], unmatched: str, data: st.DataObject
) -> None:
    env = deepcopy(EXAMPLE_DATA)
    env["rules"] = rules
    env["defaults"]["unmatched"] = unmatched
    gate = gate_for(env)
    base = ActionRequest.model_validate(
        yaml.safe_load((EXAMPLES / "request.json").read_text())
    ).model_dump(mode="json")

    def decide(arns: list[str]) -> Tier:
        req = {**base, "resources": [{"arn": a, "tags": {}} for a in arns]}
        return gate.decide(ActionRequest.model_validate(req), NOW, StaticState()).tier

    arns = [ACCOUNT + "role/" + n for n in names]
    tier = decide(arns)
    for _ in range(4):
        literal = [ACCOUNT + "role/" + instance(n, data) for n in names]
        if any(a.endswith("/") for a in literal):
            continue  # an empty role name is not an ARN
        assert tier.rank >= decide(literal).rank, (arns, literal)
