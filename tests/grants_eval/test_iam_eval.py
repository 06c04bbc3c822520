"""IAM evaluation semantics: precedence, Not* elements, matching, session intersection,
explanations and malformed documents."""

from __future__ import annotations

from typing import Any

import pytest

from remit.grants.iam_eval import PolicyError, Verdict, evaluate, explain, parse_policy

ACCT = "111122223333"
ROLE = f"arn:aws:iam::{ACCT}:role/legacy-batch"
OTHER = f"arn:aws:iam::{ACCT}:role/other"
BUCKET_KEY = "arn:aws:s3:::reports/2026/q1.csv"

ALLOW, DENY, IMPLICIT = Verdict.ALLOW, Verdict.EXPLICIT_DENY, Verdict.IMPLICIT_DENY


def pol(*statements: dict[str, Any], version: str | None = "2012-10-17") -> dict[str, Any]:
    doc: dict[str, Any] = {"Statement": list(statements)}
    if version:
        doc["Version"] = version
    return doc


def allow(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "*", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def ev(identity: list[dict[str, Any]], action: str, resource: str, session: Any = None) -> Verdict:
    return evaluate(identity, session, action, resource, {})


# ----------------------------------------------------------------- precedence


@pytest.mark.parametrize(
    ("identity", "expected"),
    [
        ([], IMPLICIT),
        ([pol()], IMPLICIT),
        ([pol(allow("iam:GetRole", ROLE))], ALLOW),
        ([pol(allow("iam:GetRole", OTHER))], IMPLICIT),
        ([pol(allow("iam:DeleteRole", ROLE))], IMPLICIT),
        ([pol(allow(), deny("iam:GetRole", ROLE))], DENY),
        ([pol(deny("iam:GetRole", ROLE), allow())], DENY),
        ([pol(allow()), pol(deny("iam:*"))], DENY),
        ([pol(deny("iam:GetRole", OTHER), allow())], ALLOW),
        ([pol(deny("iam:DeleteRole"), allow())], ALLOW),
        ([pol(allow("s3:*")), pol(allow("iam:GetRole", ROLE))], ALLOW),
    ],
)
def test_allow_deny_precedence(identity: list[dict[str, Any]], expected: Verdict) -> None:
    assert ev(identity, "iam:GetRole", ROLE) is expected


def test_single_statement_object_and_string_elements() -> None:
    doc = {"Version": "2012-10-17", "Statement": allow("iam:GetRole", ROLE)}
    assert ev([doc], "iam:GetRole", ROLE) is ALLOW
    assert ev([pol(allow(["iam:GetRole"], [ROLE]))], "iam:GetRole", ROLE) is ALLOW


# ----------------------------------------------------------------- NotAction / NotResource


@pytest.mark.parametrize(
    ("statement", "action", "resource", "expected"),
    [
        (
            {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
            "s3:GetObject",
            BUCKET_KEY,
            ALLOW,
        ),
        ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "iam:GetRole", ROLE, IMPLICIT),
        (
            {"Effect": "Allow", "NotAction": ["IAM:Delete*"], "Resource": "*"},
            "iam:DeleteRole",
            ROLE,
            IMPLICIT,
        ),
        (
            {"Effect": "Allow", "NotAction": ["IAM:Delete*"], "Resource": "*"},
            "iam:GetRole",
            ROLE,
            ALLOW,
        ),
        ({"Effect": "Allow", "Action": "*", "NotResource": OTHER}, "iam:GetRole", ROLE, ALLOW),
        ({"Effect": "Allow", "Action": "*", "NotResource": [ROLE]}, "iam:GetRole", ROLE, IMPLICIT),
        (
            {"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:iam::*:role/*"},
            "iam:GetRole",
            ROLE,
            IMPLICIT,
        ),
        (
            {"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:iam::*:role/*"},
            "s3:GetObject",
            BUCKET_KEY,
            ALLOW,
        ),
    ],
)
def test_not_action_not_resource_allow(
    statement: dict[str, Any], action: str, resource: str, expected: Verdict
) -> None:
    assert ev([pol(statement)], action, resource) is expected


@pytest.mark.parametrize(
    ("statement", "action", "resource", "expected"),
    [
        # Deny everything except s3: IAM is denied, S3 is left to the Allow.
        ({"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"}, "iam:GetRole", ROLE, DENY),
        (
            {"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"},
            "s3:GetObject",
            BUCKET_KEY,
            ALLOW,
        ),
        # Deny everywhere except the one role.
        ({"Effect": "Deny", "Action": "*", "NotResource": ROLE}, "iam:GetRole", OTHER, DENY),
        ({"Effect": "Deny", "Action": "*", "NotResource": ROLE}, "iam:GetRole", ROLE, ALLOW),
    ],
)
def test_not_action_not_resource_deny(
    statement: dict[str, Any], action: str, resource: str, expected: Verdict
) -> None:
    assert ev([pol(allow(), statement)], action, resource) is expected


# ----------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("pattern", "action", "matches"),
    [
        ("iam:GetRole", "iam:GetRole", True),
        ("IAM:getrole", "iam:GetRole", True),
        ("iam:GetRole", "IAM:GETROLE", True),
        ("iam:get*", "iam:GetRolePolicy", True),
        ("IAM:*Role", "iam:DeleteRole", True),
        ("iam:*Role", "iam:DeleteRolePolicy", False),
        ("iam:GetRol?", "iam:GetRole", True),
        ("iam:GetRol?", "iam:GetRoles", False),
        ("*", "s3:GetObject", True),
        ("*:Get*", "s3:GetObject", True),
        ("s3:*", "iam:GetRole", False),
        ("iam:Get", "iam:GetRole", False),
    ],
)
def test_action_matching_case_insensitive_globs(pattern: str, action: str, matches: bool) -> None:
    assert (ev([pol(allow(pattern))], action, ROLE) is ALLOW) is matches


