"""The resource ARNs a CloudTrail event touched: from its `resources` list when it has
one, else from its request parameters for IAM, S3, EC2, Lambda and KMS. Elsewhere none
are derived, and the event's scope is checked at action level (callers say so).

Pure: no I/O. Works on parsed JSON (dicts and lists); request parameters are read
case-insensitively.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

DERIVED_SERVICES: Final = frozenset({"iam", "s3", "ec2", "lambda", "kms"})
"""Services whose resources are derived from request parameters."""

_EC2_IDS: Final[dict[str, str]] = {
    "instanceid": "instance",
    "volumeid": "volume",
    "snapshotid": "snapshot",
    "imageid": "image",
    "groupid": "security-group",
    "vpcid": "vpc",
    "subnetid": "subnet",
    "networkinterfaceid": "network-interface",
    "keyname": "key-pair",
    "flowlogid": "vpc-flow-log",
}
_EC2_PREFIX: Final[dict[str, str]] = {
    "i-": "instance",
    "vol-": "volume",
    "snap-": "snapshot",
    "ami-": "image",
    "sg-": "security-group",
    "vpc-": "vpc",
    "subnet-": "subnet",
    "eni-": "network-interface",
    "fl-": "vpc-flow-log",
}
_IAM: Final[dict[str, str]] = {
    "rolename": "role",
    "username": "user",
    "groupname": "group",
    "instanceprofilename": "instance-profile",
}


def derive_resources(
    listed: Any, params: Any, action: str | None, region: str | None, account: str | None
) -> tuple[str, ...]:
    """The ARNs the event names (`listed`: its `resources`; `params`: its request
    parameters), sorted, without duplicates (empty: action level only)."""
    found: set[str] = set()
    if isinstance(listed, list):
        for item in listed:
            if isinstance(item, dict):
                arn = _get(item, "arn")
                if isinstance(arn, str) and arn.startswith("arn:"):
                    found.add(arn)
    if not found and action and isinstance(params, dict):
        derive = _DERIVERS.get(action.split(":", 1)[0])
        if derive is not None:
            found.update(derive(params, region or "", account or ""))
    return tuple(sorted(found))


def _get(m: Mapping[str, Any], key: str) -> Any:
    for k, v in m.items():
        if str(k).lower() == key:
            return v
    return None


def _walk(value: Any, depth: int = 0) -> Iterator[tuple[str, Any]]:
    """Every (lower-cased key, value) pair in nested parameters (bounded depth)."""
    if depth > 4:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k).lower(), v
            yield from _walk(v, depth + 1)
    elif isinstance(value, list):
        for v in value[:200]:
            yield from _walk(v, depth + 1)


def _s3(params: Mapping[str, Any], region: str, account: str) -> Iterator[str]:
    bucket = _get(params, "bucketname")
    if not isinstance(bucket, str) or not bucket:
        return
    key = _get(params, "key")
    if isinstance(key, str) and key:
        yield f"arn:aws:s3:::{bucket}/{key}"
    else:
        yield f"arn:aws:s3:::{bucket}"


def _iam(params: Mapping[str, Any], region: str, account: str) -> Iterator[str]:
    """Users, roles, groups and instance profiles by name; a managed policy's ARN only
    when the call names no principal (AttachRolePolicy is authorized on the role)."""
    named = [
        f"arn:aws:iam::{account}:{_IAM[str(k).lower()]}/{v}"
        for k, v in params.items()
        if str(k).lower() in _IAM and isinstance(v, str) and v
    ]
    yield from named
    policy = _get(params, "policyarn")
    if not named and isinstance(policy, str) and policy.startswith("arn:"):
        yield policy


def _ec2(params: Mapping[str, Any], region: str, account: str) -> Iterator[str]:
    for k, value in _walk(params):
        if not isinstance(value, str) or not value:
            continue
        kind = _EC2_IDS.get(k)
        if kind is None:
            continue
        if k == "groupid" and not value.startswith("sg-"):
            continue
        if k in ("imageid", "snapshotid"):  # public AMIs and snapshots have no owner here
            yield f"arn:aws:ec2:{region}::{kind}/{value}"
        else:
            yield f"arn:aws:ec2:{region}:{account}:{kind}/{value}"
    for _k, value in _walk(params):
        if isinstance(value, str) and _k == "resourceid":  # CreateTags etc.
            for prefix, kind in _EC2_PREFIX.items():
                if value.startswith(prefix):
                    yield f"arn:aws:ec2:{region}:{account}:{kind}/{value}"


def _lambda(params: Mapping[str, Any], region: str, account: str) -> Iterator[str]:
    name = _get(params, "functionname")
    if isinstance(name, str) and name:
        if name.startswith("arn:"):
            yield name
        else:
            yield f"arn:aws:lambda:{region}:{account}:function:{name}"
    layer = _get(params, "layername")
    if isinstance(layer, str) and layer:
        yield (
            layer
            if layer.startswith("arn:")
            else (f"arn:aws:lambda:{region}:{account}:layer:{layer}")
        )


def _kms(params: Mapping[str, Any], region: str, account: str) -> Iterator[str]:
    key = _get(params, "keyid")
    if not isinstance(key, str) or not key:
        return
    if key.startswith("arn:"):
        yield key
    elif key.startswith("alias/"):
        yield f"arn:aws:kms:{region}:{account}:{key}"
    else:
        yield f"arn:aws:kms:{region}:{account}:key/{key}"


_DERIVERS: Final[dict[str, Callable[[Mapping[str, Any], str, str], Iterator[str]]]] = {
    "s3": _s3,
    "iam": _iam,
    "ec2": _ec2,
    "lambda": _lambda,
    "kms": _kms,
}
