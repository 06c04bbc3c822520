"""Resource names match by each service's own case rules (issue 11, item 2).

The reviewer's finding: `role/organizationaccountaccessrole` (the break-glass role in
another case; IAM role names are unique case-insensitively) was decided under the
permissive rule R7, not the break-glass deny R9. The rules, per service and direction,
are in docs/security.md, "Resource matching".
"""

from __future__ import annotations

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
from remit.domain.resource_match import resource_key, touches, within
from remit.domain.trust import EnvelopeTrust

ACCOUNT = "arn:aws:iam::111122223333:"
EXAMPLE_DATA: dict[str, Any] = yaml.safe_load((EXAMPLES / "envelope.yaml").read_text())
TRUST = EnvelopeTrust(True, SIGNED_AT, "signed off by test")


def gate_for(data: dict[str, Any]) -> Gate:
    return Gate(Envelope.model_validate(data), "sha256:test", TRUST)


def decide(gate: Gate, make_request: Any, *arns: str, **changes: Any) -> Any:
    req = make_request(resources=[{"arn": a, "tags": {}} for a in arns], **changes)
    return gate.decide(req, NOW, StaticState())


def with_rules(*rules: dict[str, Any], workflows: bool = True) -> dict[str, Any]:
    data = deepcopy(EXAMPLE_DATA)
    data["rules"] = list(rules)
    # the tables these tests use carry no tags (else tag-selected sets fail closed on them)
    data["inventory"].append(
        {"resources": ["arn:aws:dynamodb:us-east-1:111122223333:table/*"], "tags": {}}
    )
    if not workflows:
        data["agents"]["remediator"]["workflows"] = []
    return data


def rule(rid: str, tier: str, *resources: str, actions: tuple[str, ...] = ("iam:*",)) -> Any:
    return {
        "id": rid,
        "agents": ["remediator"],
        "actions": list(actions),
        "resources": list(resources),
        "tier": tier,
    }


@pytest.mark.parametrize(
    "name",
    [
        "organizationaccountaccessrole",
        "ORGANIZATIONACCOUNTACCESSROLE",
        "OrganizationAccountAccessROLE",
    ],
)
def test_break_glass_deny_applies_in_any_case(gate: Gate, make_request: Any, name: str) -> None:
    d = decide(gate, make_request, ACCOUNT + "role/" + name)
    assert d.tier is Tier.DENY
    assert "R9-break-glass-role" in d.rules


@pytest.mark.parametrize("kind", ["role", "user", "group", "policy", "instance-profile"])
def test_iam_names_are_case_insensitive(make_request: Any, kind: str) -> None:
    gate = gate_for(
        with_rules(
            rule("allow", "autonomous", ACCOUNT + "*"),
            rule("deny", "deny", ACCOUNT + kind + "/ops/Admin"),
        )
    )
    assert decide(gate, make_request, ACCOUNT + kind + "/OPS/aDMIN").tier is Tier.DENY
    assert decide(gate, make_request, ACCOUNT + kind + "/ops/other").tier is not Tier.DENY


def test_an_iam_allow_covers_its_names_in_any_case(make_request: Any) -> None:
    gate = gate_for(with_rules(rule("allow", "notify", ACCOUNT + "role/Legacy-*")))
    d = decide(gate, make_request, ACCOUNT + "role/legacy-batch")
    assert d.tier is Tier.NOTIFY and d.rules == ("allow",)


def test_the_iam_type_word_is_not_folded_for_an_allow(make_request: Any) -> None:
    gate = gate_for(with_rules(rule("allow", "notify", ACCOUNT + "role/*")))
    d = decide(gate, make_request, ACCOUNT + "ROLE/legacy-batch")
    assert d.tier is Tier.DENY and C.NO_MATCHING_RULE in [r.code for r in d.reasons]


def test_protected_sets_match_iam_names_in_any_case(make_request: Any) -> None:
    data = deepcopy(EXAMPLE_DATA)
    data["protected"] = [
        {"id": "bg", "match": {"resources": [ACCOUNT + "role/Legacy-Batch"]}, "min_tier": "approve"}
    ]
    d = decide(gate_for(data), make_request, ACCOUNT + "role/legacy-batch")
    assert d.tier is Tier.APPROVE and C.PROTECTED_RESOURCE in [r.code for r in d.reasons]


