"""`remit custodian run` end to end: the real c7n against the local moto server, under a
real `remit serve` (STS backend). Stale IAM roles (one allowed, one protected), EC2 stops
over the blast radius (split), terminations held for a human (skipped, or approved while
the run waits), an unmapped action, a bad policy file and an unreachable Remit — and
proof from moto's recorder that every AWS call ran with its own decision's credentials."""

from __future__ import annotations

import json
import time

import pytest
from tests.custodian.ckit import (
    ACCOUNT,
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
from tests.mcp.mcpkit import Approver, Served, recorded_requests

from remit.aws.moto_server import free_port

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


STOP = """
policies:
  - name: stop-idle
    resource: ec2
    filters:
      - "tag:group": {group}
      - State.Name: running
    actions: [stop]
"""
TERMINATE = """
policies:
  - name: terminate-abandoned
    resource: ec2
    filters:
      - "tag:group": {group}
      - State.Name: running
    actions: [terminate]
"""


def _instances(served: Served, group: str, n: int) -> list[str]:
    ec2 = served.world.moto.client("ec2")
    tags = [{"ResourceType": "instance", "Tags": [{"Key": "group", "Value": group}]}]
    out = ec2.run_instances(ImageId="ami-12c6146b", MinCount=n, MaxCount=n, TagSpecifications=tags)
    return [i["InstanceId"] for i in out["Instances"]]


def _state(served: Served, ids: list[str]) -> dict[str, str]:
    ec2 = served.world.moto.client("ec2")
    got = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    return {i["InstanceId"]: i["State"]["Name"] for r in got for i in r["Instances"]}


def _arn(instance: str) -> str:
    return f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/{instance}"


def test_stop_over_the_blast_radius_is_split_and_every_batch_runs_with_its_decision(
    served: Served,
) -> None:
    ids = _instances(served, "split-me", 3)
    policy = write_policy(served.folder, "stop", STOP.format(group="split-me"))

    run = custodian(served, policy)

    assert run.returncode == 0, run.stderr
    results = by_arn(report_of(run))
    assert {results[_arn(i)]["status"] for i in ids} == {"allowed"}
    assert set(_state(served, ids).values()) <= {"stopping", "stopped"}
    recorded = decisions(served)
    # the whole batch (3 > max_resources 2) was denied; its halves were allowed
    batches = {tuple(results[_arn(i)]["decisions"]) for i in ids}
    assert len(batches) == 2
    sizes = sorted(len(recorded[d]["request"]["resources"]) for (d,) in batches)
    assert sizes == [1, 2]
    whole = [
        d for d in recorded.values()
        if d["request"]["action"] == "ec2:StopInstances"
        and len(d["request"]["resources"]) == 3
        and {r["arn"] for r in d["request"]["resources"]} == {_arn(i) for i in ids}
    ]  # fmt: skip
    assert len(whole) == 1 and whole[0]["decision"]["tier"] == "deny"
    assert "BLAST_RADIUS_EXCEEDED" in {r["code"] for r in whole[0]["decision"]["reasons"]}
    given = grants(served)
    for (did,) in batches:
        (call,) = [
            r for r in aws_requests(served, "StopInstances")
            if all(x["arn"].rsplit("/", 1)[1] in r["body"]
                   for x in recorded[did]["request"]["resources"])
        ]  # fmt: skip
        assert access_key(call) == given[did]["access_key_id"]
        assert outcomes(served)[did]["status"] == "succeeded"


def test_a_held_batch_is_skipped_when_the_wait_runs_out(served: Served) -> None:
    (instance,) = _instances(served, "held", 1)
    policy = write_policy(served.folder, "held", TERMINATE.format(group="held"))

    run = custodian(served, policy, "--wait", "0")

    assert run.returncode == 1, run.stderr
    result = by_arn(report_of(run))[_arn(instance)]
    assert result["status"] == "held"
    assert "awaiting approval" in result["reason"]
    (did,) = result["decisions"]
    assert result["approval_link"] == f"{served.url}/v1/decisions/{did}"
    assert _state(served, [instance])[instance] == "running"
    assert did not in grants(served)


def test_a_held_batch_approved_while_the_run_waits_is_acted_on(served: Served) -> None:
    (instance,) = _instances(served, "approved", 1)
    policy = write_policy(served.folder, "approved", TERMINATE.format(group="approved"))
    approver = Approver(served, _arn(instance))
    approver.start()

    run = custodian(served, policy, "--wait", "60")

    approver.join(10)
    assert approver.error is None and approver.seen is not None
    assert run.returncode == 0, run.stderr
    result = by_arn(report_of(run))[_arn(instance)]
    assert result["status"] == "allowed"
    assert result["decisions"] == [approver.seen["id"]]
    assert _state(served, [instance])[instance] in ("shutting-down", "terminated")
    (call,) = [r for r in aws_requests(served, "TerminateInstances") if instance in r["body"]]
    assert access_key(call) == grants(served)[approver.seen["id"]]["access_key_id"]


def test_an_unmapped_action_is_refused_naming_it_and_nothing_is_asked(served: Served) -> None:
    (instance,) = _instances(served, "unmapped", 1)
    text = STOP.format(group="unmapped").replace(
        "actions: [stop]", "actions: [{type: tag, key: owner, value: c7n}, stop]"
    )
    policy = write_policy(served.folder, "unmapped", text)
    before = len(decisions(served))

    run = custodian(served, policy)

    assert run.returncode == 1, run.stderr
    report = report_of(run)
    (tag,) = [r for r in report["results"] if r["action"] == "tag"]
    assert tag["status"] == "denied" and "'tag'" in tag["reason"] and "'ec2'" in tag["reason"]
    (stop,) = [r for r in report["results"] if r["action"] == "stop"]
    assert stop["status"] == "skipped"
    assert len(decisions(served)) == before
    assert _state(served, [instance])[instance] == "running"
    # the same for people: a table on stdout, the summary line, the same exit code
    table = custodian(served, policy, "--format", "table")
    assert table.returncode == 1, table.stderr
    assert "denied" in table.stdout and "skipped" in table.stdout
    assert "has no declared IAM mapping" in table.stdout
    assert "matched stop-idle: 1; 1 denied, 1 skipped" in table.stdout


BAD = {
    "yaml": "policies: [name: x\n",
    "resource": "policies:\n  - name: x\n    resource: ec2-nope\n",
    "filter": "policies:\n  - name: x\n    resource: ec2\n    filters: [{type: nope}]\n",
    "mode": STOP.format(group="bad-file").replace(
        "    resource: ec2\n",
        "    resource: ec2\n    mode: {type: periodic, schedule: 'rate(1 day)', role: r}\n",
    ),
    "missing": None,
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_policy_file_exits_2_and_runs_nothing(served: Served, case: str) -> None:
    (instance,) = _instances(served, f"bad-{case}", 1)
    before = len(decisions(served))
    text = BAD[case]
    path = served.folder / "no-such.yml"
    if text is not None:
        path = write_policy(served.folder, f"bad-{case}", text.replace("bad-file", f"bad-{case}"))

    run = custodian(served, path)

    assert run.returncode == 2, (run.stdout, run.stderr)
    assert "bad policy file" in run.stderr and "nothing was run" in run.stderr
    if text is None:
        assert "no such policy file" in run.stderr
    assert run.stdout == ""
    assert len(decisions(served)) == before
    assert _state(served, [instance])[instance] == "running"


def test_remit_unreachable_exits_3_and_runs_nothing(served: Served) -> None:
    (instance,) = _instances(served, "unreachable", 1)
    policy = write_policy(served.folder, "unreachable", STOP.format(group="unreachable"))

    started = time.monotonic()
    run = custodian(served, policy, url=f"http://127.0.0.1:{free_port()}")

    assert run.returncode == 3, (run.stdout, run.stderr)
    assert "cannot reach Remit" in run.stderr and "nothing was run" in run.stderr
    assert run.stdout == ""
    assert _state(served, [instance])[instance] == "running"
    assert not [r for r in aws_requests(served, "StopInstances") if instance in r["body"]]
    assert time.monotonic() - started < 60


def test_aws_unreachable_exits_3_and_runs_nothing(served: Served) -> None:
    (instance,) = _instances(served, "no-aws", 1)
    policy = write_policy(served.folder, "no-aws", STOP.format(group="no-aws"))
    before = len(decisions(served))

    run = custodian(served, policy, aws_endpoint=f"http://127.0.0.1:{free_port()}")

    assert run.returncode == 3, (run.stdout, run.stderr)
    assert "AWS unreachable" in run.stderr and "nothing was run" in run.stderr
    assert len(decisions(served)) == before
    assert _state(served, [instance])[instance] == "running"


def test_with_the_envelope_batches_are_sized_within_its_blast_radius(served: Served) -> None:
    ids = _instances(served, "sized", 3)
    policy = write_policy(served.folder, "sized", STOP.format(group="sized"))

    run = custodian(served, policy, "--envelope", str(served.folder / "envelope.yaml"))

    assert run.returncode == 0, run.stderr
    results = by_arn(report_of(run))
    assert {results[_arn(i)]["status"] for i in ids} == {"allowed"}
    recorded = decisions(served)
    asked = [
        d for d in recorded.values()
        if d["request"]["action"] == "ec2:StopInstances"
        and {r["arn"] for r in d["request"]["resources"]} <= {_arn(i) for i in ids}
    ]  # fmt: skip
    assert sorted(len(d["request"]["resources"]) for d in asked) == [1, 2]  # none of 3
    assert {d["decision"]["tier"] for d in asked} == {"autonomous"}
    assert set(_state(served, ids).values()) <= {"stopping", "stopped"}


PUBLIC_BLOCK = """
policies:
  - name: block-public-buckets
    resource: s3
    filters:
      - type: value
        key: Name
        op: glob
        value: "c7n-*"
    actions:
      - type: set-public-block
        BlockPublicAcls: true
        BlockPublicPolicy: true
"""


def test_s3_public_access_block_is_set_with_the_decisions_session(served: Served) -> None:
    s3 = served.world.moto.client("s3")
    s3.create_bucket(Bucket="c7n-open-data")
    policy = write_policy(served.folder, "public-block", PUBLIC_BLOCK)

    run = custodian(served, policy)

    assert run.returncode == 0, run.stderr
    result = by_arn(report_of(run))["arn:aws:s3:::c7n-open-data"]
    assert result["status"] == "allowed", result
    config = s3.get_public_access_block(Bucket="c7n-open-data")["PublicAccessBlockConfiguration"]
    assert config["BlockPublicAcls"] is True and config["BlockPublicPolicy"] is True
    recorded = decisions(served)
    by_action = {recorded[d]["request"]["action"]: d for d in result["decisions"]}
    put = by_action["s3:PutBucketPublicAccessBlock"]
    calls = [
        r for r in recorded_requests(served)
        if r.get("method") == "PUT" and r["url"].endswith("/c7n-open-data?publicAccessBlock")
    ]  # fmt: skip
    assert calls
    assert {access_key(r) for r in calls} == {grants(served)[put]["access_key_id"]}
