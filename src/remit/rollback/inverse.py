"""Pure parts of rollback: checking an action's parameters, and turning a snapshot of the
state a change will touch into the inverse calls. No AWS calls here — `plans` reads the
snapshot and runs the calls.

Snapshot shapes (all JSON):

- attach/detach role policy: {"role_name", "role_exists", "role_arn", "attached_policy_arns"}
- put/delete role policy: {"role_name", "role_exists", "role_arn", "policy_name", "existed",
  "policy_document"}  (document as JSON text, or null)
- update access key: {"user_name", "user_exists", "user_arn", "access_key_id", "key_found",
  "status"}
- security group ingress: {"group_id", "group_exists", "group_arn", "owner_id",
  "ip_permissions"}  (IpPermissions as DescribeSecurityGroups returned them)
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from remit.rollback.model import (
    InverseCall,
    RollbackPlan,
    canonical_action,
    json_safe,
)

ACCESS_KEY_STATUSES = frozenset({"Active", "Inactive"})

# -- parameter validation --------------------------------------------------------------------


def _need_str(params: Mapping[str, Any], name: str, action: str) -> str:
    if name not in params:
        raise ValueError(f"rollback: {action} needs parameter {name!r}")
    value = params[name]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            f"rollback: {action} parameter {name!r} must be a non-empty string, "
            f"got {type(value).__name__}"
        )
    return value


def _policy_document_text(value: Any, action: str) -> str:
    """PolicyDocument as JSON text (a dict is serialised); ValueError if it is neither a
    JSON object nor text holding one."""
    if isinstance(value, Mapping):
        return json.dumps(json_safe(dict(value), "parameter 'PolicyDocument'"))
    if isinstance(value, str) and value.strip():
        try:
            parsed = json.loads(value)
        except ValueError as exc:
            raise ValueError(
                f"rollback: {action} parameter 'PolicyDocument' is not valid JSON: {exc}"
            ) from exc
        if not isinstance(parsed, dict):
            raise ValueError(f"rollback: {action} parameter 'PolicyDocument' must be an object")
        return value
    raise ValueError(
        f"rollback: {action} parameter 'PolicyDocument' must be a JSON object or JSON text"
    )


def validate_parameters(action: str, parameters: Any) -> tuple[str, dict[str, Any]]:
    """The canonical action name and a checked, JSON-safe copy of its parameters.

    RollbackUnavailable for an unsupported action; ValueError naming the parameter that is
    missing or of the wrong type."""
    name = canonical_action(action)
    if not isinstance(parameters, Mapping):
        raise ValueError(f"rollback: {name} parameters must be an object")
    params = dict(parameters)
    if name in ("iam:AttachRolePolicy", "iam:DetachRolePolicy"):
        _need_str(params, "RoleName", name)
        arn = _need_str(params, "PolicyArn", name)
        if not arn.startswith("arn:"):
            raise ValueError(f"rollback: {name} parameter 'PolicyArn' must be an ARN")
    elif name == "iam:DeleteRolePolicy":
        _need_str(params, "RoleName", name)
        _need_str(params, "PolicyName", name)
    elif name == "iam:PutRolePolicy":
        _need_str(params, "RoleName", name)
        _need_str(params, "PolicyName", name)
        if "PolicyDocument" not in params:
            raise ValueError(f"rollback: {name} needs parameter 'PolicyDocument'")
        _policy_document_text(params["PolicyDocument"], name)
    elif name == "iam:UpdateAccessKey":
        _need_str(params, "AccessKeyId", name)
        status = _need_str(params, "Status", name)
        if status not in ACCESS_KEY_STATUSES:
            raise ValueError(f"rollback: {name} parameter 'Status' must be Active or Inactive")
        if "UserName" in params and params["UserName"] is not None:
            _need_str(params, "UserName", name)
    else:  # the two security group ingress actions
        if "GroupId" not in params and "GroupName" in params:
            raise ValueError(
                f"rollback: {name} needs parameter 'GroupId' (GroupName alone is not supported)"
            )
        _need_str(params, "GroupId", name)
        if "IpPermissions" not in params:
            raise ValueError(
                f"rollback: {name} needs parameter 'IpPermissions' (the CidrIp/IpProtocol "
                "shorthand and SecurityGroupRuleIds are not supported for rollback)"
            )
        requested_rules(params["IpPermissions"], name)
    return name, json_safe(params, f"{name} parameters")


# -- security group rules --------------------------------------------------------------------

_PROTOCOLS = {
    "-1": "-1",
    "all": "-1",
    "tcp": "tcp",
    "6": "tcp",
    "udp": "udp",
    "17": "udp",
    "icmp": "icmp",
    "1": "icmp",
    "icmpv6": "icmpv6",
    "58": "icmpv6",
}

# (list key in an IpPermission, the key that identifies an entry, rule kind)
_SOURCES = (
    ("IpRanges", "CidrIp", "ipv4"),
    ("Ipv6Ranges", "CidrIpv6", "ipv6"),
    ("PrefixListIds", "PrefixListId", "prefix"),
    ("UserIdGroupPairs", "GroupId", "group"),
)
_KEEP_IN_ENTRY = {
    "ipv4": ("CidrIp", "Description"),
    "ipv6": ("CidrIpv6", "Description"),
    "prefix": ("PrefixListId", "Description"),
    "group": ("GroupId", "UserId", "Description"),
}


def normalize_protocol(protocol: str) -> str:
    p = protocol.strip().lower()
    return _PROTOCOLS.get(p, p)


@dataclass(frozen=True)
class IngressRule:
    """One ingress rule: a protocol and port range from one source (a CIDR, a prefix list,
    or a security group). `entry` is the source object as it goes into an IpPermission."""

    protocol: str
    from_port: int | None
    to_port: int | None
    kind: str
    ident: str
    entry: tuple[tuple[str, str], ...]

    @property
    def key(self) -> tuple[str, int | None, int | None, str, str]:
        return (self.protocol, self.from_port, self.to_port, self.kind, self.ident)


def _ident(kind: str, value: str) -> str:
    if kind == "ipv4":
        return str(ipaddress.IPv4Network(value, strict=False))
    if kind == "ipv6":
        return str(ipaddress.IPv6Network(value, strict=False))
    return value


def _port(perm: Mapping[str, Any], name: str, where: str, strict: bool) -> int | None:
    value = perm.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        if strict:
            raise ValueError(f"rollback: {where}.{name} must be an integer")
        return None
    return value


def _rules(
    permissions: Any, action: str, *, strict: bool, owner_id: str | None = None
) -> list[IngressRule]:
    """Split IpPermissions into single rules. `strict` (a request) raises ValueError naming
    the offending element; otherwise (describe output) malformed parts are skipped."""
    where = "IpPermissions"

    def bad(message: str) -> None:
        if strict:
            raise ValueError(f"rollback: {action} parameter {message}")

    if not isinstance(permissions, list) or (strict and not permissions):
        bad(f"{where} must be a non-empty list")
        return []
    rules: list[IngressRule] = []
    for i, perm in enumerate(permissions):
        pwhere = f"{where}[{i}]"
        if not isinstance(perm, Mapping):
            bad(f"{pwhere} must be an object")
            continue
        raw_protocol = perm.get("IpProtocol")
        if not isinstance(raw_protocol, str) or not raw_protocol.strip():
            bad(f"{pwhere}.IpProtocol must be a non-empty string")
            continue
        protocol = normalize_protocol(raw_protocol)
        from_port = _port(perm, "FromPort", f"{action} parameter {pwhere}", strict)
        to_port = _port(perm, "ToPort", f"{action} parameter {pwhere}", strict)
        if protocol == "-1":
            from_port = to_port = None
        found = 0
        for list_key, id_key, kind in _SOURCES:
            entries = perm.get(list_key)
            if entries is None:
                continue
            if not isinstance(entries, list):
                bad(f"{pwhere}.{list_key} must be a list")
                continue
            for j, entry in enumerate(entries):
                ewhere = f"{pwhere}.{list_key}[{j}]"
                value = entry.get(id_key) if isinstance(entry, Mapping) else None
                if not isinstance(value, str) or not value:
                    bad(f"{ewhere}.{id_key} is required (a non-empty string)")
                    continue
                try:
                    ident = _ident(kind, value)
                except ValueError:
                    bad(f"{ewhere}.{id_key} is not a valid CIDR: {value!r}")
                    continue
                kept = {
                    k: v
                    for k, v in entry.items()
                    if k in _KEEP_IN_ENTRY[kind] and isinstance(v, str)
                }
                if strict:
                    kept = {k: v for k, v in entry.items() if isinstance(v, str)}
                elif kind == "group" and kept.get("UserId") in (None, owner_id):
                    kept.pop("UserId", None)  # same-account pairs need only the GroupId
                rules.append(
                    IngressRule(
                        protocol, from_port, to_port, kind, ident, tuple(sorted(kept.items()))
                    )
                )
                found += 1
        if strict and not found:
            bad(f"{pwhere} names no source (IpRanges, Ipv6Ranges, PrefixListIds, UserIdGroupPairs)")
    return rules


def requested_rules(permissions: Any, action: str = "request") -> list[IngressRule]:
    """The rules a request's IpPermissions name, checked strictly."""
    return _rules(permissions, action, strict=True)


