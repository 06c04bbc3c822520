"""The decision sessions c7n acts with: a call is signed with the credentials of the
decision that covers its operation (and, for an exact-call decision, its parameters); any
other call is refused before it is signed or sent. Requests are caught at botocore's
`before-send`, after signing, so nothing leaves the process."""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.credentials import Credentials

from remit.aws.moto_server import free_port
from remit.custodian.sessions import DecisionSessions, NoDecision, Route


class _Sent:
    """Answers every request with an empty 200 and keeps its access key."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        auth = request.headers.get("Authorization", b"")
        auth = auth.decode() if isinstance(auth, bytes) else auth
        m = re.search(r"Credential=([A-Z0-9]+)/", auth)
        self.keys.append(m.group(1) if m else "")
        body = (
            b"<DeleteRoleResponse><ResponseMetadata><RequestId>r-1</RequestId>"
            b"</ResponseMetadata></DeleteRoleResponse>"
        )
        return AWSResponse(request.url, 200, {}, _Raw(body))


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


def _sessions() -> DecisionSessions:
    role = Route("d-role", Credentials("ASIAROLEDECISION", "s", "t"))
    detach = Route(
        "d-detach",
        Credentials("ASIADETACHDECISN", "s", "t"),
        {"RoleName": "stale-ci", "PolicyArn": "arn:aws:iam::aws:policy/A"},
    )
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens: a sent request fails
    return DecisionSessions(
        {"iam:DeleteRole": [role], "iam:DetachRolePolicy": [detach]}, "us-east-1", endpoint
    )


def test_a_covered_call_is_signed_with_its_decisions_key() -> None:
    sessions = _sessions()
    session = sessions()
    sent = _Sent()
    session.events.register("before-send", sent)
    iam = session.client("iam")
    iam.delete_role(RoleName="stale-ci")
    iam.detach_role_policy(RoleName="stale-ci", PolicyArn="arn:aws:iam::aws:policy/A")
    assert sent.keys == ["ASIAROLEDECISION", "ASIADETACHDECISN"]
    assert sessions.request_ids["d-role"] == ["r-1"]


@pytest.mark.parametrize(
    ("call", "kwargs"),
    [
        ("delete_role_policy", {"RoleName": "stale-ci", "PolicyName": "p"}),  # no decision
        ("detach_role_policy", {"RoleName": "stale-ci", "PolicyArn": "arn:aws:iam::aws:policy/B"}),
        ("detach_role_policy", {"RoleName": "other", "PolicyArn": "arn:aws:iam::aws:policy/A"}),
    ],
)
def test_an_uncovered_call_is_refused_before_it_is_sent(call: str, kwargs: dict[str, str]) -> None:
    sessions = _sessions()
    session = sessions()
    sent = _Sent()
    session.events.register("before-send", sent)
    with pytest.raises(NoDecision, match="not covered by an allowed decision"):
        getattr(session.client("iam"), call)(**kwargs)
    assert sent.keys == []
    assert sessions.refused
