"""Session policies allow exactly the decision's actions on exactly its resources."""

from __future__ import annotations

import json

import pytest

from remit.grants.iam_eval import Verdict, evaluate
from remit.grants.policy import (
    SESSION_POLICY_MAX_CHARS,
    GrantRefused,
    policy_json,
    session_policy,
    supports_resource_scoping,
)

ROLE = "arn:aws:iam::111122223333:role/legacy-batch"
OTHER_ROLE = "arn:aws:iam::111122223333:role/other"
ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"},
}


def test_exact_document() -> None:
    assert session_policy(["iam:DetachRolePolicy"], [ROLE]) == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "RemitDecision",
                "Effect": "Allow",
                "Action": ["iam:DetachRolePolicy"],
                "Resource": [ROLE],
            }
        ],
    }


def test_actions_canonical_and_deduplicated_resources_as_given() -> None:
    doc = session_policy(
        ["IAM:detachrolepolicy", "iam:DetachRolePolicy", "iam:getrole"], [OTHER_ROLE, ROLE, ROLE]
    )
    stmt = doc["Statement"][0]
    assert stmt["Action"] == ["iam:DetachRolePolicy", "iam:GetRole"]
    assert stmt["Resource"] == [OTHER_ROLE, ROLE]


def test_no_wildcard_is_ever_added() -> None:
    text = policy_json(session_policy(["iam:DetachRolePolicy", "iam:GetRole"], [ROLE]))
    assert "*" not in text and "?" not in text


def test_request_wildcards_are_kept_not_widened() -> None:
    pattern = "arn:aws:iam::111122223333:role/batch-*"
    doc = session_policy(["iam:GetRole"], [pattern], allow_wildcards=True)
    assert doc["Statement"][0]["Resource"] == [pattern]


@pytest.mark.parametrize(
    "resource",
    [
        "*",
        "arn:aws:iam::111122223333:role/*",
        "arn:aws:iam::111122223333:role/OrganizationAccountAccessRol?",
    ],
)
def test_request_wildcards_refused_unless_the_rule_allowed_them(resource: str) -> None:
    with pytest.raises(GrantRefused, match="allow_wildcards"):
        session_policy(["iam:GetRole"], [ROLE, resource])


@pytest.mark.parametrize("action", ["iam:*", "*", "iam:Get?ole", "iam:Detach*", "*:GetRole"])
def test_wildcard_action_refused(action: str) -> None:
    with pytest.raises(GrantRefused, match="wildcard"):
        session_policy([action], [ROLE])


@pytest.mark.parametrize("action", ["iam:DetachRolePolicies", "nosuchservice:Do", "iam", ""])
def test_unknown_action_refused(action: str) -> None:
    with pytest.raises(GrantRefused):
        session_policy([action], [ROLE])


@pytest.mark.parametrize(
    ("actions", "resources", "fragment"),
    [
        ([], [ROLE], "at least one action"),
        (["iam:GetRole"], [], "at least one resource"),
        ("iam:GetRole", [ROLE], "not one string"),
        (["iam:GetRole"], ROLE, "not one string"),
        (["iam:GetRole"], ["role/legacy-batch"], "not an ARN"),
        (["iam:GetUser"], ["arn:aws:iam::111122223333:user/${aws:username}"], "policy variable"),
        (["iam:GetRole"], ["arn:aws:iam::111122223333:role/\u2603"], "characters"),
    ],
)
def test_bad_inputs_refused(actions: object, resources: object, fragment: str) -> None:
    with pytest.raises(GrantRefused, match=fragment):
        session_policy(actions, resources)  # type: ignore[arg-type]


def test_resource_scoping_from_policy_sentry() -> None:
    assert supports_resource_scoping("iam:DetachRolePolicy")
    assert supports_resource_scoping("s3:GetObject")
    assert not supports_resource_scoping("iam:ListRoles")
    assert not supports_resource_scoping("IAM:listroles")
    assert not supports_resource_scoping("sts:GetCallerIdentity")
    assert not supports_resource_scoping("iam:NoSuchAction")


def test_unscopable_action_on_specific_resource_refused() -> None:
    with pytest.raises(GrantRefused, match=r"iam:ListRoles cannot be scoped") as err:
        session_policy(["iam:DetachRolePolicy", "iam:ListRoles"], [ROLE])
    assert "iam:DetachRolePolicy" not in str(err.value)


def test_unscopable_action_allowed_when_request_is_star() -> None:
    doc = session_policy(["iam:ListRoles"], ["*"], allow_wildcards=True)
    assert doc["Statement"][0]["Resource"] == ["*"]
    assert evaluate([ALLOW_ALL], doc, "iam:ListRoles", "*", {}) is Verdict.ALLOW


def test_scopable_is_injectable() -> None:
    with pytest.raises(GrantRefused, match="cannot be scoped"):
        session_policy(["iam:GetRole"], [ROLE], scopable=lambda _a: False)
    assert session_policy(["iam:ListRoles"], [ROLE], scopable=lambda _a: True)


def test_generated_policy_allows_exactly_that() -> None:
    doc = json.loads(policy_json(session_policy(["iam:DetachRolePolicy"], [ROLE])))
    assert evaluate([ALLOW_ALL], doc, "iam:DetachRolePolicy", ROLE, {}) is Verdict.ALLOW
    assert evaluate([ALLOW_ALL], doc, "iam:DetachRolePolicy", OTHER_ROLE, {}) is (
        Verdict.IMPLICIT_DENY
    )
    assert evaluate([ALLOW_ALL], doc, "iam:AttachRolePolicy", ROLE, {}) is Verdict.IMPLICIT_DENY


def test_policy_json_is_compact() -> None:
    text = policy_json(session_policy(["iam:GetRole"], [ROLE]))
    assert " " not in text and "\n" not in text
    assert json.loads(text)["Statement"][0]["Sid"] == "RemitDecision"


def test_over_limit_refused_with_clear_message() -> None:
    arns = [
        f"arn:aws:iam::111122223333:role/service-roles/very-long-role-name-for-batch-job-{i:03d}"
        for i in range(60)
    ]
    doc = session_policy(["iam:DetachRolePolicy"], arns)
    size = len(json.dumps(doc, separators=(",", ":")))
    assert size > SESSION_POLICY_MAX_CHARS
    with pytest.raises(GrantRefused) as err:
        policy_json(doc)
    msg = str(err.value)
    assert str(size) in msg and "2048" in msg and "never widens" in msg


def test_at_the_limit_is_accepted() -> None:
    base = len(policy_json(session_policy(["iam:GetRole"], ["arn:aws:iam::111122223333:role/x"])))
    name = "x" * (SESSION_POLICY_MAX_CHARS - base + 1)
    text = policy_json(session_policy(["iam:GetRole"], [f"arn:aws:iam::111122223333:role/{name}"]))
    assert len(text) == SESSION_POLICY_MAX_CHARS
    with pytest.raises(GrantRefused):
        policy_json(session_policy(["iam:GetRole"], [f"arn:aws:iam::111122223333:role/{name}y"]))
