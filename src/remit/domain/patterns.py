"""Syntax of IAM action names, action patterns and ARN patterns, and how they match.

Actions match case-insensitively (as IAM does); ARNs match case-sensitively. `*` matches
any run of characters and `?` one character. A wildcard in a *request* ARN is treated as
the set of names it stands for: it is covered only by a `*` in the pattern, never by a
literal or a `?`, so a broad request can never slip under a narrow rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

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


def globs_overlap(a: str, b: str, *, ignore_case: bool = False) -> bool:
    """True if some string matches both glob patterns `a` and `b` (`*` any run, `?` one char).

    Exact, not a heuristic: it searches the product of the two patterns' automata, so the
    cost is at most len(a) * len(b) steps and there is no recursion to overflow on long
    ARNs. With `ignore_case` both patterns are lower-cased first.
    """
    if ignore_case:
        a, b = a.lower(), b.lower()
    return _overlap(a, b)


def _literal_clash(x: str, y: str) -> bool:
    # Compare the two patterns character by character up to the first `*` of either:
    # a position where both have different literals means no string matches both.
    for cx, cy in zip(x, y, strict=False):
        if cx == "*" or cy == "*":
            return False
        if cx != cy and cx != "?" and cy != "?":
            return True
    if len(x) != len(y):
        # One pattern ended before any `*`: the other must end there too (or hold a `*`).
        rest = x[len(y) :] if len(x) > len(y) else y[len(x) :]
        return not rest.startswith("*")
    return False


@lru_cache(maxsize=65536)
def _overlap(a: str, b: str) -> bool:
    if _literal_clash(a, b) or _literal_clash(a[::-1], b[::-1]):
        return False
    na, nb = len(a), len(b)
    seen = {(0, 0)}
    todo = [(0, 0)]
    while todo:
        i, j = todo.pop()
        if i == na and j == nb:
            return True
        ca = a[i] if i < na else ""
        cb = b[j] if j < nb else ""
        steps: list[tuple[int, int]] = []
        if ca == "*":
            steps.append((i + 1, j))  # a's `*` ends here
            if cb:
                steps.append((i, j + 1))  # a's `*` absorbs b's next token
        elif cb == "*":
            steps.append((i, j + 1))
            if ca:
                steps.append((i + 1, j))
        elif ca and cb and (ca == cb or ca == "?" or cb == "?"):
            steps.append((i + 1, j + 1))
        for step in steps:
            if step not in seen:
                seen.add(step)
                todo.append(step)
    return False
