"""Action and resource matching for IAM policy evaluation.

Its one job: match request actions (case-insensitive, ``*``/``?``) and resources
(case-sensitive, ARN-segment-aware wildcards, policy variables resolved from the request
context) against policy patterns, where the request itself may hold wildcards: ``covers``
(every name the request stands for matches) and ``overlaps`` (some name matches).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from remit.domain.patterns import compile_glob, globs_overlap, has_wildcard
from remit.grants.iam_eval.context import _Ctx
from remit.grants.iam_eval.errors import PolicyError

# A pattern is parsed once into tokens: ("lit", text), ("star", ""), ("q", ""), or
# ("var", key, default-or-None). Variables are resolved per request into "lit" tokens whose
# text is always literal (so `${*}` yields a literal asterisk).
_Token = tuple[str, str, "str | None"]
_VAR = re.compile(r"\$\{([^}]*)\}")
_VAR_BODY = re.compile(r"^\s*([^\s,']+)\s*(?:,\s*'([^']*)'\s*)?$")
_SPECIAL_VARS = {"*": "*", "?": "?", "$": "$"}


def _tokenize(text: str, *, variables: bool, where: str) -> tuple[_Token, ...]:
    tokens: list[_Token] = []

    def plain(chunk: str) -> None:
        buf: list[str] = []
        for ch in chunk:
            if ch in "*?":
                if buf:
                    tokens.append(("lit", "".join(buf), None))
                    buf = []
                tokens.append(("star" if ch == "*" else "q", "", None))
            else:
                buf.append(ch)
        if buf:
            tokens.append(("lit", "".join(buf), None))

    if not variables:
        plain(text)
        return tuple(tokens)
    pos = 0
    for m in _VAR.finditer(text):
        plain(text[pos : m.start()])
        body = m.group(1)
        if body.strip() in _SPECIAL_VARS:
            tokens.append(("lit", _SPECIAL_VARS[body.strip()], None))
        else:
            parsed = _VAR_BODY.match(body)
            if parsed is None:
                raise PolicyError(f"{where}: malformed policy variable {m.group(0)!r}")
            tokens.append(("var", parsed.group(1), parsed.group(2)))
        pos = m.end()
    plain(text[pos:])
    return tuple(tokens)


def _has_vars(tokens: tuple[_Token, ...]) -> bool:
    return any(t[0] == "var" for t in tokens)


def _resolve(tokens: tuple[_Token, ...], ctx: _Ctx) -> tuple[_Token, ...] | None:
    """Substitute variables; None if one has no (single) value and no default."""
    if not _has_vars(tokens):
        return tokens
    out: list[_Token] = []
    for kind, text, default in tokens:
        if kind != "var":
            out.append((kind, text, default))
            continue
        values = ctx.get(text)
        if values is not None and len(values) == 1:
            out.append(("lit", values[0], None))
        elif default is not None:
            out.append(("lit", default, None))
        else:
            return None
    return tuple(out)


def _as_text(tokens: tuple[_Token, ...]) -> str:
    """The tokens as plain text, wildcards as the characters `*` and `?`."""
    return "".join("*" if k == "star" else "?" if k == "q" else t for k, t, _ in tokens)


def _regex(tokens: tuple[_Token, ...], mode: Literal["arn", "string"]) -> str:
    out: list[str] = []
    for i, (kind, text, _) in enumerate(tokens):
        if kind == "lit":
            out.append(re.escape(text))
        elif kind == "q":
            out.append("[^:]" if mode == "arn" else ".")
        elif mode == "string":
            out.append(".*")
        else:
            # In an ARN, `*` stays within its segment unless it ends the segment.
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            ends_segment = nxt is None or (nxt[0] == "lit" and nxt[1].startswith(":"))
            out.append(".*" if ends_segment else "[^:]*")
    return "".join(out)


@lru_cache(maxsize=16384)
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex, re.DOTALL)


@dataclass(frozen=True, slots=True)
class _Pattern:
    """One Resource/NotResource or Arn/String condition pattern."""

    text: str
    tokens: tuple[_Token, ...]
    mode: Literal["arn", "string"]
    static: re.Pattern[str] | None  # precompiled when the pattern has no variables

    @classmethod
    def parse(
        cls, text: str, *, mode: Literal["arn", "string"], variables: bool, where: str
    ) -> _Pattern:
        tokens = _tokenize(text, variables=variables, where=where)
        static = None if _has_vars(tokens) else _compiled(_regex(tokens, mode))
        return cls(text, tokens, mode, static)

    def _bound(self, ctx: _Ctx) -> tuple[re.Pattern[str], str] | None:
        if self.static is not None:
            return self.static, _as_text(self.tokens)
        tokens = _resolve(self.tokens, ctx)
        if tokens is None:
            return None
        return _compiled(_regex(tokens, self.mode)), _as_text(tokens)

    def matches(self, value: str, ctx: _Ctx) -> bool:
        """True if the concrete `value` matches the pattern."""
        bound = self._bound(ctx)
        return bound is not None and bound[0].fullmatch(value) is not None

    def covers(self, request: str, ctx: _Ctx) -> bool:
        """True if every name the request pattern stands for matches."""
        if not has_wildcard(request):
            return self.matches(request, ctx)
        bound = self._bound(ctx)
        return bound is not None and compile_glob(bound[1])(request)

    def overlaps(self, request: str, ctx: _Ctx) -> bool:
        """True if some name the request pattern stands for matches."""
        if not has_wildcard(request):
            return self.matches(request, ctx)
        bound = self._bound(ctx)
        return bound is not None and globs_overlap(bound[1], request)


class _ActionSet:
    """A list of action patterns, indexed so that matching a concrete action is cheap."""

    __slots__ = ("_by_service", "_exact", "_global", "patterns")

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self.patterns = patterns
        self._exact: set[str] = set()
        self._by_service: dict[str, list[Callable[[str], bool]]] = {}
        self._global: list[Callable[[str], bool]] = []
        for p in patterns:
            low = p.lower()
            if not has_wildcard(low):
                self._exact.add(low)
                continue
            service, _, _ = low.partition(":")
            matcher = compile_glob(low, ignore_case=True)
            if has_wildcard(service):
                self._global.append(matcher)
            else:
                self._by_service.setdefault(service, []).append(matcher)

    def covers(self, action: str) -> bool:
        low = action.lower()
        if has_wildcard(low):
            return any(compile_glob(p, ignore_case=True)(low) for p in self.patterns)
        if low in self._exact:
            return True
        service = low.partition(":")[0]
        return any(m(low) for m in self._by_service.get(service, ())) or any(
            m(low) for m in self._global
        )

    def overlaps(self, action: str) -> bool:
        low = action.lower()
        if not has_wildcard(low):
            return self.covers(low)
        return any(globs_overlap(p.lower(), low) for p in self.patterns)
