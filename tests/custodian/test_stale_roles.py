"""A policy deleting stale IAM roles under Remit, with the real c7n against moto: the
allowed role is deleted (after its policies and instance profile are removed) with the
decision's credentials; the protected one is denied and untouched."""

from __future__ import annotations

import json

from tests.custodian.ckit import (
    ROLE,
    access_key,
    aws_requests,
    by_arn,
    custodian,
    decisions,
    grants,
    outcomes,
    report_of,
    write_policy,
)
from tests.mcp.mcpkit import Served

POLICY = """
policies:
  - name: delete-stale-roles
    resource: iam-role
    description: roles nobody has used for 90 days
    filters:
      - type: value
        key: RoleName
        op: glob
        value: "stale-*"
    actions:
      - type: delete
        force: true
"""
INLINE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


def _roles(served: Served) -> set[str]:
    iam = served.world.iam()
    return {r["RoleName"] for r in iam.list_roles()["Roles"]}


def test_allowed_role_deleted_with_the_decisions_session_protected_one_denied(
    served: Served,
) -> None:
    iam = served.world.iam()
    policy_arn = served.world.managed_policy("stale-s3-all")
    served.world.role("stale-ci", policy_arn)
    iam.put_role_policy(RoleName="stale-ci", PolicyName="inline", PolicyDocument=json.dumps(INLINE))
    iam.create_instance_profile(InstanceProfileName="stale-ci-profile")
    iam.add_role_to_instance_profile(InstanceProfileName="stale-ci-profile", RoleName="stale-ci")
    served.world.role("stale-keep-audit", policy_arn)
    served.world.role("prod-app")
    policy = write_policy(served.folder, "stale-roles", POLICY)

    run = custodian(served, policy)

    assert run.returncode == 1, run.stderr  # something was denied
    report = report_of(run)
    assert report["matched"] == {"delete-stale-roles": 2}
    results = by_arn(report)
    allowed, protected = results[f"{ROLE}stale-ci"], results[f"{ROLE}stale-keep-audit"]
    assert allowed["status"] == "allowed", (allowed["reason"], run.stderr)
    assert protected["status"] == "denied" and "crown-jewels" in protected["reason"], protected
    # moto: only the allowed role is gone; the protected one keeps its policy
    assert _roles(served) >= {"stale-keep-audit", "prod-app"}
    assert "stale-ci" not in _roles(served)
    assert iam.list_instance_profiles()["InstanceProfiles"] == [] or all(
        p["InstanceProfileName"] != "stale-ci-profile"
        for p in iam.list_instance_profiles()["InstanceProfiles"]
    )
    kept = iam.list_attached_role_policies(RoleName="stale-keep-audit")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in kept] == [policy_arn]

    # one decision per IAM step, each granted (SourceIdentity = decision id) and reported
    recorded = decisions(served)
    asked = {recorded[d]["request"]["action"]: d for d in allowed["decisions"]}
    assert set(asked) == {
        "iam:ListAttachedRolePolicies", "iam:DetachRolePolicy", "iam:ListRolePolicies",
        "iam:DeleteRolePolicy", "iam:ListInstanceProfilesForRole",
        "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile", "iam:DeleteRole",
    }  # fmt: skip
    given, done = grants(served), outcomes(served)
    for did in allowed["decisions"]:
        assert given[did]["source_identity"] == did
        assert done[did]["status"] == "succeeded"
    # proof from moto's recorder: each AWS call was signed with its own decision's key
    for action in ("DeleteRole", "DetachRolePolicy", "DeleteRolePolicy",
                   "RemoveRoleFromInstanceProfile", "DeleteInstanceProfile"):  # fmt: skip
        calls = [r for r in aws_requests(served, action) if "stale" in (r.get("body") or "")]
        assert calls, action
        keys = {access_key(r) for r in calls}
        assert keys == {given[asked[f"iam:{action}"]]["access_key_id"]}, action
        assert served.world.boot["remit_access_key_id"] not in keys
        assert done[asked[f"iam:{action}"]]["cloud_request_ids"], action
    # the protected role: denied, never granted, never touched
    assert not any(d in given for d in protected["decisions"])
    assert not [r for r in aws_requests(served, "DeleteRole") if "stale-keep" in r["body"]]
