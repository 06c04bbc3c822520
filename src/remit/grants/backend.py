"""What a credential backend does: issue scoped, short-lived credentials for one decision,
maintain the revocation deny-list, and tell which identity policies the role carries.

Implementations: `StsBackend` (AWS STS and IAM through boto3) and `LocalBackend` (no cloud,
for the embedded demo). The backend never decides anything and never records anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
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

    def set_revoked(self, role_arn: str, source_identities: Sequence[str]) -> None:
        """Make the role deny every session whose SourceIdentity is listed (an empty list
        removes the deny policy). Raises BackendError."""
        ...

    def identity_policies(self, role_arn: str) -> list[dict[str, Any]]:
        """The role's identity policy documents (managed and inline), for evaluation."""
        ...


def revocation_policy(source_identities: Sequence[str]) -> dict[str, Any]:
    """The inline policy that denies everything to the listed sessions."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "RemitRevokedSessions",
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceIdentity": sorted(source_identities)}},
            }
        ],
    }
