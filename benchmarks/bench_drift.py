"""Drift detection benchmark (issue 15): a Monte-Carlo simulation of decision streams
through the same baseline estimate and CUSUM design Remit uses (`remit.oversight.drift`).

One job: for the declared plan (default: one false alarm per 20,000 decisions, a rise of
0.10 to detect, baseline of 2,000 decisions, threshold guarded at one standard error), measure

* the detection delay after the high-risk share shifts from 20% to 30% and to 40%
  (median and 90th percentile, in decisions after the shift; targets ≤ 200 and ≤ 80
  median), each run learning its own baseline first; and
* the false-alarm rate without drift (alarms per decision over in-control streams that
  learn their own baseline; target ≤ 1 per 20,000), beside the exact rate the design
  declares (its Markov-chain ARL0).

Usage::

    python benchmarks/bench_drift.py            # ~1 min on this machine
    python benchmarks/bench_drift.py --quick    # ~10 s, fewer runs

Writes benchmarks/results/drift.json (drift-quick.json for --quick).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

from remit.oversight.cusum import Cusum, CusumDesign
from remit.oversight.drift import DesignCache, DriftPlan, baseline_rate, design_for


def learn(rng: random.Random, p: float, plan: DriftPlan, cache: DesignCache) -> CusumDesign:
    hits = sum(rng.random() < p for _ in range(plan.baseline_size))
    n = plan.baseline_size
    return design_for(baseline_rate(n, hits), n, plan, cache)


def delays(
    rng: random.Random,
    plan: DriftPlan,
    cache: DesignCache,
    p0: float,
    p1: float,
    runs: int,
    pre: int,
) -> tuple[list[int], int]:
    """Detection delays after a shift at `pre` decisions past the baseline; runs that
    alarmed before the shift are counted and restarted."""
    out, early = [], 0
    while len(out) < runs:
        c = Cusum(learn(rng, p0, plan, cache))
        if any(c.update(rng.random() < p0) for _ in range(pre)):
            early += 1
            continue
        n = 0
        while True:
            n += 1
            if c.update(rng.random() < p1):
                break
        out.append(n)
    return out, early


def false_alarms(
    rng: random.Random, plan: DriftPlan, cache: DesignCache, p0: float, streams: int, length: int
) -> tuple[int, int]:
    alarms = 0
    for _ in range(streams):
        c = Cusum(learn(rng, p0, plan, cache))
        for _ in range(length):
            if c.update(rng.random() < p0):
                alarms += 1
                c.statistic = 0  # restart after an alarm, as a review would
    return alarms, streams * length


def pct(xs: list[int], q: float) -> float:
    s = sorted(xs)
    return float(s[min(len(s) - 1, int(q * len(s)))])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seed", type=int, default=15)
    args = ap.parse_args()
    plan = DriftPlan()
    rng = random.Random(args.seed)
    cache: DesignCache = {}
    runs = 300 if args.quick else 2000
    streams, length = (60, 20_000) if args.quick else (500, 20_000)
    t0 = time.perf_counter()
    declared = design_for(0.2, plan.baseline_size, plan, cache)
    result: dict[str, object] = {
        "plan": {
            "arl0": plan.arl0,
            "shift": plan.shift,
            "baseline_size": plan.baseline_size,
            "guard_z": plan.guard_z,
        },
        "design_at_p0_0.2": {
            "up": declared.up,
            "down": declared.down,
            "threshold": declared.threshold,
            "arl0_exact_at_guard": round(declared.arl0, 1),
            "arl1_exact_at_0.3": round(declared.arl1, 1),
        },
    }
    for p1, target in ((0.3, 200), (0.4, 80)):
        d, early = delays(rng, plan, cache, 0.2, p1, runs, pre=200)
        result[f"delay_0.2_to_{p1}"] = {
            "runs": runs,
            "median": statistics.median(d),
            "p90": pct(d, 0.9),
            "mean": round(statistics.fmean(d), 1),
            "target_median": target,
            "met": statistics.median(d) <= target,
            "alarmed_before_shift": early,
        }
    alarms, total = false_alarms(rng, plan, cache, 0.2, streams, length)
    result["false_alarms"] = {
        "decisions": total,
        "alarms": alarms,
        "per_decision": alarms / total,
        "one_per": round(total / alarms) if alarms else None,
        "target_one_per": plan.arl0,
        "met": alarms / total <= 1 / plan.arl0,
    }
    result["seconds"] = round(time.perf_counter() - t0, 1)
    print(json.dumps(result, indent=2))
    out = Path(__file__).parent / "results" / ("drift-quick.json" if args.quick else "drift.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