@pytest.mark.parametrize(
    ("pattern", "resource", "matches"),
    [
        (ROLE, ROLE, True),
        ("arn:aws:iam::111122223333:role/Legacy-Batch", ROLE, False),
        ("ARN:AWS:IAM::111122223333:role/legacy-batch", ROLE, False),
        ("arn:aws:iam::*:role/legacy-batch", ROLE, True),
        ("arn:aws:iam::111122223333:role/legacy-*", ROLE, True),
        ("arn:aws:iam::111122223333:role/legacy-batc?", ROLE, True),
        ("arn:aws:iam::111122223333:role/legacy-bat?", ROLE, False),
        ("arn:aws:iam::111122223333:role/*", OTHER, True),
        ("arn:aws:s3:::reports/*", BUCKET_KEY, True),
        ("arn:aws:s3:::reports", BUCKET_KEY, False),
        ("arn:aws:s3:::rep*/q1.csv", "arn:aws:s3:::reports/2026/q1.csv", True),
        # A `*` inside a segment stays inside it; one that ends a segment may run on.
        ("arn:aws:s3:::a*b", "arn:aws:s3:::ax:yb", False),
        ("arn:aws:s3:::a*", "arn:aws:s3:::ax:yb", True),
        (
            "arn:aws:logs:*:*:log-group:/aws/lambda/*",
            f"arn:aws:logs:us-east-1:{ACCT}:log-group:/aws/lambda/fn:*",
            True,
        ),
        ("*", ROLE, True),
    ],
)
def test_resource_matching_case_sensitive(pattern: str, resource: str, matches: bool) -> None:
    assert (ev([pol(allow("*", pattern))], "iam:GetRole", resource) is ALLOW) is matches


def test_wildcard_request_needs_full_cover_to_be_allowed() -> None:
    request = f"arn:aws:iam::{ACCT}:role/batch-*"
    assert ev([pol(allow("*", f"arn:aws:iam::{ACCT}:role/*"))], "iam:GetRole", request) is ALLOW
    assert ev([pol(allow("*", f"arn:aws:iam::{ACCT}:role/batch-1"))], "iam:GetRole", request) is (
        IMPLICIT
    )
    # `?` never stands for the request's `*`.
    assert ev([pol(allow("*", f"arn:aws:iam::{ACCT}:role/batch-?"))], "iam:GetRole", request) is (
        IMPLICIT
    )


