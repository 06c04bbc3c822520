"""Drift detection benchmark (issue 15): a Monte-Carlo simulation of decision streams
through the same multi-signal detector Remit runs (`remit.oversight.drift.DriftMonitor`,
fed past the record parsing with `observe_features` / `observe_resolution`).

One job: for the declared plan (default: one false alarm per 20,000 decisions of an agent,
all signals together, 90% of that budget to the composite high-risk test; a rise of 0.10
to detect, baseline of 2,000 decisions, thresholds guarded at one standard error), measure

* the AGENT-LEVEL detection delay (decisions after the shift until any signal's test
  alarms; median, 90th percentile, mean, and which signal fired) after the high-risk
  share shifts from 20% to 30% and to 40% (targets: median ≤ 200 and ≤ 80), and after
  shifts in single other signals (deny 2% → 10%, actions never seen before 0 → 10%,
  low confidence 5% → 15%, approval rejects 10% → 40% of held decisions), each run
  learning its own baseline first; and
* the AGENT-LEVEL false-alarm rate without drift (alarms of any signal per decision over
  in-control streams that learn their own baseline; target ≤ 1 per 20,000), with the
  alarms per signal, beside each test's exact (Markov-chain) run length.

The simulated agent: 20% high-risk decisions in control, made of deny 2%, held 5%,
fallback 2%, confidence under 0.8 5% (independent) and permissions/write access 7.7%;
actions drawn from 200 with Zipf weights (a long tail, so some in-control decisions show
an action the baseline never saw); 1 resource (70%), 2 (20%) or 3–6 (10%); each held
decision resolved right after it, rejected 10% of the time.

Usage::

    python benchmarks/bench_drift.py            # a few minutes on this machine
    python benchmarks/bench_drift.py --quick    # under a minute, fewer runs

Writes benchmarks/results/drift.json (drift-quick.json for --quick).
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from remit.oversight.cusum import Cusum
from remit.oversight.drift import DesignCache, DriftMonitor, DriftPlan, Signature
from remit.oversight.signals import SIGNALS, Features

SIG: Signature = ("m@1", "p", "sha256:e", "-", "-")
ACTIONS = 200
WEIGHTS = list(itertools.accumulate(1 / (k + 1) for k in range(ACTIONS)))


@dataclass(frozen=True)
class Mix:
    """One agent's behaviour: the probability of each part of a decision."""

    access: float = 0.0769  # permissions management or write: 20% high-risk overall
    deny: float = 0.02
    held: float = 0.05
    fallback: float = 0.02
    low: float = 0.05
    unseen: float = 0.0  # decisions using an action outside the agent's usual 200
    reject: float = 0.10  # of held decisions


def access_for(high_risk: float, m: Mix) -> float:
    """The access share that makes the composite high-risk share `high_risk`."""
    rest = (1 - m.deny) * (1 - m.held) * (1 - m.fallback) * (1 - m.low)
    return 1 - (1 - high_risk) / rest


SCENARIOS: dict[str, tuple[Mix, Mix, int | None]] = {
    "high_risk_0.2_to_0.3": (Mix(), replace(Mix(), access=access_for(0.3, Mix())), 200),
    "high_risk_0.2_to_0.4": (Mix(), replace(Mix(), access=access_for(0.4, Mix())), 80),
    "deny_0.02_to_0.10": (Mix(), replace(Mix(), deny=0.10), None),
    "new_action_0_to_0.10": (Mix(), replace(Mix(), unseen=0.10), None),
    "low_confidence_0.05_to_0.15": (Mix(), replace(Mix(), low=0.15), None),
    "approval_reject_0.1_to_0.4": (Mix(), replace(Mix(), reject=0.40), None),
}


class Agent:
    """Draws decisions of one mix and feeds them to a monitor."""

    def __init__(self, rng: random.Random, plan: DriftPlan, cache: DesignCache) -> None:
        self.rng, self.monitor, self.i = rng, DriftMonitor(plan, cache), 0

    def step(self, m: Mix) -> str | None:
        """One decision (and its resolution when held): the signal of an alarm, or None."""
        r = self.rng.random
        deny = r() < m.deny
        held = not deny and r() < m.held
        fallback, low, access = r() < m.fallback, r() < m.low, r() < m.access
        if m.unseen and r() < m.unseen:
            action = f"new:{self.rng.randrange(1_000_000)}"
        else:
            action = f"a{self.rng.choices(range(ACTIONS), cum_weights=WEIGHTS)[0]}"
        u = r()
        resources = 1 if u < 0.7 else 2 if u < 0.9 else self.rng.randint(3, 6)
        f = Features(access or deny or held or fallback or low, deny, held, fallback, low,
                     action, resources)  # fmt: skip
        self.i += 1
        alarm = self.monitor.observe_features(self.i, "a", f"d{self.i}", SIG, f)
        if alarm is None and held:
            self.i += 1
            alarm = self.monitor.observe_resolution(self.i, "a", f"d{self.i - 1}", r() < m.reject)
        return None if alarm is None else alarm.signal

    def armed(self) -> bool:
        a = self.monitor.agents.get("a")
        return a is not None and a.reference is not None

    def restart(self) -> None:
        """After a false alarm: clear the flag, every test from zero, same baseline."""
        a = self.monitor.agents["a"]
        a.flagged = None
        a.tests = {n: Cusum(c.design) for n, c in a.tests.items()}


