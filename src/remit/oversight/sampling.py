"""The shadow-governance review sample (C4), pure: a stratified random sample of a
period's decisions that nobody can predict or steer before the period closes.

Selection is keyed by the root of a signed checkpoint taken after the period ended:
the key is SHA-256(`KEY_LABEL` ‖ root), each decision's score is
HMAC-SHA256(key, decision id), and each stratum (tier, agent) keeps its `size` lowest
scores. The root commits to every entry up to the checkpoint, including entries after
the period, so no actor of the period could know it; anyone holding the checkpoint and
the period's decision ids recomputes the same sample. Strata of autonomous and notify
decisions come first (what ran without a human).
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from remit.domain.tiers import Tier

KEY_LABEL = b"remit/review-sample/v1\n"
METHOD = (
    "key = SHA-256('remit/review-sample/v1\\n' || checkpoint root); score = "
    "HMAC-SHA256(key, decision id); per (tier, agent) stratum the n lowest scores, "
    "n = min(plan size, stratum size)"
)
TIER_ORDER = (Tier.AUTONOMOUS, Tier.NOTIFY, Tier.APPROVE, Tier.DENY)
DEFAULT_TIERS = (Tier.AUTONOMOUS, Tier.NOTIFY)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A decision of the period: its id, tier and agent."""

    decision_id: str
    tier: Tier
    agent: str


@dataclass(frozen=True, slots=True)
class Stratum:
    """One (tier, agent) stratum: how many decisions it had, and those drawn."""

    tier: Tier
    agent: str
    population: int
    decision_ids: tuple[str, ...]


def sample_key(root: bytes) -> bytes:
    return hashlib.sha256(KEY_LABEL + root).digest()


def score(key: bytes, decision_id: str) -> bytes:
    return hmac.new(key, decision_id.encode(), hashlib.sha256).digest()


def draw(
    candidates: Iterable[Candidate], root: bytes, size: int, tiers: Iterable[Tier] = DEFAULT_TIERS
) -> list[Stratum]:
    """The sample: per (tier, agent) stratum of `tiers`, the `size` decisions with the
    lowest scores (all of a smaller stratum), ordered by score. Strata in tier order
    (autonomous first), then agent."""
    if size < 1:
        raise ValueError(f"the sample size per stratum must be at least 1, got {size}")
    wanted = frozenset(tiers)
    key = sample_key(root)
    mac = hmac.new(key, digestmod=hashlib.sha256)
    heaps: dict[tuple[Tier, str], list[tuple[int, str]]] = {}
    counts: dict[tuple[Tier, str], int] = {}
    for c in candidates:
        if c.tier not in wanted:
            continue
        k = (c.tier, c.agent)
        counts[k] = counts.get(k, 0) + 1
        h = mac.copy()
        h.update(c.decision_id.encode())
        heap = heaps.setdefault(k, [])
        # a max-heap (negated scores) of the `size` lowest scores seen so far
        neg = (-int.from_bytes(h.digest(), "big"), c.decision_id)
        if len(heap) < size:
            heapq.heappush(heap, neg)
        elif neg > heap[0]:
            heapq.heapreplace(heap, neg)
    out = []
    for tier, agent in sorted(heaps, key=lambda k: (TIER_ORDER.index(k[0]), k[1])):
        kept = sorted((-s, d) for s, d in heaps[(tier, agent)])
        out.append(Stratum(tier, agent, counts[(tier, agent)], tuple(d for _, d in kept)))
    return out
