"""Which mutating actions Remit can undo (B5). An action not listed here is irreversible
as far as Remit knows; the envelope can require approval for those.

Pure data. Snapshotting and executing the inverse plans is `remit.rollback`.
"""

from __future__ import annotations

ROLLBACK_SUPPORTED = frozenset(
    {
        "iam:detachrolepolicy",
        "iam:attachrolepolicy",
        "iam:deleterolepolicy",
        "iam:putrolepolicy",
        "iam:updateaccesskey",
        "ec2:revokesecuritygroupingress",
        "ec2:authorizesecuritygroupingress",
    }
)
READ_ONLY_LEVELS = frozenset({"List", "Read"})


def rollback_status(action: str, access_level: str | None) -> str:
    """`not_needed` for reads, `available` for supported changes, else `unavailable`."""
    if access_level in READ_ONLY_LEVELS:
        return "not_needed"
    return "available" if action.lower() in ROLLBACK_SUPPORTED else "unavailable"
