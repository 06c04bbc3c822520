"""A credential backend with no cloud behind it, for the embedded demo and for running
Remit where no AWS endpoint is configured. It mints credentials in the AWS format that
work nowhere, keeps the revocation list in memory, and reports the identity policies it
was configured with. Everything Remit records about a grant is the same as with STS.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from remit.domain.clock import Clock, utcnow
from remit.grants.backend import Credentials, GrantSpec

_ALNUM = string.ascii_uppercase + string.digits


class LocalBackend:
    """Credentials for nowhere; the same contract as `StsBackend`."""

    name = "local"

    def __init__(
        self,
        identity_policies: dict[str, list[dict[str, Any]]] | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self._policies = identity_policies or {}
        self._clock = clock
        self.revoked: dict[str, list[str]] = {}
        self.revoked_before: dict[str, datetime | None] = {}

    def issue(self, spec: GrantSpec) -> Credentials:
        key = "ASIA" + "".join(secrets.choice(_ALNUM) for _ in range(16))
        return Credentials(
            key,
            secrets.token_urlsafe(30),
            secrets.token_urlsafe(96),
            self._clock() + timedelta(seconds=spec.duration_seconds),
            f"{spec.role_arn.replace(':role/', ':assumed-role/')}/{spec.session_name}",
        )

    def set_revoked(
        self,
        role_arn: str,
        source_identities: Sequence[str],
        issued_before: datetime | None = None,
    ) -> None:
        self.revoked[role_arn] = sorted(source_identities)
        self.revoked_before[role_arn] = issued_before

    def identity_policies(self, role_arn: str) -> list[dict[str, Any]]:
        if role_arn in self._policies:
            return self._policies[role_arn]
        # Unknown role: assume it may do anything, so the session policy alone bounds it.
        return [
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
            }
        ]
