"""Gate latency benchmark: Remit's ``Gate.decide`` against cedarpy and AGT's PolicyEvaluator.

One job: for rule sets of 10, 100, 1,000 and 10,000 rules (``benchmarks.rulesets``),
build every registered engine once, check that each gives the same allow/deny answer
as the linear-scan reference (``benchmarks.reference``) on the queries, time each
engine's per-call latency, print the results (Rich tables) and write them as JSON to
``benchmarks/results/gate.json`` (``gate-quick.json`` for ``--quick``, so a quick run
never overwrites full results).

Usage::

    python benchmarks/bench_gate.py            # full run, < 5 min on 2 cores
    python benchmarks/bench_gate.py --quick    # 10/100/1,000 rules, < 30 s
    python benchmarks/bench_gate.py --full-verify      # check every query (AGT: ~20 min)
    python benchmarks/bench_gate.py --engines cedarpy,cedarpy-groups,agt,agt-bigcache

Engines: ``remit`` (the lead's slot), ``cedarpy``, ``agt``; opt-in variants
``cedarpy-groups`` and ``agt-bigcache`` (see their modules) show how much the peers'
numbers depend on encoding/tuning choices.

Method, per rule-set size and engine:

1. Build the engine from the envelope (timed once, reported as ``build``).
2. Warm up: call it on the first queries (up to ``warmup_calls`` or ``warmup_s``);
   this also estimates the per-call cost.
3. Timed pass: call ``allowed(query)`` once per query, ``time.perf_counter_ns``
   around each call only, cycling over the queries until ``target_calls`` calls or
   the per-engine time ``budget_s`` is spent, whichever comes first.  Every
   distinct query in the pass is checked against the reference (the check is
   outside the timed region).  An engine too slow to cover every query within the
   budget is checked on a prefix of at least ``min_verify`` queries (queries are
   generated in random order, so a prefix is a fair sample); the table shows
   ``verified`` as ``k/n`` so this is never hidden.  ``--full-verify`` forces every
   query to be checked regardless of the budget.
4. Report p50, p99, mean and calls/s over the timed calls.

Any disagreement with the reference is printed and makes the script exit 1.  An
engine whose constructor raises ``RuntimeError("remit engine not wired yet")`` is
skipped with a note (that is the Remit slot until the lead wires it up).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import importlib.metadata
import json
import math
import os
import platform
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

if __package__ in (None, ""):  # run as a script: make ``benchmarks`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console
from rich.table import Table

from benchmarks.reference import ALLOWED_TIERS, ReferenceEngine
from benchmarks.rulesets import Query, check_invariants, generate

RESULTS_DIR = Path(__file__).resolve().parent / "results"
NOT_WIRED_MARKER = "not wired yet"
BASELINE = "remit"


class Engine(Protocol):
    """What the benchmark needs from an engine: one decision per call."""

    def allowed(self, query: Query) -> bool: ...


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """Where an engine class lives; imported lazily so one broken peer cannot hide others."""

    module: str
    cls: str
    default: bool = True
    description: str = ""

    def build(self, envelope: dict[str, Any]) -> Engine:
        engine_cls = getattr(importlib.import_module(self.module), self.cls)
        engine: Engine = engine_cls(envelope)
        return engine


# The engine registry.  "remit" is the lead's slot (benchmarks/peers/remit_engine.py).
ENGINES: dict[str, EngineSpec] = {
    "remit": EngineSpec(
        "benchmarks.peers.remit_engine", "RemitEngine", description="remit Gate.decide"
    ),
    "remit-validated": EngineSpec(
        "benchmarks.peers.remit_engine",
        "RemitValidatedEngine",
        description="remit Gate.decide with the request validated by pydantic on every call",
    ),
    "cedarpy": EngineSpec(
        "benchmarks.peers.cedar_peer",
        "CedarEngine",
        description="cedarpy.is_authorized, pre-parsed PolicySet + Entities",
    ),
    "agt": EngineSpec(
        "benchmarks.peers.agt_peer",
        "AgtEngine",
        description="agent_os.policies.PolicyEvaluator.evaluate",
    ),
    "agt-bigcache": EngineSpec(
        "benchmarks.peers.agt_peer",
        "AgtBigCacheEngine",
        default=False,
        description="agt with re's pattern cache enlarged during calls (diagnostic)",
    ),
    "cedarpy-groups": EngineSpec(
        "benchmarks.peers.cedar_peer",
        "CedarGroupsEngine",
        default=False,
        description="cedarpy with action groups and ARN in context (variant)",
    ),
}


@dataclass(frozen=True, slots=True)
class Mode:
    """Sizes and effort for one run."""

    name: str
    sizes: tuple[int, ...]
    queries: dict[int, int]
    target_calls: int
    budget_s: float
    min_verify: int
    warmup_calls: int
    warmup_s: float


FULL = Mode(
    name="full",
    sizes=(10, 100, 1_000, 10_000),
    queries={10: 2_000, 100: 2_000, 1_000: 2_000, 10_000: 1_000},
    target_calls=5_000,
    budget_s=15.0,
    min_verify=50,
    warmup_calls=200,
    warmup_s=2.0,
)
QUICK = Mode(
    name="quick",
    sizes=(10, 100, 1_000),
    queries={10: 500, 100: 500, 1_000: 500},
    target_calls=1_000,
    budget_s=3.0,
    min_verify=20,
    warmup_calls=50,
    warmup_s=0.5,
)


@dataclass(slots=True)
class Measurement:
    """One engine at one rule-set size."""

    engine: str
    n_rules: int
    status: str  # ok | skipped | failed
    note: str = ""
    build_s: float | None = None
    n_queries: int = 0
    verified: int = 0
    disagreements: int = 0
    n_calls: int = 0
    p50_us: float | None = None
    p99_us: float | None = None
    mean_us: float | None = None
    calls_per_s: float | None = None
    examples: list[dict[str, Any]] = field(default_factory=list)


def percentile(sorted_ns: list[int], pct: float) -> float:
    """Nearest-rank percentile of already-sorted samples."""
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_ns)))
    return float(sorted_ns[min(rank, len(sorted_ns)) - 1])


def measure(
    name: str,
    engine: Engine,
    queries: list[Query],
    expected: list[bool],
    mode: Mode,
    *,
    full_verify: bool,
) -> Measurement:
    """Warm up, then time and verify ``engine`` over ``queries``."""
    result = Measurement(engine=name, n_rules=0, status="ok", n_queries=len(queries))
    wrong: dict[int, bool] = {}

    def check(i: int, got: bool) -> None:
        if got != expected[i]:
            wrong[i] = got

    gc.collect()
    allowed = engine.allowed
    warm = 0
    start = time.perf_counter()
    limit = min(mode.warmup_calls, len(queries))
    while warm < limit and (warm < 2 or time.perf_counter() - start < mode.warmup_s):
        check(warm, allowed(queries[warm]))
        warm += 1
    per_call_s = max((time.perf_counter() - start) / warm, 1e-9)

    affordable = int(mode.budget_s / per_call_s)
    n_verify = len(queries) if full_verify else min(len(queries), max(mode.min_verify, affordable))
    n_calls = max(n_verify, min(mode.target_calls, affordable))

    samples = [0] * n_calls
    clock = time.perf_counter_ns
    for i in range(n_calls):
        query = queries[i % n_verify]
        t0 = clock()
        got = allowed(query)
        samples[i] = clock() - t0
        if i < n_verify:
            check(i, got)

    samples.sort()
    mean_ns = sum(samples) / n_calls
    result.verified = n_verify
    result.disagreements = len(wrong)
    result.n_calls = n_calls
    result.p50_us = percentile(samples, 50) / 1e3
    result.p99_us = percentile(samples, 99) / 1e3
    result.mean_us = mean_ns / 1e3
    result.calls_per_s = 1e9 / mean_ns
    result.examples = [
        {"query": queries[i]._asdict(), "expected_allowed": expected[i], "got_allowed": got}
        for i, got in sorted(wrong.items())[:10]
    ]
    return result


def query_mix(
    reference: ReferenceEngine, queries: list[Query]
) -> tuple[list[bool], dict[str, Any]]:
    """Reference answers for every query, plus a summary of what the queries hit."""
    decided = [reference.decide(q) for q in queries]
    tiers = Counter("no match" if d is None else d for d in decided)
    expected = [d in ALLOWED_TIERS for d in decided]
    n = len(queries)
    mix = {
        "matched_pct": round(100.0 * sum(d is not None for d in decided) / n, 1),
        "allowed_pct": round(100.0 * sum(expected) / n, 1),
        "tiers": dict(sorted(tiers.items())),
    }
    return expected, mix


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def ratio_text(other: Measurement | None, base: Measurement | None, attr: str) -> str:
    """``other/base`` for a latency attribute: >1 means the baseline (remit) is faster."""
    if base is None or base.status != "ok":
        return "n/a"
    if other is None or other.status != "ok":
        return "n/a"
    b, o = getattr(base, attr), getattr(other, attr)
    if not b or not o:
        return "n/a"
    r = o / b
    return f"{r:,.1f}x faster" if r >= 1 else f"{1 / r:,.1f}x slower"


def growth(results: list[Measurement], sizes: tuple[int, ...]) -> dict[str, dict[str, Any]]:
    """Per engine: p50 growth from the smallest to the largest size, and log-log slope."""
    out: dict[str, dict[str, Any]] = {}
    by_engine: dict[str, dict[int, Measurement]] = {}
    for m in results:
        if m.status == "ok":
            by_engine.setdefault(m.engine, {})[m.n_rules] = m
    lo, hi = min(sizes), max(sizes)
    for name, per_size in by_engine.items():
        if lo not in per_size or hi not in per_size:
            continue
        p_lo, p_hi = per_size[lo].p50_us or 0.0, per_size[hi].p50_us or 0.0
        factor = p_hi / p_lo if p_lo else math.inf
        ordered = sorted(s for s in sizes if s in per_size)
        slope = None
        if len(ordered) >= 2:
            a, b = per_size[ordered[-2]], per_size[ordered[-1]]
            if a.p50_us and b.p50_us:
                slope = math.log(b.p50_us / a.p50_us) / math.log(ordered[-1] / ordered[-2])
        out[name] = {
            "from_rules": lo,
            "to_rules": hi,
            "rules_factor": hi / lo,
            "p50_factor": factor,
            "sublinear": factor < hi / lo,
            "loglog_slope_top": slope,
            "slope_between": ordered[-2:],
        }
    return out


def load_warning(console: Console, when: str) -> float | None:
    """The 1-minute load average, with a printed warning if the machine looks busy."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return None
    cpus = os.cpu_count() or 1
    if load > 0.75 * cpus:
        console.print(
            f"[yellow]warning: 1-min load average {load:.1f} at {when} on {cpus} CPUs — "
            "other processes are competing; latencies will be inflated and noisy.[/yellow]"
        )
    return round(load, 2)


def versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for dist in ("remit", "cedarpy", "agent-governance-toolkit-core", "policy-sentry", "rich"):
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[dist] = "not installed"
    return found


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="10/100/1,000 rules, < 30 s")
    parser.add_argument(
        "--engines",
        default=",".join(n for n, s in ENGINES.items() if s.default),
        help=f"comma-separated, from: {', '.join(ENGINES)}",
    )
    parser.add_argument("--sizes", default="", help="comma-separated rule counts (override)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--budget", type=float, default=None, help="seconds per engine per size")
    parser.add_argument(
        "--full-verify", action="store_true", help="check every query even if over budget"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="JSON path (default: results/gate.json, or results/gate-quick.json with --quick)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()
    if not console.is_terminal:  # piped to a file/CI log: don't squeeze tables to 80 columns
        console = Console(width=150)
    mode = QUICK if args.quick else FULL
    if args.sizes:
        sizes = tuple(int(s) for s in args.sizes.split(","))
        mode = Mode(**{**asdict(mode), "sizes": sizes})
    if args.budget is not None:
        mode = Mode(**{**asdict(mode), "budget_s": args.budget})
    names = [n.strip() for n in args.engines.split(",") if n.strip()]
    unknown = [n for n in names if n not in ENGINES]
    if unknown:
        console.print(f"[red]unknown engine(s): {', '.join(unknown)}[/red]")
        return 2

    console.print(
        f"[bold]Gate benchmark[/bold] mode={mode.name} sizes={list(mode.sizes)} "
        f"engines={names} seed={args.seed} budget={mode.budget_s}s/engine/size "
        f"cpus={os.cpu_count()}"
    )
    results: list[Measurement] = []
    mixes: dict[int, dict[str, Any]] = {}
    skipped: set[str] = set()
    failed = False
    run_start = time.perf_counter()
    load_start = load_warning(console, "start")

    for n_rules in mode.sizes:
        n_queries = mode.queries.get(n_rules, min(mode.queries.values()))
        t0 = time.perf_counter()
        envelope, queries = generate(n_rules, seed=args.seed, n_queries=n_queries)
        check_invariants(envelope, queries)
        expected, mix = query_mix(ReferenceEngine(envelope), queries)
        mixes[n_rules] = {"n_queries": n_queries, **mix}
        console.print(
            f"\n[bold]{n_rules:,} rules[/bold], {n_queries:,} queries "
            f"(generated + reference in {time.perf_counter() - t0:.1f}s): "
            f"{mix['matched_pct']}% match a rule, {mix['allowed_pct']}% allowed, "
            f"tiers {mix['tiers']}"
        )
        for name in names:
            if name in skipped:
                continue
            t0 = time.perf_counter()
            try:
                engine = ENGINES[name].build(envelope)
            except Exception as exc:
                if isinstance(exc, RuntimeError) and NOT_WIRED_MARKER in str(exc):
                    console.print(f"  [yellow]{name}: skipped — {exc}[/yellow]")
                    skipped.add(name)
                    results.append(Measurement(name, n_rules, "skipped", note=str(exc)))
                    continue
                console.print(f"  [red]{name}: build failed — {exc!r}[/red]")
                results.append(Measurement(name, n_rules, "failed", note=repr(exc)))
                failed = True
                continue
            build_s = time.perf_counter() - t0
            m = measure(name, engine, queries, expected, mode, full_verify=args.full_verify)
            m.n_rules, m.build_s = n_rules, build_s
            results.append(m)
            console.print(
                f"  {name}: build {build_s:.2f}s, {m.n_calls:,} calls, "
                f"p50 {fmt(m.p50_us)} µs, verified {m.verified}/{m.n_queries}, "
                f"disagreements {m.disagreements}"
            )
            if m.disagreements:
                failed = True
                for ex in m.examples:
                    console.print(f"    [red]DISAGREE[/red] {ex}")
            close = getattr(engine, "close", None)
            if callable(close):
                close()
            del engine
            gc.collect()

    # ---- tables ---------------------------------------------------------------------
    table = Table(title=f"Per-call latency ({mode.name} run)")
    for col in ("rules", "engine", "build s", "verified", "calls"):
        table.add_column(col, justify="right" if col != "engine" else "left")
    for col in ("p50 µs", "p99 µs", "mean µs", "calls/s"):
        table.add_column(col, justify="right")
    previous = None
    for m in results:
        if m.status != "ok":
            continue
        if previous is not None and m.n_rules != previous:
            table.add_section()
        previous = m.n_rules
        table.add_row(
            f"{m.n_rules:,}",
            m.engine,
            fmt(m.build_s, 2),
            f"{m.verified:,}/{m.n_queries:,}",
            f"{m.n_calls:,}",
            fmt(m.p50_us),
            fmt(m.p99_us),
            fmt(m.mean_us),
            fmt(m.calls_per_s, 0),
        )
    console.print()
    console.print(table)

    lookup = {(m.engine, m.n_rules): m for m in results}
    ratios: dict[int, dict[str, dict[str, str]]] = {}
    ratio_table = Table(title="Remit vs peers (peer latency / remit latency)")
    ratio_table.add_column("rules", justify="right")
    peers = [n for n in names if n != BASELINE]
    for peer in peers:
        ratio_table.add_column(f"remit vs {peer} (p50)", justify="right")
        ratio_table.add_column(f"remit vs {peer} (p99)", justify="right")
    for n_rules in mode.sizes:
        base = lookup.get((BASELINE, n_rules))
        row = [f"{n_rules:,}"]
        ratios[n_rules] = {}
        for peer in peers:
            other = lookup.get((peer, n_rules))
            p50, p99 = ratio_text(other, base, "p50_us"), ratio_text(other, base, "p99_us")
            ratios[n_rules][peer] = {"p50": p50, "p99": p99}
            row += [p50, p99]
        ratio_table.add_row(*row)
    console.print(ratio_table)
    if BASELINE not in names or BASELINE in skipped:
        console.print(f"[dim]ratios are n/a: the {BASELINE} engine did not run.[/dim]")

    growth_info = growth(results, mode.sizes)
    growth_table = Table(title="Scaling of p50 latency with rule count")
    for col in ("engine", "p50 growth", "rules growth", "sub-linear?", "log-log slope (top)"):
        growth_table.add_column(col, justify="left" if col == "engine" else "right")
    for name, g in growth_info.items():
        slope = g["loglog_slope_top"]
        between = "→".join(f"{s:,}" for s in g["slope_between"])
        growth_table.add_row(
            name,
            f"x{g['p50_factor']:,.1f} ({g['from_rules']:,}→{g['to_rules']:,})",
            f"x{g['rules_factor']:,.0f}",
            "yes" if g["sublinear"] else "no",
            "-" if slope is None else f"{slope:.2f} ({between})",
        )
    console.print(growth_table)
    console.print(
        "[dim]sub-linear? = p50 grew by less than the rule count did; the log-log slope "
        "between the two largest sizes is ~1 for a linear scan, ~0 for an indexed lookup.[/dim]"
    )

    # ---- JSON ------------------------------------------------------------------------
    total_s = time.perf_counter() - run_start
    load_end = load_warning(console, "end")
    document = {
        "benchmark": "gate",
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "mode": asdict(mode),
        "seed": args.seed,
        "engines": {n: ENGINES[n].description for n in names},
        "skipped": sorted(skipped),
        "full_verify": args.full_verify,
        "environment": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "loadavg_1min_start": load_start,
            "loadavg_1min_end": load_end,
            "versions": versions(),
        },
        "query_mix": mixes,
        "results": [asdict(m) for m in results],
        "ratios_vs_remit": ratios,
        "growth": growth_info,
        "total_seconds": round(total_s, 1),
        "ok": not failed,
    }
    output: Path = args.output or RESULTS_DIR / (
        "gate-quick.json" if mode.name == "quick" else "gate.json"
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    console.print(f"wrote {output} (total {total_s:.0f}s)")
    if failed:
        console.print(
            "[red bold]FAILED: an engine disagreed with the reference or broke[/red bold]"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
