"""The statistics of attribute sampling, pure: how many decisions a stratum needs for a
claim ("error rate under 1% at 95% confidence when no deviation is found"), and the
one-sided upper confidence bound on an error rate from what reviewers found
(Clopper–Pearson, exact for the binomial; conservative for a finite stratum).
"""

from __future__ import annotations

import math

DEFAULT_CONFIDENCE = 0.95
DEFAULT_MAX_RATE = 0.01


MIN_RATE = 1e-6
"""The smallest error rate a plan may claim (a smaller one asks for millions of draws)."""


def plan_size(confidence: float = DEFAULT_CONFIDENCE, max_rate: float = DEFAULT_MAX_RATE) -> int:
    """The smallest n such that finding no deviation in n draws bounds the error rate
    below `max_rate` at `confidence`: (1 - max_rate)^n <= 1 - confidence (299 for the
    defaults)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 exclusive, got {confidence}")
    if not MIN_RATE <= max_rate < 1.0:
        raise ValueError(
            f"the error rate to claim must be at least {MIN_RATE} and below 1, got {max_rate}"
        )
    n = math.ceil(math.log1p(-confidence) / math.log1p(-max_rate))
    while n > 1 and (1.0 - max_rate) ** (n - 1) <= 1.0 - confidence:  # float rounding
        n -= 1
    return n


def _binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    if p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 1.0 if k >= n else 0.0
    lp, lq = math.log(p), math.log1p(-p)
    total = 0.0
    for i in range(k + 1):
        total += math.exp(
            math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq
        )
    return min(total, 1.0)


def upper_bound(deviations: int, n: int, confidence: float = DEFAULT_CONFIDENCE) -> float:
    """The one-sided Clopper–Pearson upper bound on the error rate after `deviations` in
    `n` reviewed: the largest p with P(X <= deviations; n, p) >= 1 - confidence."""
    if n <= 0:
        return 1.0
    if not 0 <= deviations <= n:
        raise ValueError(f"deviations must be between 0 and {n}, got {deviations}")
    if deviations == n:
        return 1.0
    alpha = 1.0 - confidence
    lo, hi = deviations / n, 1.0
    for _ in range(60):  # bisection: the CDF falls as p grows
        mid = (lo + hi) / 2
        if _binom_cdf(deviations, n, mid) > alpha:
            lo = mid
        else:
            hi = mid
    return hi
