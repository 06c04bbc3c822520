"""Issue 11, finding 4 (second half): protected sets and regulations selected resources by
tags the agent itself sent, so the same ARN without `system: payments` got notify instead
of approve. Tags now come from the envelope's signed `inventory`; the tags a request
sends are claims that can only add a resource to a set, and a resource the inventory does
not cover is assumed to be in every tag-selected set (failing closed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.conftest import NOW, role

from remit.decide import Gate, StaticState
from remit.domain.reasons import ReasonCode
from remit.domain.requests import ActionRequest
from remit.domain.tiers import Tier


def _tier(gate: Gate, make: Callable[..., ActionRequest], **changes: Any) -> Any:
    d = gate.decide(make(**changes), NOW, StaticState())
    return d


def test_dropping_the_tag_does_not_lower_the_tier(
    gate: Gate, make_request: Callable[..., ActionRequest]
) -> None:
    claimed = _tier(gate, make_request, resources=[role("payments-batch", system="payments")])
    silent = _tier(gate, make_request, resources=[role("payments-batch")])
    lying = _tier(gate, make_request, resources=[role("payments-batch", system="billing")])
    for d in (claimed, silent, lying):
        assert d.tier is Tier.APPROVE, d.reasons
        assert ReasonCode.PROTECTED_RESOURCE in d.codes
    pci = _tier(gate, make_request, resources=[role("card-vault-reader")])
    assert pci.tier is Tier.APPROVE and ReasonCode.REGULATORY_CONSTRAINT in pci.codes


def test_a_claim_can_only_add_to_a_set(
    gate: Gate, make_request: Callable[..., ActionRequest]
) -> None:
    plain = _tier(gate, make_request, resources=[role("legacy-batch")])
    assert plain.tier is Tier.NOTIFY, plain.reasons
    claimed = _tier(gate, make_request, resources=[role("legacy-batch", system="payments")])
    assert claimed.tier is Tier.APPROVE and ReasonCode.PROTECTED_RESOURCE in claimed.codes


def test_a_resource_the_inventory_does_not_cover_fails_closed(
    gate: Gate, make_request: Callable[..., ActionRequest]
) -> None:
    # another account's role: no inventory entry says what its tags are
    foreign = {"arn": "arn:aws:iam::444455556666:role/legacy-batch", "tags": {}}
    read = _tier(
        gate,
        make_request,
        action="iam:GetRole",
        resources=[foreign],
        workflow={"name": "iam-hygiene", "run": "r-1", "step": "find-stale"},
    )
    assert read.tier.rank >= Tier.APPROVE.rank, read.reasons


def test_a_wildcard_touching_a_tagged_prefix_is_in_the_set(
    gate: Gate, make_request: Callable[..., ActionRequest]
) -> None:
    find = {"name": "iam-hygiene", "run": "r-1", "step": "find-stale"}
    legacy = _tier(
        gate, make_request, action="iam:ListRoles", workflow=find,
        resources=[{"arn": "arn:aws:iam::111122223333:role/legacy-*"}],
    )  # fmt: skip
    assert legacy.tier is Tier.AUTONOMOUS, legacy.reasons
    payments = _tier(
        gate, make_request, action="iam:ListRoles", workflow=find,
        resources=[{"arn": "arn:aws:iam::111122223333:role/pay*"}],
    )  # fmt: skip
    assert payments.tier is Tier.APPROVE and ReasonCode.PROTECTED_RESOURCE in payments.codes
