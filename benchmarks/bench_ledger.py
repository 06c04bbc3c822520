"""Ledger benchmark (issue 3): durable append throughput against raw inserts of the same
bytes with the same durability settings (SQLite and PostgreSQL), full verification against
a raw hashlib loop over the same bytes, and inclusion-proof latency on a large log.

Run: `.venv/bin/python benchmarks/bench_ledger.py [--entries 1000000] [--quick]`.
Peers are measured in the same run, on the same machine, over the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from remit.domain.canonical import canonical_json
from remit.domain.clock import ts_text
from remit.ledger.kinds import NoteRecord
from remit.ledger.log import Ledger
from remit.ledger.postgres_store import PostgresStore
from remit.ledger.records import NewEntry
from remit.ledger.sqlite_store import SqliteStore
from remit.ledger.verify import verify_store
from remit.signing.keys import generate_signing_key

PG_ADMIN = os.environ.get("REMIT_BENCH_PG", "postgresql://127.0.0.1:5432/test")
console = Console()


def entries(n: int, seed: int = 1) -> list[NewEntry]:
    """Realistic decision entries (~1 KB of canonical JSON each)."""
    rnd = random.Random(seed)
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        ts = ts_text(t0 + timedelta(milliseconds=i))
        body = canonical_json(
            {
                "v": 1,
                "kind": "note",
                "ts": ts,
                "actor": "bench-agent",
                "data": {
                    "decision": {
                        "id": f"dec_{i:012x}{rnd.getrandbits(64):016x}",
                        "tier": "notify",
                        "rules": ["R7-revoke-stale"],
                        "agent": "remediator",
                        "action": "iam:DetachRolePolicy",
                        "reasons": [{"code": "SEVERITY_FLOOR", "message": "x" * 120}],
                    },
                    "request": {
                        "resources": [{"arn": f"arn:aws:iam::111122223333:role/r{i}"}],
                        "reasoning": {
                            "summary": "Role unused for 42 days " * 8,
                            "confidence": rnd.random(),
                        },
                    },
                },
            }
        )
        out.append(NewEntry("note", ts, body, NoteRecord(), "bench"))
    return out


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def bench_sqlite_append(data: list[NewEntry], batch: int, tmp: Path) -> tuple[float, float]:
    store = SqliteStore(tmp / "ledger.db")

    def ours() -> None:
        for i in range(0, len(data), batch):
            store.append(data[i : i + batch])

    t_ours = timed(ours)
    store.close()
    raw = sqlite3.connect(str(tmp / "raw.db"), isolation_level=None)
    raw.execute("PRAGMA journal_mode = WAL")
    raw.execute("PRAGMA synchronous = FULL")
    raw.execute("CREATE TABLE t (idx INTEGER PRIMARY KEY, body BLOB NOT NULL)")
    rows = [(i, e.body) for i, e in enumerate(data)]

    def peer() -> None:
        for i in range(0, len(rows), batch):
            raw.execute("BEGIN IMMEDIATE")
            raw.executemany("INSERT INTO t(idx, body) VALUES (?, ?)", rows[i : i + batch])
            raw.execute("COMMIT")

    t_raw = timed(peer)
    raw.close()
    return len(data) / t_ours, len(data) / t_raw


def bench_pg_append(data: list[NewEntry], batch: int) -> tuple[float, float] | None:
    name = "remit_bench_" + uuid.uuid4().hex[:8]
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        console.print(f"[yellow]PostgreSQL not reachable ({exc}); skipping its figures[/]")
        return None
    admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    try:
        store = PostgresStore(url)

        def ours() -> None:
            for i in range(0, len(data), batch):
                store.append(data[i : i + batch])

        t_ours = timed(ours)
        store.close()
        with psycopg.connect(url, autocommit=True) as raw:
            raw.execute("SET synchronous_commit = on")
            raw.execute("CREATE TABLE t (idx BIGINT PRIMARY KEY, body BYTEA NOT NULL)")
            rows = [(i, e.body) for i, e in enumerate(data)]

            def peer() -> None:
                # The fastest plain way with psycopg, and the one Remit's store uses: one
                # statement per batch, each column one binary array.
                for i in range(0, len(rows), batch):
                    idx, bodies = zip(*rows[i : i + batch], strict=True)
                    with raw.transaction(), raw.cursor() as cur:
                        cur.execute(
                            "INSERT INTO t(idx, body) SELECT * FROM unnest(%b::bigint[], %b::bytea[])",
                            (list(idx), list(bodies)),
                        )

            t_raw = timed(peer)
        return len(data) / t_ours, len(data) / t_raw
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def build_big(path: Path, n: int, key) -> SqliteStore:
    store = SqliteStore(path)
    ledger = Ledger(store, key)
    from datetime import UTC, datetime

    chunk = 20_000
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(f"building a {n:,}-entry ledger", total=n)
        done = 0
        while done < n:
            k = min(chunk, n - done)
            store.append(entries(k, seed=done))
            done += k
            bar.update(task, completed=done)
            if done % 200_000 == 0 or done == n:
                ledger.checkpoint(datetime.now(UTC))
    return store


def bench_verify(store: SqliteStore, key) -> tuple[float, float, float]:
    """Seconds for the hash checks, for the hash and entry/index checks, and raw hashlib."""
    holder = {}

    def hashes_only() -> None:
        holder["h"] = verify_store(store, key.verifier(), check_index=False)

    def ours() -> None:
        holder["r"] = verify_store(store, key.verifier())

    t_hashes = timed(hashes_only)
    assert holder["h"].ok, holder["h"].problems
    t_ours = timed(ours)
    assert holder["r"].ok, holder["r"].problems

    def peer() -> None:
        conn = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True)
        sha = hashlib.sha256
        for (body,) in conn.execute("SELECT body FROM entries ORDER BY idx"):
            sha(body).digest()
        conn.close()

    t_raw = timed(peer)
    return t_hashes, t_ours, t_raw


def bench_proofs(store: SqliteStore, samples: int = 2000) -> list[float]:
    size = store.size()
    rnd = random.Random(3)
    times = []
    for _ in range(samples):
        i = rnd.randrange(size)
        t = time.perf_counter()
        store.inclusion_proof(i, size)
        times.append(time.perf_counter() - t)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--entries", type=int, default=1_000_000, help="size of the verify/proof log")
    ap.add_argument("--appends", type=int, default=50_000, help="entries per append benchmark")
    ap.add_argument("--batch", type=int, default=500, help="entries per transaction (group commit)")
    ap.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = ap.parse_args()
    if args.quick:
        args.entries, args.appends = 100_000, 10_000
    results: dict[str, object] = {
        "entries": args.entries,
        "appends": args.appends,
        "batch": args.batch,
    }
    data = entries(args.appends)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        ours, raw = bench_sqlite_append(data, args.batch, tmp)
        results["sqlite_append"] = {"remit_per_s": ours, "raw_per_s": raw, "ratio": ours / raw}
        pg = bench_pg_append(data, args.batch)
        if pg:
            results["postgres_append"] = {
                "remit_per_s": pg[0],
                "raw_per_s": pg[1],
                "ratio": pg[0] / pg[1],
            }
        key = generate_signing_key("bench.remit.local/ledger")
        store = build_big(tmp / "big.db", args.entries, key)
        t_hashes, t_ours, t_raw = bench_verify(store, key)
        results["verify"] = {
            "remit_s": t_hashes,
            "raw_hashlib_s": t_raw,
            "ratio": t_raw / t_hashes,
            "with_entry_and_index_check_s": t_ours,
        }
        proofs = bench_proofs(store)
        results["inclusion_proof_ms"] = {
            "p50": statistics.median(proofs) * 1e3,
            "p99": sorted(proofs)[int(len(proofs) * 0.99)] * 1e3,
            "mean": statistics.fmean(proofs) * 1e3,
        }
        store.close()
    table = Table(
        title=f"Ledger benchmark (batch {args.batch}, verify/proofs on {args.entries:,} entries)"
    )
    for col in ("measure", "remit", "peer (same run)", "ratio (≥ target)"):
        table.add_column(col)
    s = results["sqlite_append"]
    table.add_row(
        "SQLite durable appends/s",
        f"{s['remit_per_s']:,.0f}",
        f"raw executemany {s['raw_per_s']:,.0f}",
        f"{s['ratio']:.2f} (0.5)",
    )
    if "postgres_append" in results:
        p = results["postgres_append"]
        table.add_row(
            "PostgreSQL durable appends/s",
            f"{p['remit_per_s']:,.0f}",
            f"raw psycopg, unnest {p['raw_per_s']:,.0f}",
            f"{p['ratio']:.2f} (0.5)",
        )
    v = results["verify"]
    table.add_row(
        f"verify {args.entries:,} entries",
        f"{v['remit_s']:.2f} s",
        f"raw hashlib {v['raw_hashlib_s']:.2f} s",
        f"{v['ratio']:.2f} (0.5)",
    )
    table.add_row(
        "  + each entry read and the index tables rebuilt",
        f"{v['with_entry_and_index_check_s']:.2f} s",
        "—",
        "—",
    )
    p = results["inclusion_proof_ms"]
    table.add_row(
        "inclusion proof (random entry)",
        f"p50 {p['p50']:.3f} ms, p99 {p['p99']:.3f} ms",
        "—",
        "target < 1 ms",
    )
    console.print(table)
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "ledger.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
