"""IAM policy evaluation for one principal: identity policies intersected with a session policy.

Its one job: parse IAM policy documents and decide, for one action on one resource in one
request context, whether AWS would ALLOW, EXPLICIT_DENY or IMPLICIT_DENY it, naming the
statement(s) that decided (`explain`). The logic follows AWS's for a role session:

1. an explicit Deny in any policy (identity-based or session) wins;
2. otherwise the request is allowed only if some identity-based policy allows it AND, when a
   session policy was passed, the session policy allows it too (the intersection);
3. otherwise it is implicitly denied.

Matching rules:

* Actions match case-insensitively, with `*` and `?`.
* Resources match case-sensitively, with `*` and `?` within ARN segments; a `*` that ends a
  segment (is followed by `:` or ends the pattern) may run past colons, as AWS documents.
  Policy variables (`${aws:username}`, `${key, 'default'}`, `${*}`, `${?}`, `${$}`) are
  substituted from the request context in `Resource`/`NotResource` and in String/Arn
  condition values when the policy's Version is 2012-10-17; a variable with no value makes
  that one pattern match nothing.
* A request resource (or action) may itself contain wildcards, meaning "every name it stands
  for" (see `remit.domain.patterns`). ALLOW then means "allowed for all of them": an Allow
  statement applies only if one of its patterns covers the whole request (a `*` in the
  request is covered only by a `*` in the pattern), while a Deny statement applies as soon as
  it *overlaps* the request. NotResource/NotAction are the mirror image. So a broad request is
  never reported as allowed when part of it is denied or not granted.
* Conditions: operators within a block and keys within an operator are ANDed, values for a
  key ORed (NOR for negated operators such as StringNotEquals). Keys are looked up
  case-insensitively. A missing key makes a positive operator false and a negated one true;
  `...IfExists` makes a missing key true; `Null` tests presence; `ForAnyValue:` /
  `ForAllValues:` apply the operator to each value of a multivalued key (a missing key makes
  ForAllValues true and ForAnyValue false). A multivalued key used without a set qualifier
  matches if any of its values matches.

What it does not do: resource-based policies, permissions boundaries, SCPs/RCPs, cross-account
rules, or knowing which actions exist (effective.py joins this with the action catalogue).
No I/O. Malformed documents raise `PolicyError`.

The package is split by job: ``model`` (parsing policies and statements), ``conditions``
(condition operators), ``matching`` (action/resource matching), ``evaluate`` (evaluate,
explain, Verdict), ``context`` (the request context) and ``errors`` (PolicyError). Import
from ``remit.grants.iam_eval`` itself.
"""

from __future__ import annotations

from remit.grants.iam_eval.conditions import Condition
from remit.grants.iam_eval.context import Context
from remit.grants.iam_eval.errors import PolicyError
from remit.grants.iam_eval.evaluate import Decision, Verdict, evaluate, explain
from remit.grants.iam_eval.model import VERSION_2008 as VERSION_2008
from remit.grants.iam_eval.model import VERSION_2012 as VERSION_2012
from remit.grants.iam_eval.model import (
    Policy,
    PolicyLike,
    Statement,
    StatementRef,
    parse_policy,
)

__all__ = [
    "Condition",
    "Context",
    "Decision",
    "Policy",
    "PolicyError",
    "PolicyLike",
    "Statement",
    "StatementRef",
    "Verdict",
    "evaluate",
    "explain",
    "parse_policy",
]