def test_wildcard_request_is_denied_if_any_part_is_denied() -> None:
    identity = [pol(allow(), deny("*", f"arn:aws:iam::{ACCT}:role/batch-admin"))]
    assert ev(identity, "iam:GetRole", f"arn:aws:iam::{ACCT}:role/batch-*") is DENY
    assert ev(identity, "iam:GetRole", f"arn:aws:iam::{ACCT}:role/web-*") is ALLOW
    not_res = [pol(allow(), {"Effect": "Deny", "Action": "*", "NotResource": ROLE})]
    assert ev(not_res, "iam:GetRole", f"arn:aws:iam::{ACCT}:role/*") is DENY
    allow_not_res = [pol({"Effect": "Allow", "Action": "*", "NotResource": ROLE})]
    assert ev(allow_not_res, "iam:GetRole", f"arn:aws:iam::{ACCT}:role/*") is IMPLICIT
    assert ev(allow_not_res, "iam:GetRole", f"arn:aws:iam::{ACCT}:role/web-*") is ALLOW


def test_wildcard_request_action() -> None:
    assert ev([pol(allow("iam:*"))], "iam:Get*", ROLE) is ALLOW
    assert ev([pol(allow("iam:GetRole"))], "iam:Get*", ROLE) is IMPLICIT
    assert ev([pol(allow(), deny("iam:GetRole"))], "iam:Get*", ROLE) is DENY
    assert ev([pol(allow(), deny("iam:Delete*"))], "iam:Get*", ROLE) is ALLOW
    not_action = [pol({"Effect": "Allow", "NotAction": "iam:GetRole", "Resource": "*"})]
    assert ev(not_action, "iam:Get*", ROLE) is IMPLICIT


# ----------------------------------------------------------------- policy variables


def test_policy_variables_in_resources() -> None:
    doc = pol(allow("iam:ChangePassword", "arn:aws:iam::*:user/${aws:username}"))
    user = f"arn:aws:iam::{ACCT}:user/"
    ctx = {"aws:username": "alice"}
    assert evaluate([doc], None, "iam:ChangePassword", user + "alice", ctx) is ALLOW
    assert evaluate([doc], None, "iam:ChangePassword", user + "bob", ctx) is IMPLICIT
    assert evaluate([doc], None, "iam:ChangePassword", user + "alice", {}) is IMPLICIT
    with_default = pol(allow("iam:ChangePassword", "arn:aws:iam::*:user/${aws:username, 'guest'}"))
    assert evaluate([with_default], None, "iam:ChangePassword", user + "guest", {}) is ALLOW


def test_special_variables_are_literal_and_2008_policies_do_not_substitute() -> None:
    literal_star = pol(allow("s3:GetObject", "arn:aws:s3:::b/${*}"))
    assert ev([literal_star], "s3:GetObject", "arn:aws:s3:::b/k") is IMPLICIT
    old = pol(allow("iam:GetUser", "arn:aws:iam::*:user/${aws:username}"), version="2008-10-17")
    user = f"arn:aws:iam::{ACCT}:user/"
    assert evaluate([old], None, "iam:GetUser", user + "alice", {"aws:username": "alice"}) is (
        IMPLICIT
    )
    assert evaluate([old], None, "iam:GetUser", user + "${aws:username}", {}) is ALLOW


# ----------------------------------------------------------------- session policies


def test_session_policy_narrows_broad_identity() -> None:
    identity = [pol(allow("iam:*"))]
    session = pol(allow("iam:DetachRolePolicy", ROLE))
    assert ev(identity, "iam:DetachRolePolicy", ROLE, session) is ALLOW
    assert ev(identity, "iam:DetachRolePolicy", OTHER, session) is IMPLICIT
    assert ev(identity, "iam:DeleteRole", ROLE, session) is IMPLICIT
    assert ev(identity, "s3:GetObject", BUCKET_KEY, session) is IMPLICIT


def test_session_policy_cannot_widen_identity() -> None:
    identity = [pol(allow("iam:GetRole", "*"))]
    session = pol(allow("iam:*", "*"), allow("s3:*", "*"))
    assert ev(identity, "iam:GetRole", ROLE, session) is ALLOW
    assert ev(identity, "iam:DeleteRole", ROLE, session) is IMPLICIT
    assert ev(identity, "s3:GetObject", BUCKET_KEY, session) is IMPLICIT


def test_deny_in_session_policy_wins() -> None:
    session = pol(allow(), deny("iam:GetRole", ROLE))
    assert ev([pol(allow())], "iam:GetRole", ROLE, session) is DENY


def test_empty_session_policy_allows_nothing() -> None:
    assert ev([pol(allow())], "iam:GetRole", ROLE, pol()) is IMPLICIT


def test_parsed_policies_are_accepted() -> None:
    identity = parse_policy(pol(allow("iam:*")), "role policy")
    session = parse_policy(pol(allow("iam:GetRole", ROLE)), "session")
    assert evaluate([identity], session, "iam:GetRole", ROLE, {}) is ALLOW


