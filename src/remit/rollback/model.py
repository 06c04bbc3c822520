"""Rollback plans as data: the inverse calls that undo one supported change, with the
snapshot they were computed from. JSON-safe both ways so a plan can sit on the ledger.

Pure: no AWS calls here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from remit.domain.reversibility import ROLLBACK_ACTIONS

SUPPORTED_ACTIONS = ROLLBACK_ACTIONS
"""Mutating actions whose effect Remit can snapshot and undo (one list, in the domain)."""

_CANONICAL = {name.lower(): name for name in SUPPORTED_ACTIONS}

INVERSE_OPERATIONS: Mapping[str, tuple[str, str]] = {
    "iam:AttachRolePolicy": ("iam", "attach_role_policy"),
    "iam:DetachRolePolicy": ("iam", "detach_role_policy"),
    "iam:PutRolePolicy": ("iam", "put_role_policy"),
    "iam:DeleteRolePolicy": ("iam", "delete_role_policy"),
    "iam:UpdateAccessKey": ("iam", "update_access_key"),
    "ec2:AuthorizeSecurityGroupIngress": ("ec2", "authorize_security_group_ingress"),
    "ec2:RevokeSecurityGroupIngress": ("ec2", "revoke_security_group_ingress"),
}
"""The only calls a plan may contain: action -> (boto3 service, boto3 method). A plan read
back from a ledger is checked against this before anything runs."""

PLAN_FORMAT = "remit.rollback.plan/1"


class RollbackUnavailable(ValueError):
    """Remit cannot undo this action."""


class RollbackError(RuntimeError):
    """Reading the state to snapshot, or performing an inverse call, failed.

    `completed` holds the results of the inverse calls that did succeed before the
    failure (empty for snapshot failures)."""

    def __init__(self, message: str, completed: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.completed: list[dict[str, Any]] = list(completed or [])


def supports(action: str) -> bool:
    """Whether `action` (e.g. "iam:DetachRolePolicy", any case) can be rolled back."""
    return isinstance(action, str) and action.strip().lower() in _CANONICAL


def canonical_action(action: str) -> str:
    """The supported spelling of `action`, e.g. "iam:detachrolepolicy" ->
    "iam:DetachRolePolicy"; RollbackUnavailable if it is not supported."""
    if not supports(action):
        raise RollbackUnavailable(f"rollback: unavailable for {action}")
    return _CANONICAL[action.strip().lower()]


def json_safe(value: Any, what: str) -> Any:
    """A deep copy of `value` made of JSON types only; ValueError naming `what` if it
    holds anything else (datetimes, bytes, non-string keys...)."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"rollback: {what} is not JSON-safe: {exc}") from exc


def _require_str(data: Mapping[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ValueError(f"rollback: {where} needs a string {key!r}")
    return value


def _require_dict(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise ValueError(f"rollback: {where} needs an object {key!r}")
    return value


@dataclass(frozen=True)
class InverseCall:
    """One AWS call of a rollback plan."""

    action: str
    """IAM action name of the call, e.g. "iam:AttachRolePolicy"."""
    service: str
    """boto3 service name, e.g. "iam"."""
    operation: str
    """boto3 client method, e.g. "attach_role_policy"."""
    params: dict[str, Any]
    """AWS API parameters, e.g. {"RoleName": ..., "PolicyArn": ...}."""
    resource: str
    """ARN of what the call touches."""

    def __post_init__(self) -> None:
        expected = INVERSE_OPERATIONS.get(self.action)
        if expected is None:
            raise ValueError(f"rollback: {self.action!r} is not an inverse call Remit makes")
        if (self.service, self.operation) != expected:
            raise ValueError(
                f"rollback: {self.action} is {expected[0]}.{expected[1]}, "
                f"not {self.service}.{self.operation}"
            )

    @classmethod
    def of(cls, action: str, params: dict[str, Any], resource: str) -> InverseCall:
        service, operation = INVERSE_OPERATIONS[action]
        return cls(action, service, operation, params, resource)

    def to_dict(self) -> dict[str, Any]:
        data = {
            "action": self.action,
            "service": self.service,
            "operation": self.operation,
            "params": self.params,
            "resource": self.resource,
        }
        result: dict[str, Any] = json_safe(data, f"inverse call {self.action}")
        return result

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InverseCall:
        where = "inverse call"
        return cls(
            action=_require_str(data, "action", where),
            service=_require_str(data, "service", where),
            operation=_require_str(data, "operation", where),
            params=json_safe(_require_dict(data, "params", where), "inverse call params"),
            resource=_require_str(data, "resource", where),
        )


@dataclass(frozen=True)
class RollbackPlan:
    """How to undo one change: taken before the change runs.

    `calls` run in order; an empty `calls` means there is nothing to undo (the change
    would be a no-op or fail), and `note` says why."""

    action: str
    parameters: dict[str, Any]
    snapshot: dict[str, Any]
    calls: tuple[InverseCall, ...] = field(default_factory=tuple)
    note: str = ""

    @property
    def empty(self) -> bool:
        return not self.calls

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = json_safe(
            {
                "format": PLAN_FORMAT,
                "action": self.action,
                "parameters": self.parameters,
                "snapshot": self.snapshot,
                "note": self.note,
            },
            f"rollback plan for {self.action}",
        )
        data["calls"] = [call.to_dict() for call in self.calls]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RollbackPlan:
        if not isinstance(data, Mapping):
            raise ValueError("rollback: a plan must be an object")
        fmt = data.get("format", PLAN_FORMAT)
        if fmt != PLAN_FORMAT:
            raise ValueError(f"rollback: unknown plan format {fmt!r}")
        where = "rollback plan"
        calls = data.get("calls")
        if not isinstance(calls, list) or not all(isinstance(c, Mapping) for c in calls):
            raise ValueError("rollback: rollback plan needs a list 'calls'")
        note = data.get("note", "")
        if not isinstance(note, str):
            raise ValueError("rollback: rollback plan needs a string 'note'")
        return cls(
            action=canonical_action(_require_str(data, "action", where)),
            parameters=json_safe(_require_dict(data, "parameters", where), "plan parameters"),
            snapshot=json_safe(_require_dict(data, "snapshot", where), "plan snapshot"),
            calls=tuple(InverseCall.from_dict(c) for c in calls),
            note=note,
        )