def existing_rules(permissions: Any, owner_id: str | None = None) -> list[IngressRule]:
    """The rules in a DescribeSecurityGroups IpPermissions list."""
    return _rules(permissions, "describe", strict=False, owner_id=owner_id)


def to_ip_permissions(rules: Sequence[IngressRule]) -> list[dict[str, Any]]:
    """IpPermissions for `rules`, one entry per protocol and port range, in first-seen
    order, with duplicates dropped."""
    groups: dict[tuple[str, int | None, int | None], dict[str, Any]] = {}
    seen: set[tuple[str, int | None, int | None, str, str]] = set()
    list_key = {kind: key for key, _, kind in _SOURCES}
    for rule in rules:
        if rule.key in seen:
            continue
        seen.add(rule.key)
        head = (rule.protocol, rule.from_port, rule.to_port)
        perm = groups.get(head)
        if perm is None:
            perm = {"IpProtocol": rule.protocol}
            if rule.from_port is not None:
                perm["FromPort"] = rule.from_port
            if rule.to_port is not None:
                perm["ToPort"] = rule.to_port
            groups[head] = perm
        perm.setdefault(list_key[rule.kind], []).append(dict(rule.entry))
    return list(groups.values())


def rule_keys(permissions: Any) -> set[tuple[str, int | None, int | None, str, str]]:
    """Identities of the rules in IpPermissions (description ignored), for comparing states."""
    return {rule.key for rule in existing_rules(permissions)}


