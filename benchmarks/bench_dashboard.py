"""Governance-view benchmark (issue 16): with a ledger of N decisions spread over a quarter
(SQLite), the dashboard's overview and decisions-list pages through the real app (signed
in, in-process HTTP), against the bare SQL of the same aggregate on the same file in the
same run; then an evidence pack written and verified over M decisions.

Run: `.venv/bin/python benchmarks/bench_dashboard.py [--decisions 1000000] [--pack 20000]`;
`--pack-only --pack 1000000` runs the evidence-pack part alone. The pack's times are wall
clock and CPU seconds (this process and its workers) (the machine may be shared: the load average is shown).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import re
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from remit.domain.clock import ts_text
from remit.ledger.kinds import ApprovalResolution, ApprovalTerms, DecisionRecord
from remit.ledger.records import make_entry
from remit.ledger.sqlite_store import SqliteStore

console = Console()
Q4 = datetime(2026, 10, 1, tzinfo=UTC)
TIERS = ("autonomous",) * 14 + ("notify",) * 3 + ("approve", "deny", "deny")
"""70% autonomous, 15% notify, 5% held for approval, 10% denied."""
ACTIONS = ("iam:ListRoles", "iam:GetRole", "iam:DetachRolePolicy", "s3:GetObject")


def decision(i: int, at: datetime, rnd: random.Random) -> DecisionRecord:
    tier = rnd.choice(TIERS)
    action = rnd.choice(ACTIONS)
    d = {
        "id": f"dec_bench_{i:09d}", "tier": tier, "allowed": tier in ("autonomous", "notify"),
        "reasons": [{"code": "RULE_MATCHED", "message": "Matched R1-read"}],
        "rules": ["R1-read"], "envelope": {"name": "bench", "version": 1, "digest": "sha256:0"},
        "decided_at": ts_text(at), "agent": f"agent-{i % 20}", "action": action,
        "access_level": "List", "rollback": "not_needed",
    }  # fmt: skip
    request = {
        "agent": d["agent"], "action": action, "environment": "prod", "origin": "ai",
        "resources": [{"arn": f"arn:aws:iam::111122223333:role/r{i % 5000}", "tags": {}}],
        "reasoning": {"summary": "Role unused for 42 days and writes to 5 buckets",
                      "signals": [{"name": "unused_days", "value": 42}], "confidence": 0.9,
                      "alternatives": [{"action": "alert-only", "rejected_because": "x"}]},
        "provenance": {"model": {"name": "m", "version": "1"}, "prompt_sha256": "ab" * 32,
                       "workflow": {"name": "w", "run": f"r{i}", "step": "s"}},
    }  # fmt: skip
    approval = ApprovalTerms("sha256:" + "0" * 64, at + timedelta(hours=1))
    return DecisionRecord(d, request, approval if tier == "approve" else None)


def build(store: SqliteStore, n: int, span: timedelta) -> None:
    rnd = random.Random(7)
    step = span / max(n, 1)
    batch: list[Any] = []
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"appending {n:,} decisions", total=n)
        for i in range(n):
            at = Q4 + step * i
            rec = decision(i, at, rnd)
            batch.append(make_entry(rec, at, f"agent:agent-{i % 20}#k"))
            if rec.approval is not None:  # people answer within seconds to minutes
                later = at + timedelta(seconds=rnd.uniform(3, 600))
                state = "approved" if rnd.random() < 0.8 else "rejected"
                answer = ApprovalResolution(rec.id, state, "checked", rec.approval.request_digest,  # type: ignore[arg-type]
                                            rec.agent, rec.action, rec.rules)  # fmt: skip
                batch.append(make_entry(answer, later, f"approver:person-{i % 7}#k"))
            if len(batch) >= 2000:
                store.append(batch)
                bar.advance(task, len(batch))
                batch = []
        if batch:
            store.append(batch)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.95) - 1]


def bench_pages(db: Path, rounds: int) -> dict[str, tuple[float, float]]:
    from fastapi.testclient import TestClient
    from tests.server.srvkit import write_envelope

    from remit.identity.model import Role
    from remit.server.app import SWITCH_INTERVAL, create_app
    from remit.server.config import ServerConfig
    from remit.server.runtime import Runtime
    from remit.signing.keys import generate_signing_key, write_key_pair

    folder = db.parent
    ciso = generate_signing_key("bench/ciso")
    write_key_pair(folder / "ciso", ciso)
    envelope = write_envelope(folder, ciso, signed_at=Q4, expires_at=Q4 + timedelta(days=400))
    config = ServerConfig(envelope=envelope, trusted_keys=[str(folder / "ciso.pub")], db=str(db))
    rt = Runtime(config, clock=lambda: Q4 + timedelta(days=91))
    sys.setswitchinterval(SWITCH_INTERVAL)  # as `remit serve` sets it
    _, key = rt.keys.create("bench-auditor", Role.AUDITOR, None, rt.clock(), "bench")
    out: dict[str, tuple[float, float]] = {}
    with TestClient(create_app(rt)) as c:
        page = c.get("/ui/login")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token
        c.post("/ui/login", data={"csrf": token[1], "api_key": key})
        raw = sqlite3.connect(db)
        since, until = ts_text(Q4), ts_text(Q4 + timedelta(days=92))
        query = ("SELECT substr(ts, 1, 10), tier, COUNT(*) FROM decisions WHERE ts >= ? "
                 "AND ts < ? GROUP BY substr(ts, 1, 10), tier")  # fmt: skip
        cases = {
            "overview, quarter (GET /ui/?period=2026-Q4)": lambda: c.get("/ui/?period=2026-Q4"),
            "overview, last 30 days (GET /ui/)": lambda: c.get("/ui/"),
            "decisions list, newest page": lambda: c.get("/ui/decisions"),
            "decisions list, tier=deny, agent filter": lambda: c.get(
                "/ui/decisions?tier=deny&agent=agent-3"
            ),
            "decisions list, page 100 (cursor)": lambda: c.get(
                f"/ui/decisions?before={rt.store.size() - 5000}"
            ),
            "baseline: bare SQL of the quarter's day x tier counts": lambda: raw.execute(
                query, (since, until)
            ).fetchall(),
        }
        for name, fn in cases.items():
            fn()
            samples = []
            for _ in range(rounds):
                t0 = time.perf_counter()
                r = fn()
                samples.append((time.perf_counter() - t0) * 1000)
                if hasattr(r, "status_code"):
                    assert r.status_code == 200, r.status_code
            out[name] = percentiles(samples)
        raw.close()
    rt.close()
    return out


def cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (the pack's forked workers)."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def peak_mb() -> float:
    """The largest resident size of this process or one of its children, in MB."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return max(me.ru_maxrss, kids.ru_maxrss) / 1024