# ----------------------------------------------------------------- explanations


def test_explain_names_deciding_statements() -> None:
    identity = [pol(allow("iam:*", Sid="RoleAdmin")), pol(deny("iam:DeleteRole", Sid="NoDelete"))]
    session = pol(allow("iam:*", ROLE, Sid="RemitDecision"))
    d = explain(identity, session, "iam:DeleteRole", ROLE, {})
    assert d.verdict is DENY
    assert [(s.policy, s.index, s.sid) for s in d.statements] == [
        ("identity policy #1", 0, "NoDelete")
    ]
    assert "NoDelete" in str(d)
    d = explain(identity, session, "iam:GetRole", ROLE, {})
    assert d.verdict is ALLOW
    assert [s.sid for s in d.statements] == ["RoleAdmin", "RemitDecision"]
    d = explain(identity, session, "iam:GetRole", OTHER, {})
    assert d.verdict is IMPLICIT and "session policy does not" in d.reason
    d = explain([pol(allow("s3:*"))], None, "iam:GetRole", ROLE, {})
    assert d.verdict is IMPLICIT and d.statements == () and "no identity-based" in d.reason


# ----------------------------------------------------------------- malformed documents


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ("not a dict", "JSON object"),
        ({"Version": "2012-10-17"}, "missing Statement"),
        ({"Statement": "x"}, "Statement must be"),
        ({"Statement": ["x"]}, "must be an object"),
        ({"Version": "2020-01-01", "Statement": []}, "Version"),
        ({"Statement": [], "Extra": 1}, "unknown top-level element 'Extra'"),
        (pol({"Effect": "allow", "Action": "*", "Resource": "*"}), "Effect"),
        (pol({"Effect": "Allow", "Resource": "*"}), "exactly one of Action or NotAction"),
        (
            pol({"Effect": "Allow", "Action": "*", "NotAction": "s3:*", "Resource": "*"}),
            "exactly one of Action",
        ),
        (pol({"Effect": "Allow", "Action": "*"}), "exactly one of Resource or NotResource"),
        (pol({"Effect": "Allow", "Action": [], "Resource": "*"}), "Action must not be empty"),
        (pol({"Effect": "Allow", "Action": [3], "Resource": "*"}), "non-empty strings"),
        (pol({"Effect": "Allow", "Action": "iam", "Resource": "*"}), "is not an action"),
        (pol(allow(Principal="*")), "Principal"),
        (pol(allow(Bogus=1)), "unknown element 'Bogus'"),
        (pol(allow(Sid=5)), "Sid"),
        (pol(allow(Condition=[])), "Condition must be an object"),
        (pol(allow(Condition={"StringEquals": "x"})), "must map keys"),
        (
            pol(allow(Condition={"StringEqualz": {"k": "v"}})),
            "unknown condition operator 'StringEqualz'",
        ),
        (pol(allow(Condition={"ForSomeValues:StringEquals": {"k": "v"}})), "set qualifier"),
        (pol(allow(Condition={"NullIfExists": {"k": "true"}})), "unknown condition operator"),
        (pol(allow(Condition={"Null": {"k": "maybe"}})), "Null"),
        (pol(allow(Condition={"NumericLessThan": {"k": "ten"}})), "not a number"),
        (pol(allow(Condition={"DateLessThan": {"k": "yesterday"}})), "not a date"),
        (pol(allow(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.300/8"}})), "not an IP"),
        (pol(allow(Condition={"Bool": {"k": "yes"}})), "Bool"),
        (pol(allow(Condition={"StringEquals": {"k": {"nested": 1}}})), "condition values"),
        (pol(allow(Condition={"StringEquals": {"k": []}})), "at least one value"),
        (pol(allow("*", "arn:aws:iam::*:user/${aws username}")), "policy variable"),
    ],
)
def test_malformed_documents(doc: Any, fragment: str) -> None:
    with pytest.raises(PolicyError, match=fragment.replace("(", r"\(")):
        evaluate([doc], None, "iam:GetRole", ROLE, {})


def test_policy_error_is_a_value_error() -> None:
    assert issubclass(PolicyError, ValueError)
    with pytest.raises(PolicyError, match="session policy"):
        evaluate([pol(allow())], {"Statement": [{"Effect": "Allow"}]}, "iam:GetRole", ROLE, {})
