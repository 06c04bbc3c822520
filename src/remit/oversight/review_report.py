"""The result of a review, pure: per stratum, how many sampled decisions were reviewed,
how many were found inappropriate (or allowed by a policy gap), the error rate and its
upper confidence bound; and, per rule, a concrete envelope change when a rule collects
inappropriate verdicts ("R7: 3 of 41 inappropriate → tier approve").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from remit.domain.tiers import Tier
from remit.ledger.kinds import ReviewSampleRecord
from remit.oversight.stats import upper_bound


@dataclass(frozen=True, slots=True)
class StratumResult:
    tier: str
    agent: str
    population: int
    sampled: int
    reviewed: int
    inappropriate: int
    policy_gap: int
    error_rate: float | None
    upper_bound: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "agent": self.agent,
            "population": self.population,
            "sampled": self.sampled,
            "reviewed": self.reviewed,
            "inappropriate": self.inappropriate,
            "policy_gap": self.policy_gap,
            "error_rate": self.error_rate,
            "upper_bound": self.upper_bound,
        }


@dataclass(frozen=True, slots=True)
class Suggestion:
    rule: str
    inappropriate: int
    reviewed: int
    tier: str

    def __str__(self) -> str:
        return (
            f"{self.rule}: {self.inappropriate} of {self.reviewed} inappropriate → tier {self.tier}"
        )


@dataclass(frozen=True, slots=True)
class ReviewReport:
    sample_id: str
    confidence: float
    max_rate: float
    strata: tuple[StratumResult, ...]
    suggestions: tuple[Suggestion, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "sample_id": self.sample_id,
            "confidence": self.confidence,
            "max_rate": self.max_rate,
            "strata": [s.to_dict() for s in self.strata],
            "suggestions": [{**_plain(s), "text": str(s)} for s in self.suggestions],
        }


def _plain(s: Suggestion) -> dict[str, Any]:
    return {
        "rule": s.rule,
        "inappropriate": s.inappropriate,
        "reviewed": s.reviewed,
        "tier": s.tier,
    }


def _stricter(tier: Tier) -> Tier:
    """What a rule whose decisions reviewers found inappropriate should become: what ran
    without a human waits for one; what waited is denied."""
    return Tier.DENY if tier in (Tier.APPROVE, Tier.DENY) else Tier.APPROVE


def report(
    sample: ReviewSampleRecord,
    verdicts: Mapping[str, str],
    rules: Mapping[str, Sequence[str]],
) -> ReviewReport:
    """The review of `sample` given `verdicts` (decision id → verdict) and each sampled
    decision's rules (decision id → rule ids)."""
    results = []
    per_rule: dict[str, list[int]] = {}
    loosest: dict[str, Tier] = {}
    for s in sample.strata:
        found = [verdicts[d] for d in s.decision_ids if d in verdicts]
        bad = sum(1 for v in found if v == "inappropriate")
        gap = sum(1 for v in found if v == "policy_gap")
        n = len(found)
        census = n == s.population  # every decision of the stratum reviewed
        bound = None if n == 0 else (bad / n if census else upper_bound(bad, n, sample.confidence))
        results.append(
            StratumResult(
                s.tier, s.agent, s.population, len(s.decision_ids), n, bad, gap,
                None if n == 0 else bad / n, bound,
            )
        )  # fmt: skip
        for d in s.decision_ids:
            if d not in verdicts:
                continue
            for r in rules.get(d, ()):
                counts = per_rule.setdefault(r, [0, 0])
                counts[1] += 1
                if verdicts[d] == "inappropriate":
                    counts[0] += 1
                    tier = Tier(s.tier)
                    if r not in loosest or tier.rank < loosest[r].rank:
                        loosest[r] = tier
    suggestions = tuple(
        Suggestion(r, bad, n, _stricter(loosest[r]).value)
        for r, (bad, n) in sorted(per_rule.items())
        if bad
    )
    return ReviewReport(
        sample.sample_id, sample.confidence, sample.max_rate, tuple(results), suggestions
    )
