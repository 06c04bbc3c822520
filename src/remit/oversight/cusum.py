"""A Bernoulli CUSUM with a declared false-alarm rate, pure (C8).

The statistic watches a 0/1 stream (e.g. "this decision was high-risk") whose in-control
rate `p0` comes from a baseline window, tuned to detect a rise to `p1`. Each observation
adds its log-likelihood ratio, scaled to small integers (`up` for a 1, `-down` for a 0,
in the ratio ln(p1/p0) : -ln((1-p1)/(1-p0))), and the sum is floored at zero; it alarms
at `threshold`. With integer steps the statistic is a finite Markov chain, so the
average run length to a false alarm (ARL0) and the detection delay at `p1` are computed
exactly, not assumed: with `up` = 1 (a common rate, where the ratio is near 1:1 and
thresholds run to the tens of thousands) as a sum of one-level passage times in one
pass, otherwise as a banded linear system; the threshold is the smallest whose ARL0
reaches the declared one. `split_budget` shares one declared rate among several such
tests. `benchmarks/bench_drift.py` measures both by simulation.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

MAX_DOWN = 8
"""The largest integer a 0 may subtract: the ratio of the two steps is matched within
this resolution."""
MAX_UP = 24
"""The largest integer a 1 may add: for a rare signal (p0 of a few percent) the ratio is
large, and a capped step keeps the threshold, and so the run-length system, small. The
run lengths stay exact for the integer chain whatever the steps; the cap only costs a
little optimality."""


def steps(p0: float, p1: float) -> tuple[int, int]:
    """(up, down): small integers (up ≤ MAX_UP, down ≤ MAX_DOWN) in the ratio of the
    log-likelihood ratios, the closest such ratio (the smallest `down` on a tie)."""
    if not 0.0 < p0 < p1 < 1.0:
        raise ValueError(f"need 0 < p0 < p1 < 1, got p0={p0}, p1={p1}")
    a = math.log(p1 / p0)
    b = -math.log((1 - p1) / (1 - p0))
    ratio = Fraction(a / b).limit_denominator(MAX_DOWN)
    if ratio.numerator <= MAX_UP:
        return max(ratio.numerator, 1), ratio.denominator
    r = a / b
    best = min(
        ((min(max(round(r * d), 1), MAX_UP), d) for d in range(1, MAX_DOWN + 1)),
        key=lambda ud: (abs(ud[0] / ud[1] - r), ud[1]),
    )
    return best


def split_budget(arl0: float, primary_share: float, others: int) -> tuple[float, float]:
    """(primary ARL0, each other signal's ARL0) when `others` further tests share what the
    primary leaves of the declared false-alarm rate 1/`arl0`: 1/ARL0_primary =
    primary_share/arl0 and 1/ARL0_other = (1 - primary_share)/(others·arl0), so the rates
    sum to 1/arl0. An agent's first false alarm is the first of any of its tests, whose
    rate is at most that sum (the union bound), so the declared rate holds per agent."""
    if not 0.0 < primary_share <= 1.0:
        raise ValueError(f"primary_share must be in (0, 1], got {primary_share}")
    if others < 0 or (others == 0 and primary_share < 1.0):
        raise ValueError("the rest of the budget needs at least one other signal")
    primary = arl0 / primary_share
    other = math.inf if others == 0 else arl0 * others / (1.0 - primary_share)
    return primary, other


MAX_THRESHOLD = 1_000_000
"""Past this no design is made: the detector could not alarm in any useful time."""


def _climb(p: float, down: int, limit: float, max_levels: int) -> tuple[int, float]:
    """For `up` = 1: (h, ARL to reach h from zero) for the smallest h whose ARL reaches
    `limit`, else for h = `max_levels`. The statistic climbs one level at a time, so the
    run length to h is m_0 + … + m_{h-1}, where m_k, the mean time from k to k+1, solves
    m_k = 1 + (1-p)·(m_j + … + m_k) with j = max(k - down, 0), the level a 0 drops to."""
    q = 1.0 - p
    sums = [0.0]  # sums[k] = m_0 + … + m_{k-1}
    total = 0.0
    for k in range(max_levels):
        m = (1.0 + q * (total - sums[max(k - down, 0)])) / p
        total += m
        sums.append(total)
        if total >= limit:
            return k + 1, total
    return max_levels, total


def run_length(p: float, up: int, down: int, threshold: int) -> float:
    """The exact average run length from zero to an alarm when each observation is 1
    with probability `p`: solves L_i = 1 + p·L_{i+up} + (1-p)·L_{max(i-down,0)} for
    i < threshold, with L_i = 0 at or past the threshold."""
    n = threshold
    if n <= 0:
        return 0.0
    if up == 1:
        return _climb(p, down, math.inf, n)[1]
    return _banded_run_length(p, up, down, n)


def _banded_run_length(p: float, up: int, down: int, n: int) -> float:
    """`run_length` for any steps, by elimination on the banded system: row i held as the
    list of its band, columns i-down … i+up (list arithmetic, not a dict per row: a design
    solves it a dozen times, on the service's thread beside its requests)."""
    # Elimination without pivoting: the matrix is an M-matrix (diagonally dominant by
    # columns after the floor), and its fill-in stays within the band.
    lo, hi = down, up
    width = lo + hi + 1
    q = 1.0 - p
    rows: list[list[float]] = []
    for i in range(n):
        row = [0.0] * width  # row[j - i + lo] is column j
        row[lo] = 1.0
        if i + up < n:
            row[lo + up] -= p
        row[max(i - down, 0) - i + lo] -= q
        rows.append(row)
    rhs = [1.0] * n
    for k in range(n):
        pivot_row = rows[k]
        pivot = pivot_row[lo]
        if abs(pivot) < 1e-300:
            raise ArithmeticError("singular run-length system")
        upper = pivot_row[lo : lo + hi + 1]  # columns k … k+hi
        for i in range(k + 1, min(n, k + lo + 1)):
            row = rows[i]
            at = k - i + lo  # column k in row i
            f = row[at]
            if not f:
                continue
            f /= pivot
            band = zip(row[at : at + hi + 1], upper, strict=True)
            row[at : at + hi + 1] = [a - f * b for a, b in band]
            row[at] = 0.0
            rhs[i] -= f * rhs[k]
    out = [0.0] * n
    for i in range(n - 1, -1, -1):
        row = rows[i]
        s = rhs[i]
        for j in range(i + 1, min(n, i + hi + 1)):
            s -= row[j - i + lo] * out[j]
        out[i] = s / row[lo]
    return out[0]


@dataclass(frozen=True, slots=True)
class CusumDesign:
    """A tuned detector: rates, integer steps, threshold, and its exact run lengths."""

    p0: float
    p1: float
    up: int
    down: int
    threshold: int
    arl0: float
    arl1: float

    @property
    def false_alarm_rate(self) -> float:
        """False alarms per observation in control (1 / ARL0)."""
        return 1.0 / self.arl0


def design(p0: float, p1: float, arl0: float, guard: float | None = None) -> CusumDesign:
    """The detector for `p0` → `p1` with the smallest threshold whose in-control ARL is at
    least `arl0` (one false alarm per `arl0` observations) — at the rate `guard` (≥ p0)
    when given: the highest in-control rate the baseline leaves plausible, so that an
    estimated p0 a little low does not raise the false-alarm rate."""
    pc = p0 if guard is None else max(guard, p0)
    if pc >= p1:
        raise ValueError(f"the guarded in-control rate {pc} must stay below p1 {p1}")
    if arl0 < 2:
        raise ValueError(f"the declared in-control run length must be at least 2, got {arl0}")
    up, down = steps(p0, p1)
    drift = pc * up - (1 - pc) * down  # per observation, in control
    if drift > 0 and arl0 * drift > MAX_THRESHOLD:  # climbs anyway: ARL ≈ threshold/drift
        raise ValueError("no threshold reaches the declared run length")
    if up == 1:
        h, reached = _climb(pc, down, arl0, MAX_THRESHOLD)
        if reached < arl0:
            raise ValueError("no threshold reaches the declared run length")
        return CusumDesign(p0, p1, up, down, h, reached, run_length(p1, up, down, h))
    h, reached = _smallest_threshold(lambda t: run_length(pc, up, down, t), arl0, up + down)
    return CusumDesign(p0, p1, up, down, h, reached, run_length(p1, up, down, h))


def _smallest_threshold(
    arl: Callable[[int], float], target: float, start: int
) -> tuple[int, float]:
    """(h, arl(h)) for the smallest h ≥ 1 with arl(h) ≥ `target`, `arl` increasing. The run
    length grows about geometrically with the threshold, so h is guessed by interpolating
    log arl between the bracket's ends (falling back to halving when a guess gains little):
    a handful of solves instead of the dozen a bisection takes, the same h."""
    lo, lo_arl = 0, 1.0  # arl(lo) < target (h = 0 alarms at once)
    hi, hi_arl = start, arl(start)
    while hi_arl < target:
        lo, lo_arl = hi, hi_arl
        hi *= 2
        if hi > MAX_THRESHOLD:
            raise ValueError("no threshold reaches the declared run length")
        hi_arl = arl(hi)
    while hi - lo > 1:
        guess = (lo + hi) // 2
        if 1.0 <= lo_arl < hi_arl:
            share = math.log(target / lo_arl) / math.log(hi_arl / lo_arl)
            guess = min(max(lo + math.ceil(share * (hi - lo)), lo + 1), hi - 1)
            if guess - lo > 1 and hi - guess > 1 and (hi - lo) > 8:
                # probe just below the guess too, so an accurate guess closes the bracket
                below = arl(guess - 1)
                if below >= target:
                    hi, hi_arl = guess - 1, below
                    continue
                lo, lo_arl = guess - 1, below
        at = arl(guess)
        if at >= target:
            hi, hi_arl = guess, at
        else:
            lo, lo_arl = guess, at
    return hi, hi_arl


@dataclass(slots=True)
class Cusum:
    """The running statistic of one stream under `design`."""

    design: CusumDesign
    statistic: int = 0
    seen: int = 0

    def update(self, hit: bool) -> bool:
        """Take one observation; True when the statistic reaches the threshold."""
        d = self.design
        self.seen += 1
        self.statistic = self.statistic + d.up if hit else max(self.statistic - d.down, 0)
        return self.statistic >= d.threshold
