"""Condition operators, each shown true and false, plus IfExists, set qualifiers, Null,
AND/OR combination, case-insensitive keys and variables in condition values."""

from __future__ import annotations

from typing import Any

import pytest

from remit.grants.iam_eval import Verdict, evaluate

RESOURCE = "arn:aws:s3:::reports/q1.csv"
ROLE = "arn:aws:iam::111122223333:role/app"


def holds(condition: dict[str, Any], context: dict[str, Any]) -> bool:
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": condition}
        ],
    }
    return evaluate([doc], None, "s3:GetObject", RESOURCE, context) is Verdict.ALLOW


CASES: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = [
    # String
    (
        "StringEquals hit",
        {"StringEquals": {"aws:PrincipalTag/team": "ops"}},
        {"aws:PrincipalTag/team": "ops"},
        True,
    ),
    (
        "StringEquals case",
        {"StringEquals": {"aws:PrincipalTag/team": "ops"}},
        {"aws:PrincipalTag/team": "Ops"},
        False,
    ),
    ("StringEquals missing", {"StringEquals": {"aws:PrincipalTag/team": "ops"}}, {}, False),
    ("StringNotEquals other", {"StringNotEquals": {"k": "ops"}}, {"k": "dev"}, True),
    ("StringNotEquals same", {"StringNotEquals": {"k": "ops"}}, {"k": "ops"}, False),
    ("StringNotEquals missing", {"StringNotEquals": {"k": "ops"}}, {}, True),
    ("StringEqualsIgnoreCase hit", {"StringEqualsIgnoreCase": {"k": "OPS"}}, {"k": "ops"}, True),
    (
        "StringEqualsIgnoreCase both sides",
        {"StringEqualsIgnoreCase": {"k": "oPS"}},
        {"k": "Ops"},
        True,
    ),
    ("StringEqualsIgnoreCase miss", {"StringEqualsIgnoreCase": {"k": "OPS"}}, {"k": "dev"}, False),
    (
        "StringNotEqualsIgnoreCase same",
        {"StringNotEqualsIgnoreCase": {"k": "OPS"}},
        {"k": "ops"},
        False,
    ),
    (
        "StringNotEqualsIgnoreCase other",
        {"StringNotEqualsIgnoreCase": {"k": "OPS"}},
        {"k": "dev"},
        True,
    ),
    (
        "StringLike star",
        {"StringLike": {"k": "s3.*.amazonaws.com"}},
        {"k": "s3.us-east-1.amazonaws.com"},
        True,
    ),
    (
        "StringLike star miss",
        {"StringLike": {"k": "s3.*.amazonaws.com"}},
        {"k": "sqs.us-east-1.amazonaws.com"},
        False,
    ),
    ("StringLike ?", {"StringLike": {"k": "v?"}}, {"k": "v1"}, True),
    ("StringLike ? one char", {"StringLike": {"k": "v?"}}, {"k": "v12"}, False),
    ("StringLike case", {"StringLike": {"k": "a*"}}, {"k": "Abc"}, False),
    ("StringNotLike miss", {"StringNotLike": {"k": "prod-*"}}, {"k": "dev-1"}, True),
    ("StringNotLike hit", {"StringNotLike": {"k": "prod-*"}}, {"k": "prod-1"}, False),
    # ARN
    ("ArnEquals hit", {"ArnEquals": {"aws:SourceArn": ROLE}}, {"aws:SourceArn": ROLE}, True),
    (
        "ArnEquals miss",
        {"ArnEquals": {"aws:SourceArn": ROLE}},
        {"aws:SourceArn": ROLE + "2"},
        False,
    ),
    (
        "ArnLike wildcard",
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/app*"}},
        {"aws:PrincipalArn": ROLE},
        True,
    ),
    (
        "ArnLike case",
        {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/APP"}},
        {"aws:PrincipalArn": ROLE},
        False,
    ),
    ("ArnLike segment", {"ArnLike": {"k": "arn:aws:s3:::a*b"}}, {"k": "arn:aws:s3:::ax:yb"}, False),
    ("ArnNotEquals other", {"ArnNotEquals": {"k": ROLE}}, {"k": ROLE + "2"}, True),
    ("ArnNotEquals same", {"ArnNotEquals": {"k": ROLE}}, {"k": ROLE}, False),
    ("ArnNotLike other", {"ArnNotLike": {"k": "arn:aws:iam::*:root"}}, {"k": ROLE}, True),
    ("ArnNotLike same", {"ArnNotLike": {"k": "arn:aws:iam::*:role/*"}}, {"k": ROLE}, False),
    # Bool
    ("Bool true", {"Bool": {"aws:SecureTransport": "true"}}, {"aws:SecureTransport": "true"}, True),
    (
        "Bool false",
        {"Bool": {"aws:SecureTransport": "true"}},
        {"aws:SecureTransport": "false"},
        False,
    ),
    (
        "Bool JSON bool",
        {"Bool": {"aws:MultiFactorAuthPresent": True}},
        {"aws:MultiFactorAuthPresent": "TRUE"},
        True,
    ),
    ("Bool missing", {"Bool": {"aws:MultiFactorAuthPresent": "false"}}, {}, False),
    # Numeric
    ("NumericEquals", {"NumericEquals": {"n": "10"}}, {"n": "10.0"}, True),
    ("NumericEquals no", {"NumericEquals": {"n": 10}}, {"n": "11"}, False),
    ("NumericNotEquals", {"NumericNotEquals": {"n": "10"}}, {"n": "11"}, True),
    ("NumericNotEquals no", {"NumericNotEquals": {"n": "10"}}, {"n": "10"}, False),
    ("NumericLessThan", {"NumericLessThan": {"n": "10"}}, {"n": "9"}, True),
    ("NumericLessThan edge", {"NumericLessThan": {"n": "10"}}, {"n": "10"}, False),
    ("NumericLessThanEquals", {"NumericLessThanEquals": {"n": "10"}}, {"n": "10"}, True),
    ("NumericLessThanEquals no", {"NumericLessThanEquals": {"n": "10"}}, {"n": "10.5"}, False),
    ("NumericGreaterThan", {"NumericGreaterThan": {"n": "10"}}, {"n": "11"}, True),
    ("NumericGreaterThan edge", {"NumericGreaterThan": {"n": "10"}}, {"n": "10"}, False),
    ("NumericGreaterThanEquals", {"NumericGreaterThanEquals": {"n": "10"}}, {"n": "10"}, True),
    ("NumericGreaterThanEquals no", {"NumericGreaterThanEquals": {"n": "10"}}, {"n": "9"}, False),
    ("Numeric junk context", {"NumericLessThan": {"n": "10"}}, {"n": "nine"}, False),
    # Date
    (
        "DateLessThan",
        {"DateLessThan": {"aws:CurrentTime": "2026-12-31T00:00:00Z"}},
        {"aws:CurrentTime": "2026-11-21T12:00:00Z"},
        True,
    ),
    (
        "DateLessThan no",
        {"DateLessThan": {"aws:CurrentTime": "2026-12-31T00:00:00Z"}},
        {"aws:CurrentTime": "2027-01-01T00:00:00Z"},
        False,
    ),
    (
        "DateGreaterThan",
        {"DateGreaterThan": {"aws:CurrentTime": "2026-01-01"}},
        {"aws:CurrentTime": "2026-11-21T12:00:00+01:00"},
        True,
    ),
    (
        "DateGreaterThan no",
        {"DateGreaterThan": {"aws:CurrentTime": "2026-01-01"}},
        {"aws:CurrentTime": "2025-12-31T23:59:59Z"},
        False,
    ),
    (
        "DateGreaterThan epoch",
        {"DateGreaterThan": {"aws:EpochTime": "1700000000"}},
        {"aws:EpochTime": "1800000000"},
        True,
    ),
    (
        "DateEquals",
        {"DateEquals": {"t": "2026-01-01T00:00:00Z"}},
        {"t": "2026-01-01T01:00:00+01:00"},
        True,
    ),
    (
        "DateEquals no",
        {"DateEquals": {"t": "2026-01-01T00:00:00Z"}},
        {"t": "2026-01-01T00:00:01Z"},
        False,
    ),
    (
        "DateNotEquals other",
        {"DateNotEquals": {"t": "2026-01-01T00:00:00Z"}},
        {"t": "2026-01-02T00:00:00Z"},
        True,
    ),
    (
        "DateLessThanEquals no",
        {"DateLessThanEquals": {"t": "2026-01-01T00:00:00Z"}},
        {"t": "2026-01-01T00:00:01Z"},
        False,
    ),
    (
        "DateGreaterThanEquals",
        {"DateGreaterThanEquals": {"t": "2026-01-01T00:00:00Z"}},
        {"t": "2026-01-01T00:00:00Z"},
        True,
    ),
    (
        "DateNotEquals",
        {"DateNotEquals": {"t": "2026-01-01T00:00:00Z"}},
        {"t": "2026-01-01T00:00:00Z"},
        False,
    ),
    (
        "DateLessThanEquals",
        {"DateLessThanEquals": {"t": "2026-01-01T00:00:00Z"}},
        {"t": "2026-01-01T00:00:00Z"},
        True,
    ),
    (
        "DateGreaterThanEquals no",
        {"DateGreaterThanEquals": {"t": "2026-01-01T00:00:00Z"}},
        {"t": "2025-01-01T00:00:00Z"},
        False,
    ),
    # IP
    (
        "IpAddress in",
        {"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.0.2.0/24"]}},
        {"aws:SourceIp": "192.0.2.7"},
        True,
    ),
    (
        "IpAddress out",
        {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        {"aws:SourceIp": "11.0.0.1"},
        False,
    ),
    (
        "IpAddress v6",
        {"IpAddress": {"aws:SourceIp": "2001:db8::/32"}},
        {"aws:SourceIp": "2001:db8::1"},
        True,
    ),
    (
        "IpAddress junk",
        {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        {"aws:SourceIp": "not-an-ip"},
        False,
    ),
    (
        "NotIpAddress out",
        {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        {"aws:SourceIp": "11.0.0.1"},
        True,
    ),
    (
        "NotIpAddress in",
        {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        {"aws:SourceIp": "10.1.2.3"},
        False,
    ),
    # Binary
    ("BinaryEquals", {"BinaryEquals": {"k": "QmluYXJ5"}}, {"k": "QmluYXJ5"}, True),
    ("BinaryEquals no", {"BinaryEquals": {"k": "QmluYXJ5"}}, {"k": "QmluYXJz"}, False),
    # Null
    ("Null true absent", {"Null": {"aws:TokenIssueTime": "true"}}, {}, True),
    (
        "Null true present",
        {"Null": {"aws:TokenIssueTime": "true"}},
        {"aws:TokenIssueTime": "x"},
        False,
    ),
    (
        "Null false present",
        {"Null": {"aws:TokenIssueTime": "false"}},
        {"aws:TokenIssueTime": "x"},
        True,
    ),
    ("Null false absent", {"Null": {"aws:TokenIssueTime": False}}, {}, False),
    # IfExists
    ("IfExists missing", {"StringEqualsIfExists": {"k": "ops"}}, {}, True),
    ("IfExists present match", {"StringEqualsIfExists": {"k": "ops"}}, {"k": "ops"}, True),
    ("IfExists present other", {"StringEqualsIfExists": {"k": "ops"}}, {"k": "dev"}, False),
    ("NotLikeIfExists missing", {"StringNotLikeIfExists": {"k": "ops"}}, {}, True),
    ("NumericIfExists missing", {"NumericLessThanIfExists": {"n": "3"}}, {}, True),
    ("NumericIfExists present", {"NumericLessThanIfExists": {"n": "3"}}, {"n": "5"}, False),
    # Set qualifiers
    (
        "ForAnyValue one",
        {"ForAnyValue:StringEquals": {"aws:TagKeys": ["env", "team"]}},
        {"aws:TagKeys": ["cost", "env"]},
        True,
    ),
    (
        "ForAnyValue none",
        {"ForAnyValue:StringEquals": {"aws:TagKeys": ["env", "team"]}},
        {"aws:TagKeys": ["cost", "owner"]},
        False,
    ),
    ("ForAnyValue missing", {"ForAnyValue:StringEquals": {"aws:TagKeys": ["env"]}}, {}, False),
    (
        "ForAnyValue empty",
        {"ForAnyValue:StringEquals": {"aws:TagKeys": ["env"]}},
        {"aws:TagKeys": []},
        False,
    ),
    (
        "ForAllValues all",
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}},
        {"aws:TagKeys": ["team", "env"]},
        True,
    ),
    (
        "ForAllValues one outside",
        {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}},
        {"aws:TagKeys": ["env", "cost"]},
        False,
    ),
    ("ForAllValues missing", {"ForAllValues:StringEquals": {"aws:TagKeys": ["env"]}}, {}, True),
    (
        "ForAllValues like",
        {"ForAllValues:StringLike": {"aws:TagKeys": ["team-*"]}},
        {"aws:TagKeys": ["team-a", "team-b"]},
        True,
    ),
    (
        "ForAnyValue negated",
        {"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["env"]}},
        {"aws:TagKeys": ["env", "cost"]},
        True,
    ),
    (
        "ForAnyValue negated all in",
        {"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["env"]}},
        {"aws:TagKeys": ["env"]},
        False,
    ),
    (
        "ForAllValues negated",
        {"ForAllValues:StringNotEquals": {"aws:TagKeys": ["secret"]}},
        {"aws:TagKeys": ["env", "team"]},
        True,
    ),
    (
        "ForAllValues negated hit",
        {"ForAllValues:StringNotEquals": {"aws:TagKeys": ["secret"]}},
        {"aws:TagKeys": ["env", "secret"]},
        False,
    ),
    (
        "ForAnyValue IfExists missing",
        {"ForAnyValue:StringEqualsIfExists": {"aws:TagKeys": ["env"]}},
        {},
        True,
    ),
    # Multiple values are ORed, negated values NORed
    ("values OR", {"StringEquals": {"k": ["a", "b"]}}, {"k": "b"}, True),
    ("values OR none", {"StringEquals": {"k": ["a", "b"]}}, {"k": "c"}, False),
    ("negated values NOR", {"StringNotEquals": {"k": ["a", "b"]}}, {"k": "b"}, False),
    ("negated values NOR none", {"StringNotEquals": {"k": ["a", "b"]}}, {"k": "c"}, True),
    # Multiple keys and multiple operators are ANDed
    ("keys AND both", {"StringEquals": {"a": "1", "b": "2"}}, {"a": "1", "b": "2"}, True),
    ("keys AND one", {"StringEquals": {"a": "1", "b": "2"}}, {"a": "1", "b": "3"}, False),
    (
        "ops AND both",
        {"StringEquals": {"a": "1"}, "Bool": {"b": "true"}},
        {"a": "1", "b": "true"},
        True,
    ),
    (
        "ops AND one",
        {"StringEquals": {"a": "1"}, "Bool": {"b": "true"}},
        {"a": "1", "b": "false"},
        False,
    ),
    ("empty condition", {}, {}, True),
    # Keys are case-insensitive
    (
        "key case",
        {"StringEquals": {"aws:sourceidentity": "d-1"}},
        {"AWS:SourceIdentity": "d-1"},
        True,
    ),
    # Variables in condition values
    (
        "variable",
        {"StringEquals": {"s3:prefix": "home/${aws:username}"}},
        {"s3:prefix": "home/alice", "aws:username": "alice"},
        True,
    ),
    (
        "variable other",
        {"StringEquals": {"s3:prefix": "home/${aws:username}"}},
        {"s3:prefix": "home/bob", "aws:username": "alice"},
        False,
    ),
    (
        "variable missing",
        {"StringEquals": {"s3:prefix": "home/${aws:username}"}},
        {"s3:prefix": "home/"},
        False,
    ),
    (
        "variable like",
        {"StringLike": {"s3:prefix": "home/${aws:username}/*"}},
        {"s3:prefix": "home/alice/x", "aws:username": "alice"},
        True,
    ),
    ("variable literal star", {"StringLike": {"k": "a${*}"}}, {"k": "abc"}, False),
    ("variable literal star same", {"StringLike": {"k": "a${*}"}}, {"k": "a*"}, True),
    # A multivalued key without a set qualifier matches if any value does.
    ("multivalue plain", {"StringEquals": {"k": "x"}}, {"k": ["y", "x"]}, True),
]


@pytest.mark.parametrize(
    ("name", "condition", "context", "expected"), CASES, ids=[c[0] for c in CASES]
)
def test_condition(
    name: str, condition: dict[str, Any], context: dict[str, Any], expected: bool
) -> None:
    assert holds(condition, context) is expected, name


def test_every_operator_is_exercised_both_ways() -> None:
    outcomes: dict[str, set[bool]] = {}
    for _name, condition, _ctx, expected in CASES:
        for op in condition:
            base = op.split(":")[-1].removesuffix("IfExists")
            outcomes.setdefault(base, set()).add(expected)
    required = {
        "StringEquals", "StringNotEquals", "StringLike", "StringNotLike", "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Bool",
        "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
        "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals", "DateNotEquals",
        "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals",
        "IpAddress", "NotIpAddress", "BinaryEquals", "Null",
    }  # fmt: skip
    missing = {op for op in required if outcomes.get(op) != {True, False}}
    assert not missing, f"operators not shown both true and false: {sorted(missing)}"


def test_condition_on_deny_statement() -> None:
    doc = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
            },
        ],
    }
    assert evaluate([doc], None, "iam:GetRole", ROLE, {}) is Verdict.EXPLICIT_DENY
    ctx = {"aws:MultiFactorAuthPresent": "false"}
    assert evaluate([doc], None, "iam:GetRole", ROLE, ctx) is Verdict.EXPLICIT_DENY
    ctx = {"aws:MultiFactorAuthPresent": "true"}
    assert evaluate([doc], None, "iam:GetRole", ROLE, ctx) is Verdict.ALLOW