# -- plans from snapshots --------------------------------------------------------------------

PlanParts = tuple[tuple[InverseCall, ...], str]


def _missing(snapshot: Mapping[str, Any], flag: str, what: str) -> str | None:
    if snapshot.get(flag) is False:
        return f"{what} does not exist, so the change will fail; nothing to undo"
    return None


def _attach_detach(action: str, params: Mapping[str, Any], snap: Mapping[str, Any]) -> PlanParts:
    role, arn = params["RoleName"], params["PolicyArn"]
    gone = _missing(snap, "role_exists", f"role {role}")
    if gone:
        return (), gone
    attached = arn in snap["attached_policy_arns"]
    if action == "iam:DetachRolePolicy":
        if not attached:
            return (), f"{arn} is not attached to role {role}; nothing to undo"
        call = InverseCall.of(
            "iam:AttachRolePolicy", {"RoleName": role, "PolicyArn": arn}, snap["role_arn"]
        )
        return (call,), f"re-attach {arn} to role {role}"
    if attached:
        return (), f"{arn} is already attached to role {role}; nothing to undo"
    call = InverseCall.of(
        "iam:DetachRolePolicy", {"RoleName": role, "PolicyArn": arn}, snap["role_arn"]
    )
    return (call,), f"detach {arn} from role {role}"


def _inline(action: str, params: Mapping[str, Any], snap: Mapping[str, Any]) -> PlanParts:
    role, name = params["RoleName"], params["PolicyName"]
    gone = _missing(snap, "role_exists", f"role {role}")
    if gone:
        return (), gone
    old = snap.get("policy_document")
    if snap["existed"] and isinstance(old, str):
        call = InverseCall.of(
            "iam:PutRolePolicy",
            {"RoleName": role, "PolicyName": name, "PolicyDocument": old},
            snap["role_arn"],
        )
        return (call,), f"restore the previous inline policy {name} of role {role}"
    if action == "iam:DeleteRolePolicy":
        return (), f"role {role} has no inline policy {name}; nothing to undo"
    call = InverseCall.of(
        "iam:DeleteRolePolicy", {"RoleName": role, "PolicyName": name}, snap["role_arn"]
    )
    return (call,), f"delete the new inline policy {name} of role {role}"


