"""The shared tool gate's rules, driven step by step without any network: a plan yields the
SDK calls it would send and is sent Remit's answers (or thrown the SDK's errors). The same
rules run against a real `remit serve` in tests/mcp and tests/adapters."""

from __future__ import annotations

import time
from typing import Any

import pytest

from remit.mcp.mapping import parse_mapping
from remit.sdk import Client, RemitRefused, RemitUnavailable
from remit.sdk.calls import Call
from remit.toolgate import GateConfig, Refusal
from remit.toolgate.plan import Admission, Announce, admission

ROLE = "arn:aws:iam::{account}:role/{role_name}"
MAPPING = parse_mapping(
    {"server": "t", "tools": {"delete_role_policy": {"action": "iam:DeleteRolePolicy",
                                                     "resources": [ROLE]}}},
    "test",
)  # fmt: skip
ARGS = {"role_name": "prod-a"}


def decision(status: str, did: str = "dec_1", tier: str = "approve") -> dict[str, Any]:
    return {"id": did, "status": status, "tier": tier, "action": "iam:DeleteRolePolicy",
            "reasons": [{"code": "R3", "message": "prod roles wait for a human"}]}  # fmt: skip


@pytest.fixture
def client() -> Any:
    c = Client("http://remit.invalid", "rk_x", agent="remediator")
    yield c
    c.close()


def run(steps: Any, answers: Any) -> tuple[list[Any], Any]:
    """Drive a plan: each `Call` gets the next answer (an exception is thrown in); with a
    callable, its answer to the call."""
    seen: list[Any] = []
    try:
        step = next(steps)
        while True:
            seen.append(step)
            if isinstance(step, Announce):
                step = steps.send(None)
                continue
            got = answers(step) if callable(answers) else answers.pop(0)
            step = steps.throw(got) if isinstance(got, BaseException) else steps.send(got)
    except StopIteration as done:
        return seen, done.value


def config(hold: float = 0) -> GateConfig:
    return GateConfig(MAPPING, {"account": "123456789012"}, hold_budget=hold, credentials=False)


def test_pending_is_remembered_by_digest_and_an_approval_admits_once(client: Any) -> None:
    held: dict[str, str] = {}
    seen, first = run(admission(config(), client, held, "delete_role_policy", ARGS, {}),
                      [decision("pending")])  # fmt: skip
    assert isinstance(first, Refusal) and first.kind == "pending"
    assert isinstance(seen[0], Call) and seen[0].method == "POST"
    assert isinstance(seen[1], Announce) and first.link and first.link.endswith("dec_1")
    assert list(held.values()) == ["dec_1"]
    # the same arguments read the held decision (GET), not a new ask; approved → admitted
    seen, again = run(admission(config(), client, held, "delete_role_policy", ARGS, {}),
                      [decision("allowed")])  # fmt: skip
    assert seen[0].method == "GET" and seen[0].path.endswith("/dec_1")
    assert isinstance(again, Admission) and held == {}  # used once: forgotten
    # other arguments: a new decision
    seen, _ = run(admission(config(), client, held, "delete_role_policy", {"role_name": "b"},
                            {}), [decision("pending", "dec_2")])  # fmt: skip
    assert seen[0].method == "POST" and "dec_2" in held.values()


def test_remit_unreachable_or_refusing_is_never_a_denial_nor_an_admission(client: Any) -> None:
    _, down = run(admission(config(), client, {}, "delete_role_policy", ARGS, {}),
                  [RemitUnavailable("cannot reach Remit")])  # fmt: skip
    assert isinstance(down, Refusal) and down.kind == "unavailable"
    assert "not denied" in down.message
    _, refused = run(admission(config(5), client, {}, "delete_role_policy", ARGS, {}),
                     [decision("pending"), RemitRefused(401, "revoked key")])  # fmt: skip
    assert isinstance(refused, Refusal) and refused.kind == "refused"
    assert "revoked" in refused.message


def test_deny_carries_the_reasons_and_unmapped_asks_nothing(client: Any) -> None:
    _, denied = run(admission(config(), client, {}, "delete_role_policy", ARGS, {}),
                    [decision("denied", tier="deny")])  # fmt: skip
    assert isinstance(denied, Refusal) and denied.kind == "denied" and "R3" in denied.message
    seen, unmapped = run(admission(config(), client, {}, "launch", {}, {}), [])
    assert seen == [] and isinstance(unmapped, Refusal) and unmapped.kind == "unmapped"
    seen, unfilled = run(admission(config(), client, {}, "delete_role_policy", {}, {}), [])
    assert seen == [] and isinstance(unfilled, Refusal) and unfilled.kind == "bad-arguments"


def test_a_hold_long_polls_in_short_slices_until_the_budget(client: Any) -> None:
    def remit(call: Call) -> dict[str, Any]:  # a long poll that ends still pending
        time.sleep((call.params or {}).get("wait", 0))
        return decision("pending")

    seen, out = run(admission(config(0.3), client, {}, "delete_role_policy", ARGS, {}), remit)
    polls = [s for s in seen if isinstance(s, Call) and s.method == "GET"]
    assert polls and all(0 < p.params["wait"] <= 0.3 for p in polls)
    assert all(p.params["wait"] <= 5 for p in polls)  # POLL: never one long wait
    assert isinstance(out, Refusal) and out.kind == "pending"


def test_a_bad_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="hold budget"):
        GateConfig(MAPPING, {}, hold_budget=181)