def test_regulations_match_iam_names_in_any_case(make_request: Any) -> None:
    data = deepcopy(EXAMPLE_DATA)
    data["regulations"] = [
        {
            "id": "pci",
            "match": {"resources": [ACCOUNT + "role/LEGACY-*"]},
            "forbid_tiers": ["autonomous", "notify"],
        }
    ]
    d = decide(gate_for(data), make_request, ACCOUNT + "role/legacy-batch")
    assert d.tier is Tier.APPROVE and C.REGULATORY_CONSTRAINT in [r.code for r in d.reasons]


def test_s3_object_keys_are_case_sensitive(make_request: Any) -> None:
    gate = gate_for(
        with_rules(
            rule("read", "autonomous", "arn:aws:s3:::bucket/*", actions=("s3:GetObject",)),
            rule("secret", "deny", "arn:aws:s3:::bucket/Secret.txt", actions=("s3:GetObject",)),
            workflows=False,
        )
    )
    get = {"action": "s3:GetObject", "workflow": None}
    assert decide(gate, make_request, "arn:aws:s3:::bucket/Secret.txt", **get).tier is Tier.DENY
    other = decide(gate, make_request, "arn:aws:s3:::bucket/secret.txt", **get)
    assert other.tier is Tier.AUTONOMOUS and other.rules == ("read",)


def test_unknown_services_fold_case_to_restrict_but_not_to_allow(make_request: Any) -> None:
    table = "arn:aws:dynamodb:us-east-1:111122223333:table/"
    act = {"actions": ("dynamodb:DeleteTable",)}
    req = {"action": "dynamodb:DeleteTable", "workflow": None}
    deny = gate_for(
        with_rules(
            rule("all", "autonomous", table + "*", **act),
            rule("prod", "deny", table + "Prod", **act),
            workflows=False,
        )
    )
    assert decide(deny, make_request, table + "prod", **req).tier is Tier.DENY
    allow = gate_for(with_rules(rule("prod", "autonomous", table + "Prod", **act), workflows=False))
    assert decide(allow, make_request, table + "Prod", **req).tier is Tier.AUTONOMOUS
    d = decide(allow, make_request, table + "prod", **req)
    assert d.tier is Tier.DENY and C.NO_MATCHING_RULE in [r.code for r in d.reasons]


def test_case_rules_per_service() -> None:
    role = resource_key(ACCOUNT + "role/Admin")
    assert touches(ACCOUNT + "role/admin", role) and within(role, ACCOUNT + "role/ADMIN")
    obj = resource_key("arn:aws:s3:::b/Key")
    assert not touches("arn:aws:s3:::b/key", obj) and not within(obj, "arn:aws:s3:::b/key")
    fn = resource_key("arn:aws:lambda:us-east-1:111122223333:function:Fn")
    assert touches("arn:aws:lambda:us-east-1:111122223333:function:fn", fn)
    assert not within(fn, "arn:aws:lambda:us-east-1:111122223333:function:fn")


# --- a case variant of an IAM name is the same entity: same tier ----------------------

NAME = st.text(alphabet="abAB-", min_size=1, max_size=4)
PATTERN = st.text(alphabet="abAB*?", min_size=1, max_size=4)
TIERS = st.sampled_from(["autonomous", "notify", "approve", "deny"])


@st.composite
def rule_sets(draw: st.DrawFn) -> list[dict[str, Any]]:
    return [
        rule(
            f"R{i}",
            draw(TIERS),
            *[ACCOUNT + "role/" + p for p in draw(st.lists(PATTERN, min_size=1, max_size=2))],
        )
        for i in range(draw(st.integers(1, 4)))
    ]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_sets(), NAME, st.data())
def test_case_variants_of_a_role_get_the_same_tier(
    rules: list[dict[str, Any]], name: str, data: st.DataObject
) -> None:
    gate = gate_for(with_rules(*rules))
    variant = "".join(c.swapcase() if data.draw(st.booleans()) else c for c in name)
    base = ActionRequest.model_validate(
        yaml.safe_load((EXAMPLES / "request.json").read_text())
    ).model_dump(mode="json")

    def tier(arn: str) -> Tier:
        req = {**base, "resources": [{"arn": arn, "tags": {}}]}
        return gate.decide(ActionRequest.model_validate(req), NOW, StaticState()).tier

    assert tier(ACCOUNT + "role/" + name) is tier(ACCOUNT + "role/" + variant)