def learn(agent: Agent, m: Mix) -> None:
    while not agent.armed():
        agent.step(m)


def delays(
    rng: random.Random, plan: DriftPlan, cache: DesignCache, before: Mix, after: Mix, runs: int,
    pre: int,
) -> tuple[list[int], Counter[str], int]:  # fmt: skip
    """Agent-level delays after a shift at `pre` decisions past the baseline, the signal
    each alarm named; runs that alarmed before the shift are counted and restarted."""
    out: list[int] = []
    fired: Counter[str] = Counter()
    early = 0
    while len(out) < runs:
        agent = Agent(rng, plan, cache)
        learn(agent, before)
        if any(agent.step(before) for _ in range(pre)):
            early += 1
            continue
        n = 0
        while True:
            n += 1
            got = agent.step(after)
            if got is not None:
                fired[got] += 1
                break
        out.append(n)
    return out, fired, early


def false_alarms(
    rng: random.Random, plan: DriftPlan, cache: DesignCache, streams: int, length: int
) -> tuple[Counter[str], int]:
    fired: Counter[str] = Counter()
    for _ in range(streams):
        agent = Agent(rng, plan, cache)
        learn(agent, Mix())
        for _ in range(length):
            got = agent.step(Mix())
            if got is not None:
                fired[got] += 1
                agent.restart()
    return fired, streams * length


def pct(xs: list[int], q: float) -> float:
    s = sorted(xs)
    return float(s[min(len(s) - 1, int(q * len(s)))])


def designs(plan: DriftPlan, cache: DesignCache) -> dict[str, object]:
    """Each test as one in-control baseline arms it."""
    agent = Agent(random.Random(1), plan, cache)
    learn(agent, Mix())
    a = agent.monitor.agents["a"]
    return {
        n: {
            "p0": c.design.p0,
            "p1": c.design.p1,
            "steps": [c.design.up, -c.design.down],
            "threshold": c.design.threshold,
            "arl0_exact_at_guard": round(c.design.arl0, 1),
            "arl0_share": round(plan.signal_arl0(n), 1),
            "arl1_exact": round(c.design.arl1, 1),
        }
        for n, c in a.tests.items()
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seed", type=int, default=15)
    args = ap.parse_args()
    plan = DriftPlan()
    rng = random.Random(args.seed)
    cache: DesignCache = {}
    runs, other_runs = (200, 100) if args.quick else (1000, 300)
    streams, length = (30, 20_000) if args.quick else (300, 20_000)
    t0 = time.perf_counter()
    share = [1 / plan.signal_arl0(n) for n in SIGNALS]
    result: dict[str, object] = {
        "plan": {
            "arl0": plan.arl0,
            "primary_share": plan.primary_share,
            "shift": plan.shift,
            "baseline_size": plan.baseline_size,
            "guard_z": plan.guard_z,
            "signals": list(SIGNALS),
            "sum_of_rates_one_per": round(1 / sum(share), 1),
        },
        "designs_at_one_baseline": designs(plan, cache),
    }
    for name, (before, after, target) in SCENARIOS.items():
        n = runs if target is not None else other_runs
        d, fired, early = delays(rng, plan, cache, before, after, n, pre=200)
        result[f"delay_{name}"] = {
            "runs": n,
            "median": statistics.median(d),
            "p90": pct(d, 0.9),
            "mean": round(statistics.fmean(d), 1),
            "target_median": target,
            "met": None if target is None else statistics.median(d) <= target,
            "fired_by": dict(fired.most_common()),
            "alarmed_before_shift": early,
        }
        print(name, result[f"delay_{name}"], flush=True)
    fired, total = false_alarms(rng, plan, cache, streams, length)
    alarms = sum(fired.values())
    result["false_alarms"] = {
        "decisions": total,
        "alarms": alarms,
        "by_signal": dict(fired.most_common()),
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
