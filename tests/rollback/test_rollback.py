"""Rollback against a real moto server: for each supported action, snapshot and plan,
make the change with boto3, run the plan (read back from JSON, as from a ledger), and
check the state is what it was."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from remit.aws import MotoServer
from remit.domain.reversibility import ROLLBACK_SUPPORTED
from remit.rollback import (
    SUPPORTED_ACTIONS,
    InverseCall,
    RollbackError,
    RollbackPlan,
    RollbackUnavailable,
    execute,
    snapshot_and_plan,
    supports,
)

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def doc(*actions: str, resource: str = "*", **extra: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": list(actions), "Resource": resource}
    statement.update(extra)
    return {"Version": "2012-10-17", "Statement": [statement]}


# -- state readers (independent of the code under test) ---------------------------------------


def make_role(iam: Any, name: str = "app") -> str:
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    return arn


def make_policy(iam: Any, name: str) -> str:
    arn: str = iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(doc("s3:GetObject")))[
        "Policy"
    ]["Arn"]
    return arn


def attached(iam: Any, role: str) -> set[str]:
    return {
        p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    }


def inline(iam: Any, role: str) -> dict[str, Any]:
    names = iam.list_role_policies(RoleName=role)["PolicyNames"]
    return {n: iam.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"] for n in names}


def key_status(iam: Any, user: str, key_id: str) -> str:
    for key in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]:
        if key["AccessKeyId"] == key_id:
            status: str = key["Status"]
            return status
    raise AssertionError(f"no key {key_id}")


def ingress(ec2: Any, group_id: str) -> list[tuple[Any, ...]]:
    """Every ingress rule of the group as (protocol, from, to, source, description)."""
    group = ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    rules = []
    for perm in group["IpPermissions"]:
        head = (perm["IpProtocol"], perm.get("FromPort"), perm.get("ToPort"))
        for r in perm.get("IpRanges", []):
            rules.append((*head, r["CidrIp"], r.get("Description")))
        for r in perm.get("Ipv6Ranges", []):
            rules.append((*head, r["CidrIpv6"], r.get("Description")))
        for r in perm.get("PrefixListIds", []):
            rules.append((*head, r["PrefixListId"], r.get("Description")))
        for r in perm.get("UserIdGroupPairs", []):
            rules.append((*head, r["GroupId"], r.get("Description")))
    return sorted(rules, key=repr)


def via_ledger(plan: RollbackPlan) -> RollbackPlan:
    """The plan as it comes back after being written to and read from a ledger."""
    return RollbackPlan.from_dict(json.loads(json.dumps(plan.to_dict())))


def run(plan: RollbackPlan, moto: MotoServer) -> list[dict[str, Any]]:
    results = execute(via_ledger(plan), moto.session(), moto.endpoint_url)
    assert len(results) == len(plan.calls)
    for result, call in zip(results, plan.calls, strict=True):
        assert result["action"] == call.action
        assert result["request_id"]
        assert result["http_status"] == 200
    return results


@pytest.fixture
def groups(ec2: Any) -> tuple[str, str]:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    web = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc)["GroupId"]
    app = ec2.create_security_group(GroupName="app", Description="app", VpcId=vpc)["GroupId"]
    return web, app


# -- attach / detach -------------------------------------------------------------------------


def test_detach_role_policy_is_undone(iam: Any, session: Any, moto: MotoServer) -> None:
    role_arn = make_role(iam)
    a, b = make_policy(iam, "a"), make_policy(iam, "b")
    iam.attach_role_policy(RoleName="app", PolicyArn=a)
    iam.attach_role_policy(RoleName="app", PolicyArn=b)
    before = attached(iam, "app")

    params = {"RoleName": "app", "PolicyArn": a}
    plan = snapshot_and_plan("iam:DetachRolePolicy", params, session, moto.endpoint_url)
    assert plan.calls == (
        InverseCall("iam:AttachRolePolicy", "iam", "attach_role_policy", params, role_arn),
    )
    assert (
        plan.snapshot["attached_policy_arns"]
        and set(plan.snapshot["attached_policy_arns"]) == before
    )

    iam.detach_role_policy(**params)
    assert attached(iam, "app") == {b}
    run(plan, moto)
    assert attached(iam, "app") == before


def test_detach_of_unattached_policy_plans_nothing(
    iam: Any, session: Any, moto: MotoServer
) -> None:
    make_role(iam)
    a = make_policy(iam, "a")
    plan = snapshot_and_plan(
        "iam:DetachRolePolicy", {"RoleName": "app", "PolicyArn": a}, session, moto.endpoint_url
    )
    assert plan.empty and "not attached" in plan.note
    assert execute(plan, session, moto.endpoint_url) == []


def test_attach_role_policy_is_undone(iam: Any, session: Any, moto: MotoServer) -> None:
    role_arn = make_role(iam)
    a, b = make_policy(iam, "a"), make_policy(iam, "b")
    iam.attach_role_policy(RoleName="app", PolicyArn=b)
    before = attached(iam, "app")

    params = {"RoleName": "app", "PolicyArn": a}
    plan = snapshot_and_plan("iam:attachrolepolicy", params, session, moto.endpoint_url)
    assert plan.action == "iam:AttachRolePolicy"
    assert [(c.action, c.params, c.resource) for c in plan.calls] == [
        ("iam:DetachRolePolicy", params, role_arn)
    ]
    iam.attach_role_policy(**params)
    assert attached(iam, "app") == {a, b}
    run(plan, moto)
    assert attached(iam, "app") == before


def test_attach_of_attached_policy_plans_nothing(iam: Any, session: Any, moto: MotoServer) -> None:
    make_role(iam)
    a = make_policy(iam, "a")
    iam.attach_role_policy(RoleName="app", PolicyArn=a)
    plan = snapshot_and_plan(
        "iam:AttachRolePolicy", {"RoleName": "app", "PolicyArn": a}, session, moto.endpoint_url
    )
    assert plan.empty and "already attached" in plan.note


def test_missing_role_plans_nothing(session: Any, moto: MotoServer) -> None:
    plan = snapshot_and_plan(
        "iam:DetachRolePolicy",
        {"RoleName": "ghost", "PolicyArn": "arn:aws:iam::123456789012:policy/a"},
        session,
        moto.endpoint_url,
    )
    assert plan.empty and "does not exist" in plan.note
    assert plan.snapshot["role_exists"] is False


# -- inline role policies --------------------------------------------------------------------

TRICKY = doc(
    "s3:GetObject",
    resource="arn:aws:s3:::bucket/a b&c%20d/*",
    Condition={"StringLike": {"aws:PrincipalTag/team": ["ops & sec", "100%"]}},
)


def test_delete_role_policy_is_undone(iam: Any, session: Any, moto: MotoServer) -> None:
    make_role(iam)
    iam.put_role_policy(RoleName="app", PolicyName="p1", PolicyDocument=json.dumps(TRICKY))
    iam.put_role_policy(RoleName="app", PolicyName="p2", PolicyDocument=json.dumps(doc("s3:*")))
    before = inline(iam, "app")

    params = {"RoleName": "app", "PolicyName": "p1"}
    plan = snapshot_and_plan("iam:DeleteRolePolicy", params, session, moto.endpoint_url)
    (call,) = plan.calls
    assert call.action == "iam:PutRolePolicy"
    assert isinstance(call.params["PolicyDocument"], str)  # stored as JSON text
    assert json.loads(call.params["PolicyDocument"]) == TRICKY

    iam.delete_role_policy(**params)
    assert set(inline(iam, "app")) == {"p2"}
    run(plan, moto)
    assert inline(iam, "app") == before


def test_delete_of_missing_inline_policy_plans_nothing(
    iam: Any, session: Any, moto: MotoServer
) -> None:
    make_role(iam)
    plan = snapshot_and_plan(
        "iam:DeleteRolePolicy",
        {"RoleName": "app", "PolicyName": "nope"},
        session,
        moto.endpoint_url,
    )
    assert plan.empty and "no inline policy" in plan.note


def test_put_role_policy_over_existing_is_undone(iam: Any, session: Any, moto: MotoServer) -> None:
    make_role(iam)
    iam.put_role_policy(RoleName="app", PolicyName="p1", PolicyDocument=json.dumps(TRICKY))
    before = inline(iam, "app")

    new_doc = doc("iam:*")
    params = {"RoleName": "app", "PolicyName": "p1", "PolicyDocument": new_doc}  # a dict is fine
    plan = snapshot_and_plan("iam:PutRolePolicy", params, session, moto.endpoint_url)
    (call,) = plan.calls
    assert call.action == "iam:PutRolePolicy"
    assert json.loads(call.params["PolicyDocument"]) == TRICKY

    iam.put_role_policy(RoleName="app", PolicyName="p1", PolicyDocument=json.dumps(new_doc))
    assert inline(iam, "app") == {"p1": new_doc}
    run(plan, moto)
    assert inline(iam, "app") == before


def test_put_of_new_role_policy_is_undone(iam: Any, session: Any, moto: MotoServer) -> None:
    role_arn = make_role(iam)
    iam.put_role_policy(RoleName="app", PolicyName="keep", PolicyDocument=json.dumps(TRICKY))
    before = inline(iam, "app")

    params = {"RoleName": "app", "PolicyName": "new", "PolicyDocument": json.dumps(doc("ec2:*"))}
    plan = snapshot_and_plan("iam:PutRolePolicy", params, session, moto.endpoint_url)
    assert [(c.action, c.params, c.resource) for c in plan.calls] == [
        ("iam:DeleteRolePolicy", {"RoleName": "app", "PolicyName": "new"}, role_arn)
    ]
    iam.put_role_policy(**params)
    assert set(inline(iam, "app")) == {"keep", "new"}
    run(plan, moto)
    assert inline(iam, "app") == before


# -- access keys -----------------------------------------------------------------------------


@pytest.mark.parametrize("name_user", [True, False], ids=["with-UserName", "without-UserName"])
def test_update_access_key_is_undone(
    iam: Any, session: Any, moto: MotoServer, name_user: bool
) -> None:
    user_arn = iam.create_user(UserName="ci")["User"]["Arn"]
    key = iam.create_access_key(UserName="ci")["AccessKey"]["AccessKeyId"]
    other = iam.create_access_key(UserName="ci")["AccessKey"]["AccessKeyId"]
    iam.update_access_key(UserName="ci", AccessKeyId=other, Status="Inactive")
    assert key_status(iam, "ci", key) == "Active"

    params: dict[str, Any] = {"AccessKeyId": key, "Status": "Inactive"}
    if name_user:
        params["UserName"] = "ci"
    plan = snapshot_and_plan("iam:UpdateAccessKey", params, session, moto.endpoint_url)
    assert [(c.action, c.params, c.resource) for c in plan.calls] == [
        (
            "iam:UpdateAccessKey",
            {"UserName": "ci", "AccessKeyId": key, "Status": "Active"},
            user_arn,
        )
    ]
    iam.update_access_key(UserName="ci", AccessKeyId=key, Status="Inactive")
    assert key_status(iam, "ci", key) == "Inactive"
    run(plan, moto)
    assert key_status(iam, "ci", key) == "Active"
    assert key_status(iam, "ci", other) == "Inactive"


def test_reactivating_a_key_is_undone(iam: Any, session: Any, moto: MotoServer) -> None:
    iam.create_user(UserName="ci")
    key = iam.create_access_key(UserName="ci")["AccessKey"]["AccessKeyId"]
    iam.update_access_key(UserName="ci", AccessKeyId=key, Status="Inactive")
    params = {"UserName": "ci", "AccessKeyId": key, "Status": "Active"}
    plan = snapshot_and_plan("iam:UpdateAccessKey", params, session, moto.endpoint_url)
    iam.update_access_key(**params)
    run(plan, moto)
    assert key_status(iam, "ci", key) == "Inactive"


def test_access_key_no_ops_plan_nothing(iam: Any, session: Any, moto: MotoServer) -> None:
    iam.create_user(UserName="ci")
    key = iam.create_access_key(UserName="ci")["AccessKey"]["AccessKeyId"]
    same = snapshot_and_plan(
        "iam:UpdateAccessKey",
        {"UserName": "ci", "AccessKeyId": key, "Status": "Active"},
        session,
        moto.endpoint_url,
    )
    assert same.empty and "already Active" in same.note
    unknown = snapshot_and_plan(
        "iam:UpdateAccessKey",
        {"AccessKeyId": "AKIAUNKNOWN000000000", "Status": "Inactive"},
        session,
        moto.endpoint_url,
    )
    assert unknown.empty and "not found" in unknown.note


# -- security group ingress ------------------------------------------------------------------


def seed_rules(ec2: Any, web: str, app: str) -> None:
    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [
                    {"CidrIp": "10.0.0.0/8", "Description": "ssh from corp"},
                    {"CidrIp": "192.168.0.0/16"},
                ],
            },
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "UserIdGroupPairs": [{"GroupId": app, "Description": "from app"}],
                "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32", "Description": "v6"}],
            },
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "172.16.0.0/12"}]},
        ],
    )


def test_revoke_ingress_is_undone(
    ec2: Any, session: Any, moto: MotoServer, groups: tuple[str, str]
) -> None:
    web, app = groups
    seed_rules(ec2, web, app)
    before = ingress(ec2, web)
    assert len(before) == 5

    params = {
        "GroupId": web,
        "IpPermissions": [
            # no description given: the plan must restore the one the rule had
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
            },
            {
                "IpProtocol": "6",  # protocol number for tcp
                "FromPort": 443,
                "ToPort": 443,
                # moto matches a group pair only with its Description (AWS does not need it)
                "UserIdGroupPairs": [{"GroupId": app, "Description": "from app"}],
                "Ipv6Ranges": [{"CidrIpv6": "2001:db8::/32"}],
            },
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "172.16.0.0/12"}]},
        ],
    }
    plan = snapshot_and_plan("ec2:RevokeSecurityGroupIngress", params, session, moto.endpoint_url)
    (call,) = plan.calls
    assert call.action == "ec2:AuthorizeSecurityGroupIngress"
    assert call.resource == f"arn:aws:ec2:us-east-1:123456789012:security-group/{web}"
    assert "4 ingress rule(s)" in plan.note

    ec2.revoke_security_group_ingress(**params)
    assert [r[3] for r in ingress(ec2, web)] == ["192.168.0.0/16"]
    run(plan, moto)
    assert ingress(ec2, web) == before  # descriptions included


def test_revoke_plan_restores_only_rules_that_exist(
    ec2: Any, session: Any, moto: MotoServer, groups: tuple[str, str]
) -> None:
    web, app = groups
    seed_rules(ec2, web, app)
    params = {
        "GroupId": web,
        "IpPermissions": [
            {
                "IpProtocol": "tcp",
                "FromPort": 22,
                "ToPort": 22,
                "IpRanges": [{"CidrIp": "10.0.0.0/8"}, {"CidrIp": "8.8.8.8/32"}],
            }
        ],
    }
    plan = snapshot_and_plan("ec2:RevokeSecurityGroupIngress", params, session, moto.endpoint_url)
    (call,) = plan.calls
    assert call.params["IpPermissions"] == [
        {
            "IpProtocol": "tcp",
            "FromPort": 22,
            "ToPort": 22,
            "IpRanges": [{"CidrIp": "10.0.0.0/8", "Description": "ssh from corp"}],
        }
    ]
    assert "1 requested rule(s) did not exist" in plan.note


def test_authorize_ingress_is_undone(
    ec2: Any, session: Any, moto: MotoServer, groups: tuple[str, str]
) -> None:
    web, app = groups
    seed_rules(ec2, web, app)
    before = ingress(ec2, web)

    params = {
        "GroupId": web,
        "IpPermissions": [
            {
                "IpProtocol": "tcp",
                "FromPort": 80,
                "ToPort": 80,
                "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "world"}],
                "Ipv6Ranges": [{"CidrIpv6": "::/0"}],
            },
            {
                "IpProtocol": "udp",
                "FromPort": 53,
                "ToPort": 53,
                "UserIdGroupPairs": [{"GroupId": app, "Description": "dns"}],
            },
            {
                "IpProtocol": "icmp",
                "FromPort": -1,
                "ToPort": -1,
                "IpRanges": [{"CidrIp": "10.1.0.0/16"}],
            },
        ],
    }
    plan = snapshot_and_plan(
        "ec2:AuthorizeSecurityGroupIngress", params, session, moto.endpoint_url
    )
    (call,) = plan.calls
    assert call.action == "ec2:RevokeSecurityGroupIngress"
    assert "4 new ingress rule(s)" in plan.note

    ec2.authorize_security_group_ingress(**params)
    assert len(ingress(ec2, web)) == len(before) + 4
    run(plan, moto)
    assert ingress(ec2, web) == before


def test_authorize_plan_skips_existing_rules(
    ec2: Any, session: Any, moto: MotoServer, groups: tuple[str, str]
) -> None:
    web, app = groups
    seed_rules(ec2, web, app)
    # already there, spelled differently: protocol number, non-canonical CIDR
    existing = {
        "IpProtocol": "6",
        "FromPort": 22,
        "ToPort": 22,
        "IpRanges": [{"CidrIp": "10.1.2.3/8"}],
    }
    only_existing = snapshot_and_plan(
        "ec2:AuthorizeSecurityGroupIngress",
        {"GroupId": web, "IpPermissions": [existing]},
        session,
        moto.endpoint_url,
    )
    assert only_existing.empty and "already exist" in only_existing.note

    new = {
        "IpProtocol": "tcp",
        "FromPort": 8080,
        "ToPort": 8080,
        "IpRanges": [{"CidrIp": "10.0.0.0/8"}],
    }
    mixed = snapshot_and_plan(
        "ec2:AuthorizeSecurityGroupIngress",
        {"GroupId": web, "IpPermissions": [existing, new]},
        session,
        moto.endpoint_url,
    )
    (call,) = mixed.calls
    assert call.params["IpPermissions"] == [new]
    assert "duplicate" in mixed.note


def test_missing_security_group_plans_nothing(session: Any, moto: MotoServer) -> None:
    plan = snapshot_and_plan(
        "ec2:RevokeSecurityGroupIngress",
        {
            "GroupId": "sg-0123456789abcdef0",
            "IpPermissions": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        },
        session,
        moto.endpoint_url,
    )
    assert plan.empty and "does not exist" in plan.note


# -- plans as data ---------------------------------------------------------------------------


def test_plan_round_trips_through_json(iam: Any, session: Any, moto: MotoServer) -> None:
    make_role(iam)
    iam.put_role_policy(RoleName="app", PolicyName="p1", PolicyDocument=json.dumps(TRICKY))
    plan = snapshot_and_plan(
        "iam:DeleteRolePolicy", {"RoleName": "app", "PolicyName": "p1"}, session, moto.endpoint_url
    )
    data = plan.to_dict()
    text = json.dumps(data, sort_keys=True)
    back = RollbackPlan.from_dict(json.loads(text))
    assert back == plan
    assert json.dumps(back.to_dict(), sort_keys=True) == text
    assert data["calls"][0]["operation"] == "put_role_policy"
    data["calls"][0]["params"]["RoleName"] = "changed"  # to_dict hands out a copy
    assert plan.calls[0].params["RoleName"] == "app"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("operation", "delete_role"),
        ("action", "iam:DeleteRole"),
        ("service", "s3"),
        ("params", "not-an-object"),
    ],
)
def test_tampered_plan_is_refused(field: str, value: Any) -> None:
    plan = RollbackPlan(
        action="iam:DetachRolePolicy",
        parameters={"RoleName": "app", "PolicyArn": "arn:aws:iam::aws:policy/X"},
        snapshot={},
        calls=(
            InverseCall.of(
                "iam:AttachRolePolicy",
                {"RoleName": "app", "PolicyArn": "arn:aws:iam::aws:policy/X"},
                "arn:aws:iam::123456789012:role/app",
            ),
        ),
    )
    data = plan.to_dict()
    data["calls"][0][field] = value
    with pytest.raises(ValueError):
        RollbackPlan.from_dict(data)


def test_execute_stops_at_the_first_failure(iam: Any, session: Any, moto: MotoServer) -> None:
    role_arn = make_role(iam)
    a = make_policy(iam, "a")
    ok = InverseCall.of("iam:AttachRolePolicy", {"RoleName": "app", "PolicyArn": a}, role_arn)
    bad = InverseCall.of(
        "iam:AttachRolePolicy",
        {"RoleName": "gone", "PolicyArn": a},
        "arn:aws:iam::123456789012:role/gone",
    )
    never = InverseCall.of("iam:DetachRolePolicy", {"RoleName": "app", "PolicyArn": a}, role_arn)
    plan = RollbackPlan("iam:DetachRolePolicy", {}, {}, (ok, bad, never), "")
    with pytest.raises(RollbackError) as exc:
        execute(plan, session, moto.endpoint_url)
    message = str(exc.value)
    assert "call 2/3" in message
    assert "iam:AttachRolePolicy" in message and "role/gone" in message
    assert [r["resource"] for r in exc.value.completed] == [role_arn]
    assert isinstance(exc.value.__cause__, ClientError)
    assert attached(iam, "app") == {a}  # the third call did not run


# -- what is supported, and parameter checks -------------------------------------------------


def test_supported_actions_match_the_domain_list() -> None:
    assert {a.lower() for a in SUPPORTED_ACTIONS} == ROLLBACK_SUPPORTED
    assert supports("IAM:detachROLEpolicy")
    assert supports("ec2:AuthorizeSecurityGroupIngress")
    assert not supports("iam:DeleteRole")
    assert not supports("ec2:AuthorizeSecurityGroupEgress")


@pytest.mark.parametrize(
    "action", ["iam:DeleteRole", "s3:DeleteBucket", "ec2:RevokeSecurityGroupEgress"]
)
def test_unsupported_action(action: str, session: Any, moto: MotoServer) -> None:
    with pytest.raises(RollbackUnavailable) as exc:
        snapshot_and_plan(action, {"RoleName": "app"}, session, moto.endpoint_url)
    assert str(exc.value) == f"rollback: unavailable for {action}"
    assert isinstance(exc.value, ValueError)


PERMS = [
    {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
]
VALID = {
    "iam:DetachRolePolicy": {"RoleName": "app", "PolicyArn": "arn:aws:iam::aws:policy/X"},
    "iam:AttachRolePolicy": {"RoleName": "app", "PolicyArn": "arn:aws:iam::aws:policy/X"},
    "iam:DeleteRolePolicy": {"RoleName": "app", "PolicyName": "p"},
    "iam:PutRolePolicy": {"RoleName": "app", "PolicyName": "p", "PolicyDocument": doc("s3:*")},
    "iam:UpdateAccessKey": {"AccessKeyId": "AKIAEXAMPLE", "Status": "Inactive"},
    "ec2:RevokeSecurityGroupIngress": {"GroupId": "sg-1", "IpPermissions": PERMS},
    "ec2:AuthorizeSecurityGroupIngress": {"GroupId": "sg-1", "IpPermissions": PERMS},
}
MISSING = [(action, name) for action, params in VALID.items() for name in params]


@pytest.mark.parametrize(("action", "missing"), MISSING, ids=[f"{a}-{m}" for a, m in MISSING])
def test_missing_parameter_is_named(
    action: str, missing: str, session: Any, moto: MotoServer
) -> None:
    params = {k: v for k, v in VALID[action].items() if k != missing}
    with pytest.raises(ValueError, match=f"'{missing}'") as exc:
        snapshot_and_plan(action, params, session, moto.endpoint_url)
    assert not isinstance(exc.value, RollbackUnavailable)


def with_perm(**changes: Any) -> dict[str, Any]:
    perm = dict(PERMS[0])
    perm.update(changes)
    return {"GroupId": "sg-1", "IpPermissions": [perm]}


@pytest.mark.parametrize(
    ("action", "params", "named"),
    [
        (
            "iam:DetachRolePolicy",
            {"RoleName": 7, "PolicyArn": "arn:aws:iam::aws:policy/X"},
            "RoleName",
        ),
        ("iam:DetachRolePolicy", {"RoleName": "app", "PolicyArn": "ReadOnly"}, "PolicyArn"),
        (
            "iam:PutRolePolicy",
            {"RoleName": "a", "PolicyName": "p", "PolicyDocument": "{oops"},
            "PolicyDocument",
        ),
        (
            "iam:PutRolePolicy",
            {"RoleName": "a", "PolicyName": "p", "PolicyDocument": 3},
            "PolicyDocument",
        ),
        ("iam:UpdateAccessKey", {"AccessKeyId": "AKIA1", "Status": "Disabled"}, "Status"),
        (
            "iam:UpdateAccessKey",
            {"AccessKeyId": "AKIA1", "Status": "Active", "UserName": 5},
            "UserName",
        ),
        (
            "ec2:RevokeSecurityGroupIngress",
            {"GroupId": "sg-1", "IpPermissions": []},
            "IpPermissions",
        ),
        (
            "ec2:RevokeSecurityGroupIngress",
            {"GroupId": "sg-1", "IpPermissions": "tcp"},
            "IpPermissions",
        ),
        ("ec2:RevokeSecurityGroupIngress", with_perm(FromPort="22"), "FromPort"),
        ("ec2:RevokeSecurityGroupIngress", with_perm(IpProtocol=None), "IpProtocol"),
        ("ec2:RevokeSecurityGroupIngress", with_perm(IpRanges=[{"CidrIp": "nope"}]), "CidrIp"),
        ("ec2:RevokeSecurityGroupIngress", with_perm(IpRanges=[]), "IpPermissions[0]"),
        (
            "ec2:AuthorizeSecurityGroupIngress",
            with_perm(UserIdGroupPairs=[{"GroupName": "x"}]),
            "GroupId",
        ),
        (
            "ec2:AuthorizeSecurityGroupIngress",
            {"GroupName": "web", "IpPermissions": PERMS},
            "GroupId",
        ),
        ("iam:DeleteRolePolicy", ["RoleName", "app"], "parameters"),
    ],
)
def test_ill_typed_parameter_is_named(
    action: str, params: Any, named: str, session: Any, moto: MotoServer
) -> None:
    with pytest.raises(ValueError) as exc:
        snapshot_and_plan(action, params, session, moto.endpoint_url)
    assert named in str(exc.value)
    assert not isinstance(exc.value, RollbackUnavailable)


def test_snapshot_read_failure_names_the_call(moto: MotoServer) -> None:
    enforcing = MotoServer(enforce_iam=True)
    with enforcing:
        session = enforcing.session()  # "testing" is no known key there
        with pytest.raises(RollbackError, match=r"iam\.get_role"):
            snapshot_and_plan(
                "iam:DeleteRolePolicy",
                {"RoleName": "app", "PolicyName": "p"},
                session,
                enforcing.endpoint_url,
            )
    with pytest.raises(ClientError):  # sanity: the shared server was not affected
        moto.client("iam").get_role(RoleName="app")
