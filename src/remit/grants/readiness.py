"""Whether the STS broker can do its job: it has AWS credentials, and it can assume each
agent's execution role the way a grant assumes it (SourceIdentity and session tags).
One implementation, used by `remit doctor` and by the service's /readyz; `CachedBrokerCheck`
keeps a recent answer so readiness probes do not call STS every time.

It issues no grant and records nothing; the credentials it obtains are dropped at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from remit.grants.sts import role_name

CHECK_SESSION = "remit-readiness"
"""RoleSessionName and SourceIdentity of the check's sessions (CloudTrail shows them)."""

TRUST_FIX = (
    "its trust policy must allow the broker sts:AssumeRole, sts:SetSourceIdentity and "
    "sts:TagSession, and the broker policy must allow them on it (docs/aws-setup.md)"
)


class HasExecutionRole(Protocol):
    @property
    def execution_role(self) -> str | None: ...


@dataclass(frozen=True)
class BrokerCheck:
    """One finding: what was checked (`aws credentials` or `agent <id>`), whether it
    passed, what was seen, and what to do when it did not pass."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    agent: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"check": self.name, "ok": self.ok, "detail": self.detail}
        if not self.ok:
            out["fix"] = self.fix
        if self.agent is not None:
            out["agent"] = self.agent
        return out


def check_broker(
    session: Any,
    region: str,
    endpoint_url: str | None,
    agents: Mapping[str, HasExecutionRole],
) -> list[BrokerCheck]:
    """The broker's credentials, then each agent's execution role (sorted by agent id):
    the role exists (when it is in the broker's own account, by iam:GetRole) and
    sts:AssumeRole with SourceIdentity and a session tag succeeds, as grants call it."""
    try:
        sts = session.client("sts", endpoint_url=endpoint_url, region_name=region)
        iam = session.client("iam", endpoint_url=endpoint_url, region_name=region)
        me = sts.get_caller_identity()
    except (BotoCoreError, ClientError) as exc:
        return [
            BrokerCheck(
                "aws credentials",
                False,
                str(exc),
                "give the broker AWS credentials (docs/aws-setup.md, broker policy)",
            )
        ]
    checks = [BrokerCheck("aws credentials", True, f"as {me.get('Arn')}")]
    account = str(me.get("Account", ""))
    for agent_id, agent in sorted(agents.items()):
        checks.append(_check_role(sts, iam, account, agent_id, agent.execution_role))
    return checks


def _check_role(sts: Any, iam: Any, account: str, agent_id: str, role: str | None) -> BrokerCheck:
    name = f"agent {agent_id}"
    if not role:
        return BrokerCheck(
            name,
            False,
            "no execution_role: grants for it fail",
            "add agents.<id>.execution_role (a role the broker may assume)",
            agent_id,
        )
    if role.split(":")[4:5] == [account]:  # in the broker's account: say plainly if it is missing
        try:
            iam.get_role(RoleName=role_name(role))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchEntity":
                return BrokerCheck(
                    name,
                    False,
                    f"execution role {role} does not exist",
                    "create it (docs/aws-setup.md) or correct agents.<id>.execution_role",
                    agent_id,
                )
            # no iam:GetRole permission: the AssumeRole below is the check that matters
        except BotoCoreError as exc:
            return BrokerCheck(name, False, f"cannot reach IAM: {exc}", TRUST_FIX, agent_id)
    try:
        sts.assume_role(
            RoleArn=role,
            RoleSessionName=CHECK_SESSION,
            DurationSeconds=900,
            SourceIdentity=CHECK_SESSION,
            Tags=[{"Key": "remit-check", "Value": "readiness"}],
        )
    except (BotoCoreError, ClientError) as exc:
        return BrokerCheck(name, False, f"cannot assume {role}: {exc}", TRUST_FIX, agent_id)
    return BrokerCheck(name, True, f"can assume {role}", agent=agent_id)


class CachedBrokerCheck:
    """`check_broker` for a service, remembered for `ttl` seconds after a pass and
    `retry_after` seconds after a failure (so a fixed role shows soon), and again when the
    set of agents and roles changes (a reloaded envelope). Safe to call from threads; one
    caller runs the check while the others wait for its answer."""

    def __init__(
        self,
        session: Any,
        region: str,
        endpoint_url: str | None,
        *,
        ttl: float = 30.0,
        retry_after: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session
        self._region = region
        self._endpoint_url = endpoint_url
        self._ttl = ttl
        self._retry_after = retry_after
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._key: tuple[tuple[str, str | None], ...] | None = None
        self._checks: list[BrokerCheck] = []
        self._until = 0.0
        self.runs = 0
        """How many times STS was actually asked (for tests and metrics)."""

    def current(self, agents: Mapping[str, HasExecutionRole]) -> list[BrokerCheck]:
        key = tuple(sorted((a, agent.execution_role) for a, agent in agents.items()))
        with self._lock:
            now = self._monotonic()
            if key != self._key or now >= self._until:
                self._checks = check_broker(self._session, self._region, self._endpoint_url, agents)
                self.runs += 1
                self._key = key
                passed = all(c.ok for c in self._checks)
                self._until = self._monotonic() + (self._ttl if passed else self._retry_after)
            return list(self._checks)
