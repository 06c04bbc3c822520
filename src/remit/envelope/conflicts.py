"""Conflicts between an envelope's rules and its regulations (C9), found statically.

A rule conflicts with a regulation when one of its resource patterns overlaps one of the
regulation's resource patterns and the rule's tier is one the regulation forbids. Tag-only
regulations cannot be checked statically; they are enforced at decision time and listed
here as such, so nobody mistakes "no conflicts" for "checked".
"""

from __future__ import annotations

from dataclasses import dataclass

from remit.domain.envelope import Envelope
from remit.domain.patterns import globs_overlap


@dataclass(frozen=True)
class Conflict:
    """A rule whose tier a regulation forbids on resources both can cover."""

    rule_id: str
    regulation_id: str
    tier: str
    rule_pattern: str
    regulation_pattern: str

    def __str__(self) -> str:
        return (
            f"rule {self.rule_id} ({self.tier}) covers {self.rule_pattern}, which overlaps "
            f"{self.regulation_pattern} of regulation {self.regulation_id}, and "
            f"{self.regulation_id} forbids {self.tier}"
        )


def find_conflicts(envelope: Envelope) -> list[Conflict]:
    """Every (rule, regulation) conflict, in envelope order."""
    out = []
    for reg in envelope.regulations:
        if not reg.match.resources:
            continue
        for rule in envelope.rules:
            if rule.tier not in reg.forbid_tiers:
                continue
            pair = next(
                (
                    (rp, gp)
                    for rp in rule.resources
                    for gp in reg.match.resources
                    if globs_overlap(rp, gp)
                ),
                None,
            )
            if pair:
                out.append(Conflict(rule.id, reg.id, rule.tier.value, pair[0], pair[1]))
    return out


def tag_only_regulations(envelope: Envelope) -> list[str]:
    """Regulations that select resources by tags alone (enforced per request)."""
    return [r.id for r in envelope.regulations if not r.match.resources]
