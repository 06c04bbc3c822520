"""Which mutating actions Remit can undo (B5). An action not listed here is irreversible
as far as Remit knows; the envelope can require approval for those.

Pure data. Snapshotting and executing the inverse plans is `remit.rollback`.
"""

from __future__ import annotations

ROLLBACK_ACTIONS = frozenset(
    {
        "iam:DetachRolePolicy",
        "iam:AttachRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:PutRolePolicy",
        "iam:UpdateAccessKey",
        "ec2:RevokeSecurityGroupIngress",
        "ec2:AuthorizeSecurityGroupIngress",
    }
)
"""Mutating actions whose effect Remit can snapshot and undo (canonical names)."""
ROLLBACK_SUPPORTED = frozenset(a.lower() for a in ROLLBACK_ACTIONS)
"""The same, lower-cased, for case-insensitive lookups."""
READ_ONLY_LEVELS = frozenset({"List", "Read"})


def rollback_status(action: str, access_level: str | None) -> str:
    """`not_needed` for reads, `available` for supported changes, else `unavailable`."""
    if access_level in READ_ONLY_LEVELS:
        return "not_needed"
    return "available" if action.lower() in ROLLBACK_SUPPORTED else "unavailable"
