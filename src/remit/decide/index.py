"""The compiled rule index: which rules can match a given (agent, action), found without
scanning the rule list.

Exact action names go into a dict; wildcard patterns are grouped by service prefix. The
answer for each (agent, action) pair is computed once and cached, so steady-state cost
does not grow with the number of rules; resource matching then runs only on candidates.

Resource matching treats each request resource as the set of ARNs it denotes
(`remit.domain.resource_match`): a rule applies when its patterns touch (intersect) a
resource, and covers the request when each resource lies wholly inside one of its patterns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from remit.domain.envelope import Rule
from remit.domain.patterns import Matcher, compile_glob, globs_overlap, has_wildcard
from remit.domain.requests import Resource
from remit.domain.resource_match import ResourceKey, resource_key

_CACHE_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule with its resource patterns compiled to matchers, as written and lower-cased."""

    rule: Rule
    patterns: tuple[str, ...]
    folded_patterns: tuple[str, ...]
    exact: tuple[Matcher, ...]
    folded: tuple[Matcher, ...]
    all_agents: bool
    agents: frozenset[str]

    def touches(self, key: ResourceKey) -> bool:
        """True if some ARN the request resource stands for matches one of the patterns."""
        text = key.touch_text
        if key.wildcard:
            pats = self.folded_patterns if key.touch_folds else self.patterns
            return any(globs_overlap(p, text) for p in pats)
        for m in self.folded if key.touch_folds else self.exact:
            if m(text):
                break
        else:
            return False
        return True

    def covers(self, key: ResourceKey) -> bool:
        """True if every ARN the request resource stands for matches one of the patterns."""
        text = key.within_text
        for m in self.folded if key.within_folds else self.exact:
            if m(text):
                break
        else:
            return False
        return True

    def relation(self, keys: list[ResourceKey]) -> tuple[bool, bool]:
        """(touches some resource, covers every resource)."""
        touched = False
        covered = True
        for key in keys:
            if key.wildcard or key.touch_folds != key.within_folds:
                if self.touches(key):
                    touched = True
                    covered = covered and self.covers(key)
                else:
                    covered = False
                continue
            # A literal whose two case rules agree: touching is covering.
            text = key.touch_text
            for m in self.folded if key.touch_folds else self.exact:
                if m(text):
                    touched = True
                    break
            else:
                covered = False
        return touched, covered and touched


@dataclass(frozen=True, slots=True)
class Match:
    """The rules a request's resources touch (envelope order) and whether one covers all.

    `covered` is False when no single touching rule covers every resource: then the
    envelope's `unmatched` default applies as well (to the part no rule covers).
    """

    rules: tuple[CompiledRule, ...]
    covered: bool


NO_MATCH = Match((), False)


def compile_rule(rule: Rule) -> CompiledRule:
    """A rule with its resource patterns compiled."""
    folded = tuple(p.lower() for p in rule.resources)
    return CompiledRule(
        rule,
        rule.resources,
        folded,
        tuple(compile_glob(p) for p in rule.resources),
        tuple(compile_glob(p) for p in folded),
        "*" in rule.agents,
        frozenset(a for a in rule.agents if a != "*"),
    )


class RuleIndex:
    """Finds the rules whose agents and actions cover a request."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._exact: dict[str, list[CompiledRule]] = {}
        self._service: dict[str, list[tuple[Matcher, CompiledRule]]] = {}
        self._global: list[tuple[Matcher, CompiledRule]] = []
        self._cache: dict[tuple[str, str], tuple[CompiledRule, ...]] = {}
        self._order: dict[int, int] = {}
        for position, rule in enumerate(rules):
            compiled = compile_rule(rule)
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

    def matching(self, agent: str, action: str, resources: tuple[Resource, ...]) -> Match:
        """Rules whose agents and actions cover the request and whose resources touch it.

        Resources are the sets they denote: a wildcard request touches every rule whose
        patterns intersect it (a literal deny pattern included), so the strictest rule
        any covered ARN would get applies to the whole request.
        """
        candidates = self.candidates(agent, action)
        if not candidates:
            return NO_MATCH
        keys = [resource_key(r.arn) for r in resources]
        touching: list[CompiledRule] = []
        covered = False
        for c in candidates:
            touched, covers = c.relation(keys)
            if touched:
                touching.append(c)
                covered = covered or covers
        if not touching:
            return NO_MATCH
        return Match(tuple(touching), covered)
