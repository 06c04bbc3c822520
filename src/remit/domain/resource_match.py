"""How a request's resource meets an envelope ARN pattern, as sets, with each service's case rules.

Its one job: answer two questions about one request resource (a literal ARN, or a
wildcard pattern standing for every ARN it matches) and one envelope pattern:

* `touches`: do the two sets intersect? Rules, protected sets and regulations that can only
  make a decision stricter apply when they touch a resource.
* `within`: is the request's whole set inside the pattern's? Only then may a rule count as
  *covering* the resource (letting it through without the envelope's `unmatched` default).

Both directions are fail-closed: `touches` may answer yes too often (never no too often),
`within` may answer no too often (never yes too often).

Case rules (docs/security.md, "Resource matching"): IAM role, user, group, policy and
instance-profile names (with their paths) are unique case-insensitively, so they match
case-insensitively both ways. S3 bucket names are lowercase-only and object keys
case-sensitive, so S3 matches case-sensitively both ways. For every other service (and
other IAM resource types) Remit does not know, so `touches` folds case (a stricter rule
applies to more) and `within` does not (an allowing rule covers less).

What it does not do: decide tiers, read envelopes, or validate ARN syntax.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from remit.domain.patterns import Matcher, compile_glob, globs_overlap, has_wildcard

# IAM resource types whose names are unique case-insensitively (the type word itself is
# matched as written: `ROLE/x` is not a role ARN).
IAM_NAMED_TYPES: tuple[str, ...] = ("role/", "user/", "group/", "policy/", "instance-profile/")
# Services whose resource names are case-sensitive (or lowercase-only) in AWS.
CASE_SENSITIVE_SERVICES: frozenset[str] = frozenset({"s3"})


@dataclass(frozen=True, slots=True)
class ResourceKey:
    """A request resource prepared for matching: its ARN, case rules and compared texts.

    `touch_text` is what `touches` compares (lower-cased when the service folds case for
    intersection); `within_text` what `within` compares (lower-cased only for names AWS
    itself treats case-insensitively).
    """

    arn: str
    wildcard: bool
    touch_folds: bool
    within_folds: bool
    touch_text: str
    within_text: str


def _service_and_resource(arn: str) -> tuple[str, str]:
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return "*", arn
    return parts[2], parts[5]


@lru_cache(maxsize=65536)
def resource_key(arn: str) -> ResourceKey:
    """The matching key of a request resource ARN (or ARN pattern)."""
    service, resource = _service_and_resource(arn)
    if has_wildcard(service):
        touch, within = True, False
    elif service in CASE_SENSITIVE_SERVICES:
        touch, within = False, False
    elif service == "iam" and resource.startswith(IAM_NAMED_TYPES):
        touch, within = True, True
    else:
        touch, within = True, False
    low = arn.lower()
    return ResourceKey(
        arn, has_wildcard(arn), touch, within, low if touch else arn, low if within else arn
    )


@lru_cache(maxsize=65536)
def folded_glob(pattern: str) -> Matcher:
    """The matcher of `pattern` lower-cased (to apply to lower-cased text)."""
    return compile_glob(pattern.lower())


def touches(pattern: str, key: ResourceKey) -> bool:
    """True if some ARN the request resource stands for is matched by `pattern`."""
    if not key.wildcard:
        m = folded_glob(pattern) if key.touch_folds else compile_glob(pattern)
        return m(key.touch_text)
    return globs_overlap(pattern.lower() if key.touch_folds else pattern, key.touch_text)


def within(key: ResourceKey, pattern: str) -> bool:
    """True if every ARN the request resource stands for is matched by `pattern`.

    A request wildcard is covered only by a `*` of the pattern (a pattern `?` never stands
    for a request `*` or `?`), which is sound: a yes is always right, a no may be too
    cautious (then the envelope's default applies).
    """
    m = folded_glob(pattern) if key.within_folds else compile_glob(pattern)
    return m(key.within_text)
