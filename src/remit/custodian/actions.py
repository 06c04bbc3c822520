"""What a Custodian action means in IAM, declared: the table from (resource type, action
type, options) to the IAM actions it needs, in the order c7n performs them, and the AWS API
operations each one covers (the credential router signs an operation only with the
credentials of the decision whose IAM action covers it).

Anything not in the table — an action, or an option of a mapped action that could change
which AWS calls it makes — is refused, with a reason that names it. This module only reads
the table; it does not call AWS or Remit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Scope = Literal["resources", "instance-profiles"]
"""Which ARNs a step's decision names: the batch's resources, or (for an IAM role batch)
the instance profiles those roles are in, found before asking."""

Per = Literal["batch", "attached-policy", "inline-policy", "policy-arg"]
"""How many decisions a step takes. `batch`: one for the whole batch. The others are one
per exact API call, with its parameters (Remit snapshots the state such a call changes so
it can be rolled back, and the credentials then cover that call only): `attached-policy`
one per managed policy attached to each role ({RoleName, PolicyArn}), `inline-policy` one
per inline policy of each role ({RoleName, PolicyName}), `policy-arg` one per role with
the action's own `arn` option ({RoleName, PolicyArn})."""


@dataclass(frozen=True)
class Step:
    """One IAM action a Custodian action needs, on which ARNs, and the AWS operations
    (`signing-name:Operation`, as botocore names them) it covers. By default the operation
    is the IAM action itself (`iam:DeleteRole`)."""

    iam_action: str
    operations: tuple[str, ...] = ()
    scope: Scope = "resources"
    per: Per = "batch"

    def covers(self) -> tuple[str, ...]:
        return self.operations or (self.iam_action,)


@dataclass(frozen=True)
class Variant:
    """The steps of an action when its options equal `when` (absent options take the
    action's c7n defaults); `steps=None` refuses it with `refusal`."""

    when: Mapping[str, Any]
    steps: tuple[Step, ...] | None
    refusal: str = ""


@dataclass(frozen=True)
class ActionMap:
    """A mapped Custodian action: its variants (first match wins), the options it knows
    (any other option is refused) and c7n's defaults for them."""

    variants: tuple[Variant, ...]
    options: frozenset[str] = frozenset()
    defaults: Mapping[str, Any] = field(default_factory=dict)


class Unmapped(ValueError):
    """The Custodian action (or one of its options) has no declared IAM meaning."""


def _s(*names: str) -> tuple[Step, ...]:
    return tuple(Step(n) for n in names)


_DETACH_ALL = (
    Step("iam:ListAttachedRolePolicies"),
    Step("iam:DetachRolePolicy", per="attached-policy"),
)

_ROLE_FORCE = (
    # set-policy {state: detached, arn: "*"}: list attached policies, detach each
    *_DETACH_ALL,
    # inline policies
    Step("iam:ListRolePolicies"),
    Step("iam:DeleteRolePolicy", per="inline-policy"),
    # instance profiles: list, remove the role, delete the profile
    Step("iam:ListInstanceProfilesForRole"),
    Step("iam:RemoveRoleFromInstanceProfile", scope="instance-profiles"),
    Step("iam:DeleteInstanceProfile", scope="instance-profiles"),
)

TABLE: dict[tuple[str, str], ActionMap] = {
    ("iam-role", "delete"): ActionMap(
        (
            Variant({"force": True}, (*_ROLE_FORCE, Step("iam:DeleteRole"))),
            Variant({}, _s("iam:DeleteRole")),
        ),
        options=frozenset({"force"}),
        defaults={"force": False},
    ),
    ("iam-role", "set-policy"): ActionMap(
        (
            Variant({"state": "attached"}, (Step("iam:AttachRolePolicy", per="policy-arg"),)),
            Variant({"state": "detached", "arn": "*"}, _DETACH_ALL),
            Variant({"state": "detached"}, (Step("iam:DetachRolePolicy", per="policy-arg"),)),
        ),
        options=frozenset({"state", "arn"}),
    ),
    ("ec2", "stop"): ActionMap(
        (
            Variant(
                {"terminate-ephemeral": True}, _s("ec2:TerminateInstances", "ec2:StopInstances")
            ),
            Variant({}, _s("ec2:StopInstances")),
        ),
        options=frozenset({"terminate-ephemeral", "hibernate"}),
        defaults={"terminate-ephemeral": False},
    ),
    ("ec2", "terminate"): ActionMap(
        (
            Variant({"force": True}, _s("ec2:ModifyInstanceAttribute", "ec2:TerminateInstances")),
            Variant({}, _s("ec2:TerminateInstances")),
        ),
        options=frozenset({"force"}),
        defaults={"force": False},
    ),
    ("s3", "delete"): ActionMap(
        (
            Variant(
                {"remove-contents": True},
                None,
                "delete on s3 with remove-contents (c7n's default) empties every object "
                "version of the bucket, which Remit cannot scope to named resources; set "
                "remove-contents: false to delete empty buckets only",
            ),
            Variant({}, _s("s3:DeleteBucket")),
        ),
        options=frozenset({"remove-contents"}),
        defaults={"remove-contents": True},
    ),
    ("s3", "set-public-block"): ActionMap(
        (
            Variant(
                {},
                (
                    Step("s3:GetBucketPublicAccessBlock", ("s3:GetPublicAccessBlock",)),
                    Step("s3:PutBucketPublicAccessBlock", ("s3:PutPublicAccessBlock",)),
                ),
            ),
        ),
        options=frozenset(
            {
                "state",
                "BlockPublicAcls",
                "IgnorePublicAcls",
                "BlockPublicPolicy",
                "RestrictPublicBuckets",
            }
        ),
    ),
}
"""The declared table. Keys are c7n's resource type and action type."""


def steps_for(resource_type: str, action: Mapping[str, Any]) -> tuple[Step, ...]:
    """The IAM steps of Custodian `action` (its policy data: `{"type": …, options…}`) on
    `resource_type`; raises `Unmapped` naming what has no declared meaning."""
    kind = str(action.get("type", ""))
    found = TABLE.get((resource_type, kind))
    if found is None:
        raise Unmapped(
            f"Custodian action {kind!r} on {resource_type!r} has no declared IAM mapping; "
            "Remit refuses actions it cannot name"
        )
    given = {k: v for k, v in action.items() if k != "type"}
    unknown = sorted(set(given) - found.options)
    if unknown:
        raise Unmapped(
            f"option {unknown[0]!r} of Custodian action {kind!r} on {resource_type!r} is not "
            "in Remit's mapping; Remit refuses what it cannot name"
        )
    options = {**found.defaults, **given}
    for variant in found.variants:
        if all(options.get(k) == v for k, v in variant.when.items()):
            if variant.steps is None:
                raise Unmapped(variant.refusal)
            return variant.steps
    raise Unmapped(f"no declared variant of {kind!r} on {resource_type!r} matches {options}")
