"""The declared Custodian action → IAM table, checked against the real c7n: every mapped
action exists in c7n's registry with the options the table knows, and the IAM steps cover
every permission c7n itself declares for it; unmapped actions and options are refused with
a reason that names them."""

from __future__ import annotations

from typing import Any

import pytest

from remit.catalog import default_catalog
from remit.custodian.actions import TABLE, Unmapped, steps_for


def _c7n_action(resource_type: str, data: dict[str, Any]) -> Any:
    from c7n.config import Config
    from c7n.loader import PolicyLoader

    policy = {"policies": [{"name": "p", "resource": resource_type, "actions": [data]}]}
    (p,) = list(PolicyLoader(Config.empty(region="us-east-1")).load_data(policy, "t.yml"))
    p.validate()
    return p.resource_manager.actions[0]


# one example of every variant of every mapped action, as a policy would write it
VARIANTS = [
    ("iam-role", {"type": "delete"}),
    ("iam-role", {"type": "delete", "force": True}),
    ("iam-role", {"type": "set-policy", "state": "attached", "arn": "arn:aws:iam::aws:policy/X"}),
    ("iam-role", {"type": "set-policy", "state": "detached", "arn": "*"}),
    ("iam-role", {"type": "set-policy", "state": "detached", "arn": "arn:aws:iam::aws:policy/X"}),
    ("ec2", {"type": "stop"}),
    ("ec2", {"type": "stop", "terminate-ephemeral": True}),
    ("ec2", {"type": "stop", "hibernate": True}),
    ("ec2", {"type": "terminate"}),
    ("ec2", {"type": "terminate", "force": True}),
    ("s3", {"type": "delete", "remove-contents": False}),
    ("s3", {"type": "set-public-block"}),
    ("s3", {"type": "set-public-block", "BlockPublicPolicy": True}),
]


@pytest.mark.parametrize(("resource_type", "data"), VARIANTS)
def test_steps_cover_what_c7n_declares(resource_type: str, data: dict[str, Any]) -> None:
    steps = steps_for(resource_type, data)
    ours = {s.iam_action for s in steps}
    action = _c7n_action(resource_type, data)  # c7n accepts it as written
    theirs = {p for p in action.get_permissions() if "*" not in p}
    # c7n lists one set of permissions for every variant of an action; these are the ones
    # its code only calls in other variants (RoleDelete deletes instance profiles only with
    # force; SetPolicy attaches only for state attached, detaches only for detached).
    if (resource_type, data) == ("iam-role", {"type": "delete"}):
        theirs.discard("iam:DeleteInstanceProfile")
    if data["type"] == "set-policy":
        theirs.discard(
            "iam:DetachRolePolicy" if data["state"] == "attached" else "iam:AttachRolePolicy"
        )
    assert theirs <= ours, theirs - ours
    catalog = default_catalog()
    for s in steps:
        assert catalog.get(s.iam_action) is not None, s.iam_action
        assert all(":" in op for op in s.covers())


def test_every_table_entry_is_a_c7n_action_and_has_an_example() -> None:
    seen = {(r, d["type"]) for r, d in VARIANTS}
    assert seen == set(TABLE)
    for resource_type, kind in TABLE:
        _c7n_action(resource_type, {"type": kind, **_required(kind)})


def _required(kind: str) -> dict[str, Any]:
    return {"state": "detached", "arn": "*"} if kind == "set-policy" else {}


def test_force_delete_of_a_role_removes_what_blocks_it_first() -> None:
    steps = [s.iam_action for s in steps_for("iam-role", {"type": "delete", "force": True})]
    assert steps[-1] == "iam:DeleteRole"
    assert steps.index("iam:DetachRolePolicy") < steps.index("iam:DeleteRole")
    assert steps.index("iam:DeleteRolePolicy") < steps.index("iam:DeleteRole")
    assert steps.index("iam:RemoveRoleFromInstanceProfile") < steps.index("iam:DeleteRole")
    assert steps_for("iam-role", {"type": "delete"})[0].iam_action == "iam:DeleteRole"
    s3 = steps_for("s3", {"type": "set-public-block"})
    assert [op for s in s3 for op in s.covers()] == [
        "s3:GetPublicAccessBlock",
        "s3:PutPublicAccessBlock",
    ]


@pytest.mark.parametrize(
    ("resource_type", "data", "named"),
    [
        ("ec2", {"type": "tag", "key": "a", "value": "b"}, "'tag' on 'ec2'"),
        ("iam-user", {"type": "delete"}, "'delete' on 'iam-user'"),
        ("ec2", {"type": "stop", "bogus": 1}, "option 'bogus'"),
        ("s3", {"type": "delete"}, "remove-contents"),
        ("s3", {"type": "delete", "remove-contents": True}, "remove-contents"),
    ],
)
def test_unmapped_is_refused_naming_it(
    resource_type: str, data: dict[str, Any], named: str
) -> None:
    with pytest.raises(Unmapped) as err:
        steps_for(resource_type, data)
    assert named in str(err.value)
