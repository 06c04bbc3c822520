"""Snapshot the state a supported change will touch, plan its inverse, and run that plan.

`snapshot_and_plan` runs BEFORE the change: it reads (only reads) the current state with
the given boto3 session and returns a `RollbackPlan`. `execute` performs the plan's inverse
calls in order. All AWS traffic of the rollback package happens in these two functions;
the planning itself is pure (`remit.rollback.inverse`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from remit.rollback.inverse import plan_from_snapshot, policy_document_text, validate_parameters
from remit.rollback.model import (
    INVERSE_OPERATIONS,
    InverseCall,
    RollbackError,
    RollbackPlan,
)

__all__ = ["execute", "snapshot_and_plan"]

_NOT_FOUND = frozenset({"NoSuchEntity", "InvalidGroup.NotFound"})


def _code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


class _Reader:
    """Read-only AWS calls for a snapshot, with errors named after the call."""

    def __init__(self, session: Any, endpoint_url: str | None) -> None:
        self._session = session
        self._endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._session.client(service, endpoint_url=self._endpoint_url)
        return self._clients[service]

    def call(self, service: str, operation: str, **params: Any) -> dict[str, Any] | None:
        """The response, or None if the thing asked about does not exist."""
        try:
            response: dict[str, Any] = getattr(self.client(service), operation)(**params)
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                return None
            raise RollbackError(
                f"rollback: snapshot read {service}.{operation} failed: {exc}"
            ) from exc
        except BotoCoreError as exc:
            raise RollbackError(
                f"rollback: snapshot read {service}.{operation} failed: {exc}"
            ) from exc
        return response

    def pages(self, service: str, operation: str, **params: Any) -> Iterator[dict[str, Any]]:
        try:
            yield from self.client(service).get_paginator(operation).paginate(**params)
        except (ClientError, BotoCoreError) as exc:
            raise RollbackError(
                f"rollback: snapshot read {service}.{operation} failed: {exc}"
            ) from exc

    @property
    def region(self) -> str:
        return str(self.client("ec2").meta.region_name)

    def partition(self, region: str) -> str:
        try:
            return str(self._session.get_partition_for_region(region))
        except Exception:  # an unknown region: assume the commercial partition
            return "aws"


def _role_state(reader: _Reader, role_name: str) -> dict[str, Any]:
    got = reader.call("iam", "get_role", RoleName=role_name)
    if got is None:
        return {"role_name": role_name, "role_exists": False, "role_arn": None}
    return {"role_name": role_name, "role_exists": True, "role_arn": got["Role"]["Arn"]}


def _snap_attached(reader: _Reader, params: dict[str, Any]) -> dict[str, Any]:
    snap = _role_state(reader, params["RoleName"])
    arns: list[str] = []
    if snap["role_exists"]:
        for page in reader.pages("iam", "list_attached_role_policies", RoleName=params["RoleName"]):
            arns.extend(p["PolicyArn"] for p in page.get("AttachedPolicies", []))
    snap["attached_policy_arns"] = arns
    return snap


def _snap_inline(reader: _Reader, params: dict[str, Any]) -> dict[str, Any]:
    snap = _role_state(reader, params["RoleName"])
    snap.update({"policy_name": params["PolicyName"], "existed": False, "policy_document": None})
    if snap["role_exists"]:
        got = reader.call(
            "iam", "get_role_policy", RoleName=params["RoleName"], PolicyName=params["PolicyName"]
        )
        if got is not None:
            snap["existed"] = True
            snap["policy_document"] = policy_document_text(got["PolicyDocument"])
    return snap


def _snap_access_key(reader: _Reader, params: dict[str, Any]) -> dict[str, Any]:
    key_id = params["AccessKeyId"]
    user = params.get("UserName")
    snap: dict[str, Any] = {
        "user_name": user,
        "user_exists": None,
        "user_arn": None,
        "access_key_id": key_id,
        "key_found": False,
        "status": None,
    }
    if not user:  # AWS would act on the caller's key; find whose key it is
        last_used = reader.call("iam", "get_access_key_last_used", AccessKeyId=key_id)
        if last_used is None or not last_used.get("UserName"):
            return snap
        user = snap["user_name"] = last_used["UserName"]
    got = reader.call("iam", "get_user", UserName=user)
    snap["user_exists"] = got is not None
    if got is None:
        return snap
    snap["user_arn"] = got["User"]["Arn"]
    for page in reader.pages("iam", "list_access_keys", UserName=user):
        for key in page.get("AccessKeyMetadata", []):
            if key.get("AccessKeyId") == key_id:
                snap["key_found"] = True
                snap["status"] = key.get("Status")
    return snap


def _snap_ingress(reader: _Reader, params: dict[str, Any]) -> dict[str, Any]:
    group_id = params["GroupId"]
    snap: dict[str, Any] = {"group_id": group_id, "group_exists": False, "group_arn": None}
    got = reader.call("ec2", "describe_security_groups", GroupIds=[group_id])
    groups = (got or {}).get("SecurityGroups", [])
    if not groups:
        return snap
    group = groups[0]
    region = reader.region
    owner = group.get("OwnerId", "")
    snap.update(
        {
            "group_exists": True,
            "group_arn": (
                f"arn:{reader.partition(region)}:ec2:{region}:{owner}:security-group/{group_id}"
            ),
            "owner_id": owner,
            "vpc_id": group.get("VpcId"),
            "ip_permissions": group.get("IpPermissions", []),
        }
    )
    return snap


_SNAPSHOTS: dict[str, Callable[[_Reader, dict[str, Any]], dict[str, Any]]] = {
    "iam:AttachRolePolicy": _snap_attached,
    "iam:DetachRolePolicy": _snap_attached,
    "iam:PutRolePolicy": _snap_inline,
    "iam:DeleteRolePolicy": _snap_inline,
    "iam:UpdateAccessKey": _snap_access_key,
    "ec2:AuthorizeSecurityGroupIngress": _snap_ingress,
    "ec2:RevokeSecurityGroupIngress": _snap_ingress,
}


def snapshot_and_plan(
    action: str,
    parameters: dict[str, Any],
    session: Any,
    endpoint_url: str | None,
) -> RollbackPlan:
    """Read what `action` with `parameters` will change and plan how to undo it.

    Call it before the change. `session` is a boto3 Session allowed to read the state;
    `endpoint_url` goes to every client (None: AWS's own endpoints).

    Raises RollbackUnavailable for an unsupported action, ValueError naming a missing or
    ill-typed parameter, RollbackError if a read fails (other than "not found", which gives
    an empty plan with a note)."""
    name, params = validate_parameters(action, parameters)
    snapshot = _SNAPSHOTS[name](_Reader(session, endpoint_url), params)
    return plan_from_snapshot(name, params, snapshot)


def execute(plan: RollbackPlan, session: Any, endpoint_url: str | None) -> list[dict[str, Any]]:
    """Perform the plan's inverse calls in order; one result per call:
    {"action", "operation", "resource", "request_id", "http_status"}.

    Stops at the first failure with RollbackError naming the call (its `completed` holds the
    results of the calls that did run)."""
    clients: dict[str, Any] = {}
    results: list[dict[str, Any]] = []
    total = len(plan.calls)
    for index, call in enumerate(plan.calls, start=1):
        _check_call(call)
        if call.service not in clients:
            clients[call.service] = session.client(call.service, endpoint_url=endpoint_url)
        method = getattr(clients[call.service], call.operation)
        try:
            response = method(**copy.deepcopy(call.params))
        except (ClientError, BotoCoreError) as exc:
            raise RollbackError(
                f"rollback: call {index}/{total} {call.action} on {call.resource} failed: {exc}",
                completed=results,
            ) from exc
        meta = response.get("ResponseMetadata", {}) if isinstance(response, dict) else {}
        results.append(
            {
                "action": call.action,
                "operation": call.operation,
                "resource": call.resource,
                "request_id": str(meta.get("RequestId", "")),
                "http_status": meta.get("HTTPStatusCode"),
            }
        )
    return results


def _check_call(call: InverseCall) -> None:
    """Only the inverse operations Remit plans may run (a plan may come off a ledger)."""
    if INVERSE_OPERATIONS.get(call.action) != (call.service, call.operation):
        raise RollbackError(f"rollback: refusing {call.service}.{call.operation} ({call.action})")
