"""What a credential can actually do: the effective permissions shown to the approver.

Its one job: enumerate concrete (action, resource) pairs that IAM evaluation (iam_eval.py)
allows for a role's identity policies intersected with a session policy, in a request
context, and describe them in one readable line.

Candidate actions are the session policy's Allow actions expanded through the IAM action
catalogue (so `iam:Get*` becomes every concrete `iam:Get...` action; a NotAction Allow
expands to every catalogued action it does not exclude); without a session policy, the
identity policies' Allow actions. Candidate resources are exactly the resources given.
Actions the catalogue does not know are not reported.

What it does not do: decide whether to issue a credential, build the session policy
(policy.py), or look at resource-based policies, boundaries or SCPs. No I/O beyond the
catalogue's one-time load when no catalogue is passed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from remit.catalog import ActionCatalog, default_catalog
from remit.grants.iam_eval import (
    Context,
    Policy,
    PolicyLike,
    Verdict,
    evaluate,
    parse_policy,
)

__all__ = ["Permission", "candidate_actions", "describe", "effective_permissions"]


@dataclass(frozen=True)
class Permission:
    """One action the credential may perform on one resource."""

    action: str
    resource: str

    def __str__(self) -> str:
        return f"{self.action} on {self.resource}"


def _parsed(policy: PolicyLike, name: str) -> Policy:
    return policy if isinstance(policy, Policy) else parse_policy(policy, name)


def candidate_actions(policies: Iterable[PolicyLike], catalog: ActionCatalog) -> list[str]:
    """Every catalogued action some Allow statement of `policies` names, sorted."""
    found: set[str] = set()
    for i, raw in enumerate(policies):
        for stmt in _parsed(raw, f"policy #{i}").statements:
            if stmt.effect != "Allow":
                continue
            if stmt.not_action:
                excluded = {a for p in stmt.actions for a in catalog.expand(p)}
                found.update(a for a in catalog.expand("*") if a not in excluded)
            else:
                for pattern in stmt.actions:
                    found.update(catalog.expand(pattern))
    return sorted(found)


def effective_permissions(
    identity_policies: Sequence[PolicyLike],
    session_policy: PolicyLike | None,
    resources: Sequence[str],
    context: Context,
    catalog: ActionCatalog | None = None,
) -> list[Permission]:
    """The (action, resource) pairs that evaluate to ALLOW, sorted by action then resource
    in the order given. Raises PolicyError for malformed documents."""
    cat = catalog if catalog is not None else default_catalog()
    identity = [_parsed(p, f"identity policy #{i}") for i, p in enumerate(identity_policies)]
    session = _parsed(session_policy, "session policy") if session_policy is not None else None
    actions = candidate_actions([session] if session is not None else identity, cat)
    unique = list(dict.fromkeys(resources))
    return [
        Permission(action, resource)
        for action in actions
        for resource in unique
        if evaluate(identity, session, action, resource, context) is Verdict.ALLOW
    ]


def describe(perms: Sequence[Permission]) -> str:
    """One line: "this credential can do exactly: iam:A, iam:B on R1; iam:C on R2"."""
    if not perms:
        return "this credential can do nothing"
    by_resource: dict[str, list[str]] = {}
    for p in perms:
        actions = by_resource.setdefault(p.resource, [])
        if p.action not in actions:
            actions.append(p.action)
    parts = [f"{', '.join(acts)} on {res}" for res, acts in by_resource.items()]
    return "this credential can do exactly: " + "; ".join(parts)