def _access_key(action: str, params: Mapping[str, Any], snap: Mapping[str, Any]) -> PlanParts:
    key_id = params["AccessKeyId"]
    user = snap.get("user_name")
    if not user or snap.get("user_exists") is False or not snap.get("key_found"):
        return (), f"access key {key_id} was not found, so the change will fail; nothing to undo"
    previous = snap["status"]
    if previous == params["Status"]:
        return (), f"access key {key_id} is already {previous}; nothing to undo"
    call = InverseCall.of(
        "iam:UpdateAccessKey",
        {"UserName": user, "AccessKeyId": key_id, "Status": previous},
        snap["user_arn"],
    )
    return (call,), f"set access key {key_id} of user {user} back to {previous}"


def _ingress(action: str, params: Mapping[str, Any], snap: Mapping[str, Any]) -> PlanParts:
    group = params["GroupId"]
    gone = _missing(snap, "group_exists", f"security group {group}")
    if gone:
        return (), gone
    wanted = requested_rules(params["IpPermissions"], action)
    existing = {r.key: r for r in existing_rules(snap["ip_permissions"], snap.get("owner_id"))}
    if action == "ec2:RevokeSecurityGroupIngress":
        # put back what the revoke will remove, as it was (descriptions included)
        restore = [existing[r.key] for r in wanted if r.key in existing]
        if not restore:
            return (), f"none of the rules to revoke exist on {group}; nothing to undo"
        perms = to_ip_permissions(restore)
        call = InverseCall.of(
            "ec2:AuthorizeSecurityGroupIngress",
            {"GroupId": group, "IpPermissions": perms},
            snap["group_arn"],
        )
        note = f"re-authorize {len({r.key for r in restore})} ingress rule(s) on {group}"
        skipped = len({r.key for r in wanted}) - len({r.key for r in restore})
        if skipped:
            note += f"; {skipped} requested rule(s) did not exist and are not restored"
        return (call,), note
    new = [r for r in wanted if r.key not in existing]
    if not new:
        return (), f"all requested rules already exist on {group}; nothing to undo"
    call = InverseCall.of(
        "ec2:RevokeSecurityGroupIngress",
        {"GroupId": group, "IpPermissions": to_ip_permissions(new)},
        snap["group_arn"],
    )
    note = f"revoke the {len({r.key for r in new})} new ingress rule(s) on {group}"
    dupes = len({r.key for r in wanted}) - len({r.key for r in new})
    if dupes:
        note += (
            f"; {dupes} requested rule(s) already exist — AWS rejects such a request as a "
            "duplicate, and if the change failed this plan must not run"
        )
    return (call,), note


_PLANNERS: dict[str, Callable[[str, Mapping[str, Any], Mapping[str, Any]], PlanParts]] = {
    "iam:AttachRolePolicy": _attach_detach,
    "iam:DetachRolePolicy": _attach_detach,
    "iam:PutRolePolicy": _inline,
    "iam:DeleteRolePolicy": _inline,
    "iam:UpdateAccessKey": _access_key,
    "ec2:AuthorizeSecurityGroupIngress": _ingress,
    "ec2:RevokeSecurityGroupIngress": _ingress,
}


def plan_from_snapshot(
    action: str, parameters: Mapping[str, Any], snapshot: Mapping[str, Any]
) -> RollbackPlan:
    """The rollback plan for `action` with `parameters`, given the state read beforehand."""
    name, params = validate_parameters(action, parameters)
    snap = json_safe(dict(snapshot), "snapshot")
    try:
        calls, note = _PLANNERS[name](name, params, snap)
    except (KeyError, TypeError) as exc:
        raise ValueError(f"rollback: snapshot for {name} is incomplete: {exc!r}") from exc
    return RollbackPlan(action=name, parameters=params, snapshot=snap, calls=calls, note=note)


def policy_document_text(document: Any) -> str:
    """An inline policy document as JSON text: boto3 hands IAM documents back decoded (a
    dict); text (possibly URL-encoded) is parsed to check it and kept as JSON text."""
    if isinstance(document, Mapping):
        return json.dumps(json_safe(dict(document), "policy document"))
    if isinstance(document, str):
        for candidate in (document, unquote(document)):
            try:
                if isinstance(json.loads(candidate), dict):
                    return candidate
            except ValueError:
                continue
    raise ValueError(f"rollback: unreadable policy document: {document!r:.200}")
