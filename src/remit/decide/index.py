"""The compiled rule index: which rules can match a given (agent, action), found without
scanning the rule list.

Exact action names go into a dict; wildcard patterns are grouped by service prefix. The
answer for each (agent, action) pair is computed once and cached, so steady-state cost
does not grow with the number of rules; resource matching then runs only on candidates.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from remit.domain.envelope import Rule
from remit.domain.patterns import Matcher, compile_glob, has_wildcard
from remit.domain.requests import Resource

_CACHE_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule with its resource patterns compiled to matchers."""

    rule: Rule
    resource_matchers: tuple[Matcher, ...]
    all_agents: bool
    agents: frozenset[str]

    def matches_resources(self, resources: tuple[Resource, ...]) -> bool:
        ms = self.resource_matchers
        for res in resources:
            arn = res.arn
            for m in ms:
                if m(arn):
                    break
            else:
                return False
        return True


def compile_patterns(patterns: Iterable[str], *, ignore_case: bool) -> tuple[Matcher, ...]:
    return tuple(compile_glob(p, ignore_case=ignore_case) for p in patterns)


class RuleIndex:
    """Finds the rules whose agents and actions cover a request."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._exact: dict[str, list[CompiledRule]] = {}
        self._service: dict[str, list[tuple[Matcher, CompiledRule]]] = {}
        self._global: list[tuple[Matcher, CompiledRule]] = []
        self._cache: dict[tuple[str, str], tuple[CompiledRule, ...]] = {}
        self._order: dict[int, int] = {}
        for position, rule in enumerate(rules):
            compiled = CompiledRule(
                rule,
                compile_patterns(rule.resources, ignore_case=False),
                "*" in rule.agents,
                frozenset(a for a in rule.agents if a != "*"),
            )
            self._order[id(compiled)] = position
            for pattern in rule.actions:
                service, _, _ = pattern.partition(":")
                if pattern == "*" or has_wildcard(service):
                    self._global.append((compile_glob(pattern, ignore_case=True), compiled))
                elif has_wildcard(pattern):
                    self._service.setdefault(service.lower(), []).append(
                        (compile_glob(pattern, ignore_case=True), compiled)
                    )
                else:
                    self._exact.setdefault(pattern.lower(), []).append(compiled)

    def candidates(self, agent: str, action: str) -> tuple[CompiledRule, ...]:
        """Rules (in envelope order, each once) whose agents and actions cover the pair."""
        key = (agent, action.lower())
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        action_l = key[1]
        found: dict[int, CompiledRule] = {}
        for c in self._exact.get(action_l, ()):
            found[id(c)] = c
        for m, c in self._service.get(action_l.partition(":")[0], ()):
            if m(action_l):
                found[id(c)] = c
        for m, c in self._global:
            if m(action_l):
                found[id(c)] = c
        result = tuple(
            sorted(
                (c for c in found.values() if c.all_agents or agent in c.agents),
                key=lambda c: self._order[id(c)],
            )
        )
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = result
        return result

    def matching(
        self, agent: str, action: str, resources: tuple[Resource, ...]
    ) -> list[CompiledRule]:
        """Rules that match agent, action and every resource."""
        return [c for c in self.candidates(agent, action) if c.matches_resources(resources)]
