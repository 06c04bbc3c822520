"""The attribute-sampling plan, the confidence bound, and the keyed stratified draw
(issue 15 §2), checked against independent computations."""

from __future__ import annotations

import hashlib
import hmac
import math

import pytest

from remit.domain.tiers import Tier
from remit.oversight.sampling import KEY_LABEL, Candidate, draw
from remit.oversight.stats import plan_size, upper_bound


def test_default_plan_is_299_per_stratum() -> None:
    assert plan_size() == 299
    assert 0.99**299 <= 0.05 < 0.99**298  # the defining inequality, independently
    assert plan_size(0.95, 0.05) == 59
    assert plan_size(0.99, 0.01) == 459


@pytest.mark.parametrize(
    ("confidence", "rate"), [(0.0, 0.01), (1.0, 0.01), (0.95, 0.0), (0.95, 5e-324), (0.95, 1e-7)]
)
def test_plan_refuses_impossible_claims(confidence: float, rate: float) -> None:
    with pytest.raises(ValueError):
        plan_size(confidence, rate)


def _cdf(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))


@pytest.mark.parametrize(("k", "n"), [(0, 299), (3, 41), (1, 10), (5, 300)])
def test_upper_bound_is_the_clopper_pearson_bound(k: int, n: int) -> None:
    ub = upper_bound(k, n, 0.95)
    assert abs(_cdf(k, n, ub) - 0.05) < 1e-6
    assert ub > k / n


def test_no_deviation_in_299_supports_the_one_percent_claim() -> None:
    assert upper_bound(0, 299) < 0.01 < upper_bound(0, 298)
    assert upper_bound(0, 0) == 1.0 and upper_bound(4, 4) == 1.0


def population() -> list[Candidate]:
    out = [Candidate(f"dec-a-{i}", Tier.AUTONOMOUS, "bot") for i in range(500)]
    out += [Candidate(f"dec-n-{i}", Tier.NOTIFY, "bot") for i in range(40)]
    out += [Candidate(f"dec-o-{i}", Tier.AUTONOMOUS, "other") for i in range(300)]
    out += [Candidate(f"dec-d-{i}", Tier.DENY, "bot") for i in range(30)]
    return out


def test_draw_is_reproducible_by_anyone_with_the_root() -> None:
    root = hashlib.sha256(b"some checkpoint").digest()
    strata = draw(population(), root, 25)
    # Recompute independently: key, HMAC of each id, 25 lowest per stratum.
    key = hashlib.sha256(KEY_LABEL + root).digest()
    for s in strata:
        ids = [c.decision_id for c in population() if (c.tier, c.agent) == (s.tier, s.agent)]
        ids.sort(key=lambda d: hmac.new(key, d.encode(), hashlib.sha256).digest())
        assert s.decision_ids == tuple(ids[:25])
        assert s.population == len(ids)
    assert [(s.tier, s.agent) for s in strata] == [
        (Tier.AUTONOMOUS, "bot"), (Tier.AUTONOMOUS, "other"), (Tier.NOTIFY, "bot")
    ]  # fmt: skip
    assert draw(list(reversed(population())), root, 25) == strata  # order does not matter


def test_another_root_draws_another_sample() -> None:
    one = draw(population(), b"\x01" * 32, 25)
    two = draw(population(), b"\x02" * 32, 25)
    assert one[0].decision_ids != two[0].decision_ids


def test_a_small_stratum_is_taken_whole_and_tiers_are_chosen() -> None:
    strata = draw(population(), b"\x00" * 32, 299, tiers=[Tier.NOTIFY, Tier.DENY])
    assert [(s.tier, len(s.decision_ids), s.population) for s in strata] == [
        (Tier.NOTIFY, 40, 40), (Tier.DENY, 30, 30)
    ]  # fmt: skip
