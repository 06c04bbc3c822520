"""Property tests: random small policies never crash the evaluator, an explicit Deny always
wins, a session policy only ever narrows, and junk documents only raise PolicyError."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from remit.grants.iam_eval import PolicyError, Verdict, evaluate, explain, parse_policy

ACTIONS = ["iam:GetRole", "iam:DeleteRole", "IAM:getrole", "s3:GetObject", "s3:PutObject"]
ACTION_PATTERNS = [*ACTIONS, "*", "iam:*", "iam:Get*", "s3:*Object", "s3:Get?bject", "*:Get*"]
RESOURCES = [
    "arn:aws:iam::111122223333:role/app",
    "arn:aws:iam::111122223333:role/App",
    "arn:aws:iam::111122223333:role/ops/admin",
    "arn:aws:s3:::bucket/key",
    "arn:aws:s3:::bucket/a:b",
]
REQUEST_RESOURCES = [*RESOURCES, "arn:aws:iam::111122223333:role/*", "arn:aws:s3:::bucket/*", "*"]
RESOURCE_PATTERNS = [
    *RESOURCES,
    "*",
    "arn:aws:iam::*:role/*",
    "arn:aws:iam::111122223333:role/a??",
    "arn:aws:s3:::bucket/*",
    "arn:aws:s3:::b*t/key",
    "arn:aws:iam::*:user/${aws:username}",
]
KEYS = ["aws:SourceIdentity", "aws:username", "aws:TagKeys", "aws:SourceIp", "n", "aws:CurrentTime"]
CONDITIONS = st.sampled_from(
    [
        {"StringEquals": {"aws:SourceIdentity": ["d-1", "d-2"]}},
        {"StringNotEquals": {"aws:SourceIdentity": "d-1"}},
        {"StringLikeIfExists": {"aws:username": "a*"}},
        {"ForAnyValue:StringEquals": {"aws:TagKeys": ["env", "team"]}},
        {"ForAllValues:StringLike": {"aws:TagKeys": ["t*"]}},
        {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
        {"NumericLessThan": {"n": "5"}},
        {"DateGreaterThan": {"aws:CurrentTime": "2026-01-01T00:00:00Z"}},
        {"Null": {"aws:username": "true"}},
        {"Bool": {"aws:SecureTransport": "true"}, "ArnLike": {"aws:SourceIdentity": "arn:*"}},
    ]
)
CONTEXT_VALUES = st.one_of(
    st.sampled_from(["d-1", "d-2", "alice", "10.1.2.3", "192.0.2.1", "3", "7", "x", ""]),
    st.sampled_from(["2026-06-01T00:00:00Z", "2025-06-01T00:00:00Z"]),
    st.lists(st.sampled_from(["env", "team", "cost"]), max_size=3),
    st.text(max_size=8),
)


def one_or_many(values: list[str]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(values), st.lists(st.sampled_from(values), min_size=1, max_size=3)
    )


@st.composite
def statements(draw: st.DrawFn) -> dict[str, Any]:
    stmt: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow", "Deny"]))}
    stmt["NotAction" if draw(st.booleans()) else "Action"] = draw(one_or_many(ACTION_PATTERNS))
    stmt["NotResource" if draw(st.booleans()) else "Resource"] = draw(
        one_or_many(RESOURCE_PATTERNS)
    )
    if draw(st.booleans()):
        stmt["Condition"] = draw(CONDITIONS)
    return stmt


def policies(max_statements: int = 4) -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda s: {"Version": "2012-10-17", "Statement": s},
        st.lists(statements(), max_size=max_statements),
    )


contexts = st.dictionaries(st.sampled_from(KEYS), CONTEXT_VALUES, max_size=4)


@settings(max_examples=300, deadline=None)
@given(
    identity=st.lists(policies(), max_size=3),
    session=st.one_of(st.none(), policies()),
    action=st.sampled_from(ACTIONS),
    resource=st.sampled_from(REQUEST_RESOURCES),
    context=contexts,
)
def test_never_crashes_and_deny_wins(
    identity: list[dict[str, Any]],
    session: dict[str, Any] | None,
    action: str,
    resource: str,
    context: dict[str, Any],
) -> None:
    decision = explain(identity, session, action, resource, context)
    assert decision.verdict in set(Verdict)
    if decision.verdict is Verdict.ALLOW:
        # The intersection: both sides allow on their own.
        assert evaluate(identity, None, action, resource, context) is Verdict.ALLOW
        if session is not None:
            assert evaluate([session], None, action, resource, context) is Verdict.ALLOW

    exact_deny = {"Effect": "Deny", "Action": action, "Resource": resource}
    denied = [*identity, {"Version": "2012-10-17", "Statement": [exact_deny]}]
    assert evaluate(denied, session, action, resource, context) is Verdict.EXPLICIT_DENY
    if session is not None:
        with_deny = {**session, "Statement": [*session["Statement"], exact_deny]}
        assert evaluate(identity, with_deny, action, resource, context) is Verdict.EXPLICIT_DENY
    deny_all = {
        "Version": "2012-10-17",
        "Statement": {"Effect": "Deny", "Action": "*", "Resource": "*"},
    }
    assert evaluate([deny_all, *identity], session, action, resource, context) is (
        Verdict.EXPLICIT_DENY
    )


@settings(max_examples=200, deadline=None)
@given(
    identity=st.lists(policies(), min_size=1, max_size=2),
    action=st.sampled_from(ACTIONS),
    resource=st.sampled_from(REQUEST_RESOURCES),
    context=contexts,
)
def test_allow_all_session_changes_nothing(
    identity: list[dict[str, Any]], action: str, resource: str, context: dict[str, Any]
) -> None:
    open_session = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    assert evaluate(identity, open_session, action, resource, context) is evaluate(
        identity, None, action, resource, context
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=12,
)
STATEMENT_KEYS = ["Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"]


@st.composite
def junk_documents(draw: st.DrawFn) -> Any:
    if draw(st.booleans()):
        return draw(json_values)
    stmt = draw(
        st.dictionaries(
            st.sampled_from(STATEMENT_KEYS),
            st.one_of(
                json_values,
                st.sampled_from(["Allow", "Deny", "*", "iam:Get*"]),
                st.dictionaries(
                    st.sampled_from(
                        [
                            "StringEquals",
                            "ForAnyValue:StringLike",
                            "Null",
                            "NumericLessThan",
                            "DateLessThan",
                            "IpAddress",
                            "Bogus",
                        ]
                    ),
                    st.dictionaries(st.text(max_size=5), json_values, max_size=2),
                    max_size=2,
                ),
            ),
        )
    )
    return {
        "Version": draw(st.sampled_from(["2012-10-17", "2008-10-17", "x"])),
        "Statement": [stmt],
    }


@settings(max_examples=400, deadline=None)
@given(doc=junk_documents(), context=contexts)
def test_junk_documents_raise_only_policy_error(doc: Any, context: dict[str, Any]) -> None:
    try:
        parse_policy(doc)
    except PolicyError:
        return
    assert evaluate([doc], doc, "iam:GetRole", RESOURCES[0], context) in set(Verdict)
