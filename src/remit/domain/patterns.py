"""Syntax of IAM action names, action patterns and ARN patterns, and how they match.

Actions match case-insensitively (as IAM does); ARNs match case-sensitively. `*` matches
any run of characters and `?` one character. A wildcard in a *request* ARN is treated as
the set of names it stands for: it is covered only by a `*` in the pattern, never by a
literal or a `?`, so a broad request can never slip under a narrow rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache, lru_cache

ACTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*:[A-Za-z0-9]+$")
ACTION_PATTERN = re.compile(r"^(\*|[a-z0-9*?][a-z0-9*?-]*:[A-Za-z0-9*?]+)$", re.IGNORECASE)
ARN = re.compile(
    r"^arn:(?P<partition>[a-z][a-z-]*):(?P<service>[a-z0-9][a-z0-9-]*):"
    r"(?P<region>[a-z0-9-]*):(?P<account>\d{12}|aws|)?:(?P<resource>.+)$"
)
ARN_PATTERN = re.compile(r"^(\*|arn:[a-z*?][a-z*?-]*:[a-z0-9*?-]+:[a-z0-9*?-]*:[0-9*?a-z]*:.+)$")


def has_wildcard(text: str) -> bool:
    """True if `text` contains `*` or `?`."""
    return "*" in text or "?" in text


def account_of(arn: str) -> str:
    """The account id field of an ARN ('' for ARNs without one, like S3 buckets)."""
    parts = arn.split(":", 5)
    return parts[4] if len(parts) > 4 else ""


def _glob_to_regex(pattern: str) -> str:
    # A pattern '?' must not stand for a wildcard the request itself carries.
    out = []
    for ch in pattern:
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(r"[^*?]")
        else:
            out.append(re.escape(ch))
    return "".join(out)


Matcher = Callable[[str], bool]


@lru_cache(maxsize=65536)
def compile_glob(pattern: str, *, ignore_case: bool = False) -> Matcher:
    """A fast predicate telling whether a name (or request pattern) is covered by `pattern`."""
    if pattern == "*":
        return _always
    if not has_wildcard(pattern):
        if ignore_case:
            low = pattern.lower()
            return lambda s: s.lower() == low
        return pattern.__eq__
    if pattern.endswith("*") and not has_wildcard(pattern[:-1]):
        prefix = pattern[:-1]
        if ignore_case:
            lowp = prefix.lower()
            return lambda s: s.lower().startswith(lowp)
        return lambda s: s.startswith(prefix)
    flags = re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL
    rx = re.compile(_glob_to_regex(pattern), flags)
    return lambda s: rx.fullmatch(s) is not None


def _always(_: str) -> bool:
    return True


def glob_matches(pattern: str, name: str, *, ignore_case: bool = False) -> bool:
    """True if `name` is covered by the glob `pattern`."""
    return compile_glob(pattern, ignore_case=ignore_case)(name)


def globs_overlap(a: str, b: str) -> bool:
    """True if some string matches both glob patterns `a` and `b` (case-sensitive).

    Used to find envelope rules whose resources can fall under a regulation.
    """

    @cache
    def go(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] == "*":
            return go(i + 1, j) or (j < len(b) and go(i, j + 1))
        if j < len(b) and b[j] == "*":
            return go(i, j + 1) or (i < len(a) and go(i + 1, j))
        if i == len(a) or j == len(b):
            return False
        if a[i] == "?" or b[j] == "?" or a[i] == b[j]:
            return go(i + 1, j + 1)
        return False

    return go(0, 0)