def _build_file(tmp: Path, n: int) -> None:
    store = SqliteStore(tmp / "pack.db")
    build(store, n, timedelta(days=91))
    store.close()


def bench_pack(tmp: Path, n: int) -> dict[str, float]:
    from remit.evidence.pack import gather, make_pack
    from remit.evidence.verify import verify_pack
    from remit.ledger.log import Ledger
    from remit.report.period import parse_period
    from remit.signing.keys import generate_signing_key

    t0 = time.perf_counter()
    # Built in a process of its own, as `remit evidence` runs in a process that only reads
    # the ledger (building a million entries here first left this heap larger and slower).
    builder = multiprocessing.get_context("spawn").Process(target=_build_file, args=(tmp, n))
    builder.start()
    builder.join()
    assert builder.exitcode == 0, builder.exitcode
    console.print(f"{n:,} decisions appended for the pack in {time.perf_counter() - t0:.0f} s")
    store = SqliteStore(tmp / "pack.db")
    key = generate_signing_key("bench/log")
    end = Ledger(store, key).checkpoint(Q4 + timedelta(days=92))
    load = os.getloadavg()[0]
    t0, c0 = time.perf_counter(), cpu_seconds()
    data = make_pack(gather(store, "soc2", parse_period("2026-Q4"), key.name, end))
    written, written_cpu = time.perf_counter() - t0, cpu_seconds() - c0
    store.close()
    load = max(load, os.getloadavg()[0])
    t0, c0 = time.perf_counter(), cpu_seconds()
    report = verify_pack(data, key.verifier())
    verified, verified_cpu = time.perf_counter() - t0, cpu_seconds() - c0
    assert report.ok or all(p.startswith("incomplete") for p in report.problems), report.problems
    return {"written": written, "written_cpu": written_cpu, "verified": verified,
            "verified_cpu": verified_cpu, "size": len(data),
            "load": max(load, os.getloadavg()[0])}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--decisions", type=int, default=1_000_000)
    ap.add_argument("--pack", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=40)
    ap.add_argument("--pack-only", action="store_true", help="only the evidence pack part")
    args = ap.parse_args()
    console.print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="remit-bench-dash-") as tmp:
        if not args.pack_only:
            db = Path(tmp) / "remit.db"
            store = SqliteStore(db)
            t0 = time.perf_counter()
            build(store, args.decisions, timedelta(days=91))
            store.close()
            took = time.perf_counter() - t0
            console.print(f"{args.decisions:,} decisions appended in {took:.0f} s")
            for name, (p50, p95) in bench_pages(db, args.rounds).items():
                console.print(f"{name}: p50 {p50:.1f} ms, p95 {p95:.1f} ms")
        got = bench_pack(Path(tmp), args.pack)
        console.print(
            f"evidence pack, quarter of {args.pack:,} decisions: written {got['written']:.1f} s "
            f"({got['written_cpu']:.1f} s CPU), verified {got['verified']:.1f} s "
            f"({got['verified_cpu']:.1f} s CPU), {got['size'] / 1e6:.1f} MB; "
            f"load average up to {got['load']:.1f}; peak memory {peak_mb():,.0f} MB"
        )
    console.print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
