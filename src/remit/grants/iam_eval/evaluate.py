"""The IAM evaluation logic for one role-session request.

Its one job: combine parsed identity policies and an optional session policy into a
``Verdict`` (explicit Deny wins; otherwise Allow needs an identity policy AND, if given,
the session policy), and ``explain`` which statement(s) decided it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from remit.grants.iam_eval.context import Context, _Ctx
from remit.grants.iam_eval.model import Policy, PolicyLike, Statement, StatementRef, _as_policy


class Verdict(Enum):
    """The outcome of evaluating one request."""

    ALLOW = "allow"
    EXPLICIT_DENY = "explicit_deny"
    IMPLICIT_DENY = "implicit_deny"


@dataclass(frozen=True, slots=True)
class Decision:
    """A verdict and the statements that decided it, for readable output."""

    verdict: Verdict
    action: str
    resource: str
    statements: tuple[StatementRef, ...]
    reason: str

    def __str__(self) -> str:
        return f"{self.verdict.name}: {self.action} on {self.resource}: {self.reason}"


def _first(
    policies: Iterable[Policy], effect: str, action: str, resource: str, ctx: _Ctx
) -> Statement | None:
    for policy in policies:
        for stmt in policy.statements:
            if stmt.effect == effect and stmt.applies(action, resource, ctx):
                return stmt
    return None


def explain(
    identity_policies: Sequence[PolicyLike],
    session_policy: PolicyLike | None,
    action: str,
    resource: str,
    context: Context,
) -> Decision:
    """Evaluate one request and say which statement(s) decided it.

    `identity_policies` and `session_policy` may be raw documents or `Policy` objects from
    `parse_policy` (parse once when evaluating many requests).
    """
    identity = [_as_policy(p, f"identity policy #{i}") for i, p in enumerate(identity_policies)]
    session = _as_policy(session_policy, "session policy") if session_policy is not None else None
    ctx = _Ctx(context)
    everything = [*identity, *([session] if session else [])]
    deny = _first(everything, "Deny", action, resource, ctx)
    if deny is not None:
        return Decision(
            Verdict.EXPLICIT_DENY, action, resource, (deny.ref,), f"explicitly denied by {deny.ref}"
        )
    allow = _first(identity, "Allow", action, resource, ctx)
    if allow is None:
        return Decision(
            Verdict.IMPLICIT_DENY, action, resource, (), "no identity-based policy allows it"
        )
    if session is None:
        return Decision(Verdict.ALLOW, action, resource, (allow.ref,), f"allowed by {allow.ref}")
    session_allow = _first([session], "Allow", action, resource, ctx)
    if session_allow is None:
        return Decision(
            Verdict.IMPLICIT_DENY,
            action,
            resource,
            (allow.ref,),
            f"{allow.ref} allows it but the session policy does not",
        )
    return Decision(
        Verdict.ALLOW,
        action,
        resource,
        (allow.ref, session_allow.ref),
        f"allowed by {allow.ref} and by {session_allow.ref}",
    )


def evaluate(
    identity_policies: Sequence[PolicyLike],
    session_policy: PolicyLike | None,
    action: str,
    resource: str,
    context: Context,
) -> Verdict:
    """ALLOW, EXPLICIT_DENY or IMPLICIT_DENY for one action on one resource."""
    return explain(identity_policies, session_policy, action, resource, context).verdict
