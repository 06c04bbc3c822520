"""What a credential backend does: issue scoped, short-lived credentials for one decision,
maintain the revocation deny-list, and tell which identity policies the role carries.

Implementations: `StsBackend` (AWS STS and IAM through boto3) and `LocalBackend` (no cloud,
for the embedded demo). The backend never decides anything and never records anything.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

REVOCATION_POLICY_NAME = "RemitRevokedSessions"


@dataclass(frozen=True)
class GrantSpec:
    """Everything needed to mint one decision's credentials."""

    decision_id: str
    agent: str
    role_arn: str
    session_name: str
    duration_seconds: int
    session_policy_json: str
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Credentials:
    """Temporary AWS credentials. The secret parts are never logged or recorded."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    expiration: datetime
    assumed_role_arn: str = ""

    def __repr__(self) -> str:
        return (
            f"Credentials(access_key_id={self.access_key_id!r}, expiration={self.expiration!r}, …)"
        )


class BackendError(RuntimeError):
    """The cloud refused or failed; the message says which call and why."""


class GrantBackend(Protocol):
    """A source of scoped credentials."""

    name: str

    def issue(self, spec: GrantSpec) -> Credentials:
        """Mint credentials (raises BackendError)."""
        ...

    def set_revoked(
        self,
        role_arn: str,
        source_identities: Sequence[str],
        issued_before: datetime | None = None,
    ) -> None:
        """Make the role deny every session whose SourceIdentity is listed, and, with
        `issued_before`, every session issued before that time (nothing listed and no
        time removes the deny policy). Raises BackendError."""
        ...

    def identity_policies(self, role_arn: str) -> list[dict[str, Any]]:
        """The role's identity policy documents (managed and inline), for evaluation."""
        ...


MAX_DENY_POLICY_CHARS = 4096
"""The longest `RemitRevokedSessions` policy Remit writes, in characters without white
space (how AWS counts). A role's inline policies share 10,240 characters; this leaves
6,144 for the role's own."""


@dataclass(frozen=True)
class DenyList:
    """What a role's deny policy names: sessions by SourceIdentity, and optionally every
    session issued before a time (when the list would not fit)."""

    source_identities: tuple[str, ...]
    issued_before: datetime | None = None


def revocation_policy(
    source_identities: Sequence[str], issued_before: datetime | None = None
) -> dict[str, Any]:
    """The inline policy that denies everything to the listed sessions (and, with
    `issued_before`, to every session issued before then)."""
    statements: list[dict[str, Any]] = []
    if source_identities:
        statements.append(
            {
                "Sid": "RemitRevokedSessions",
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceIdentity": sorted(source_identities)}},
            }
        )
    if issued_before is not None:
        statements.append(
            {
                "Sid": "RemitRevokedBefore",
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {
                    "DateLessThan": {
                        "aws:TokenIssueTime": issued_before.astimezone(UTC).strftime(
                            "%Y-%m-%dT%H:%M:%SZ"
                        )
                    }
                },
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def policy_chars(document: dict[str, Any]) -> int:
    """A policy's size as AWS counts it: its JSON without white space."""
    return len(json.dumps(document, separators=(",", ":")))


def compact_revocations(revoked: Mapping[str, datetime]) -> DenyList:
    """The deny list for revoked sessions (decision id → when issued): every id while the
    policy fits `MAX_DENY_POLICY_CHARS`; past that, every session issued up to the newest
    revoked one is denied by time. That also cuts off live sessions of the role issued
    earlier that were not revoked: they fail closed (AccessDenied) and must ask again."""
    ids = tuple(sorted(revoked))
    if policy_chars(revocation_policy(ids)) <= MAX_DENY_POLICY_CHARS:
        return DenyList(ids)
    newest = max(revoked.values())
    cutoff = newest.replace(microsecond=0) + timedelta(seconds=2)
    return DenyList((), cutoff)
