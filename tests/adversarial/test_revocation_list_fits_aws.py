"""Issue 11, finding 7 (second half): after ~330 revocations within a session lifetime on
one role, the `RemitRevokedSessions` policy grew past AWS's 10,240-character limit for a
role's inline policies (moto does not enforce it), so revocations would silently stop
applying. The deny list never exceeds `MAX_DENY_POLICY_CHARS`: past it, every session
of the role issued up to the newest revoked one is denied by issue time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from remit.domain.ids import new_id
from remit.grants.backend import (
    MAX_DENY_POLICY_CHARS,
    compact_revocations,
    policy_chars,
    revocation_policy,
)
from remit.grants.iam_eval import Verdict, evaluate
from remit.grants.policy import session_policy

ROLE = "arn:aws:iam::111122223333:role/legacy-batch"
ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def _revoked(n: int) -> dict[str, datetime]:
    return {new_id("dec", T0 + timedelta(seconds=i)): T0 + timedelta(seconds=i) for i in range(n)}


def _verdict(deny: dict[str, object], source_identity: str, issued: datetime) -> Verdict:
    session = session_policy(["iam:DetachRolePolicy"], [ROLE])
    ctx = {
        "aws:SourceIdentity": source_identity,
        "aws:TokenIssueTime": issued.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return evaluate([ALLOW_ALL, deny], session, "iam:DetachRolePolicy", ROLE, ctx)


def test_a_short_list_names_each_session() -> None:
    revoked = _revoked(20)
    deny = compact_revocations(revoked)
    assert deny.issued_before is None and set(deny.source_identities) == set(revoked)


def test_a_long_list_never_outgrows_the_limit_and_still_denies_every_revoked_session() -> None:
    revoked = _revoked(1000)
    assert policy_chars(revocation_policy(sorted(revoked))) > 10_240  # the finding
    deny = compact_revocations(revoked)
    doc = revocation_policy(deny.source_identities, deny.issued_before)
    assert policy_chars(doc) <= MAX_DENY_POLICY_CHARS
    for did, issued in revoked.items():
        assert _verdict(doc, did, issued) is Verdict.EXPLICIT_DENY, did
    # a session issued after the cut-off is not touched
    later = max(revoked.values()) + timedelta(minutes=1)
    assert _verdict(doc, "dec_fresh", later) is Verdict.ALLOW


def test_every_size_up_to_the_limit_fits() -> None:
    for n in (1, 50, 100, 110, 120, 130, 200, 400):
        deny = compact_revocations(_revoked(n))
        assert policy_chars(revocation_policy(deny.source_identities, deny.issued_before)) <= (
            MAX_DENY_POLICY_CHARS
        ), n
