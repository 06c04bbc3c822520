"""Two processes appending to one SQLite ledger at once: the latency of each append when
a writer waits for the other's write lock in short steps (Remit's `_begin_immediate`:
50 µs, doubling to 2 ms) against SQLite's own busy handler (sleeps of 1, 2, 5, 10… ms),
in the same run. This is what a decision pays when the service records an outcome or an
approval while the decision writer appends (two processes, one file).

Run: `.venv/bin/python benchmarks/bench_lock_wait.py [--appends 1500] [--rounds 2]`.
Each process appends one small entry, pauses 0.3 ms, and again; mean, p50/p90/p99 per
process.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from remit.ledger.kinds import NoteRecord
from remit.ledger.records import make_entry
from remit.ledger.sqlite_store import SqliteStore


def _plain_begin(self: SqliteStore, cur: Any) -> None:
    """SQLite's own wait: `BEGIN IMMEDIATE` under the connection's busy timeout."""
    cur.execute("BEGIN IMMEDIATE")


def appender(path: str, waits: str, n: int, name: str, out: Any) -> None:
    if waits == "sqlite":
        SqliteStore._begin_immediate = _plain_begin  # type: ignore[method-assign]
    store = SqliteStore(path)
    now = datetime.now(UTC)
    times = []
    for i in range(n):
        entry = [make_entry(NoteRecord({"i": i, "by": name}), now, "bench")]
        t = time.perf_counter()
        store.append(entry)
        times.append((time.perf_counter() - t) * 1000)
        time.sleep(0.0003)
    store.close()
    mean = sum(times) / n
    times.sort()
    out.put([mean, *(times[int(q * (n - 1))] for q in (0.5, 0.9, 0.99))])


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--appends", type=int, default=1500)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    table = Table(title=f"Two processes, {a.appends:,} appends each (ms)")
    for col in ("waiting", "round", "mean", "p50", "p90", "p99"):
        table.add_column(col)
    spawn = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as d:
        for r in range(a.rounds):
            for waits in ("sqlite", "short steps"):
                path = str(Path(d) / f"{r}-{waits.replace(' ', '-')}.db")
                SqliteStore(path).close()
                q: Any = spawn.Queue()
                procs = [
                    spawn.Process(target=appender, args=(path, waits, a.appends, name, q))
                    for name in ("a", "b")
                ]
                for p in procs:
                    p.start()
                rows = [q.get() for _ in procs]
                for p in procs:
                    p.join()
                for row in rows:
                    table.add_row(waits, str(r + 1), *(f"{v:.2f}" for v in row))
    Console().print(table)


if __name__ == "__main__":
    main()
