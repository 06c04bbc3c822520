"""Where an evidence pack's time goes (issue 16): writes and verifies a quarter's pack over N
decisions, as `bench_dashboard.py --pack-only` does, and prints the wall-clock seconds of
each stage (gathering from the store, the pass over the entries with its files hashed and
deflated as they come, packing the rest, the manifest, the archive; unzipping and parsing
the entries, the pass, rebuilding and hashing).
The ledger is built once into `--folder` and reused by later runs (so runs of two commits
can be compared on the same file: `--src` names the `src/` folder to import).

Run: `.venv/bin/python benchmarks/bench_pack_stages.py --decisions 1000000`
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent

STAGES = {
    "pack": ("gather", "derive", "control_csvs", "pack_files", "manifest", "to_zip"),
    "verify": ("_unzip", "_manifest", "_entries", "derive", "build_files", "pack_files"),
}


def timed(module: ModuleType, name: str, spent: dict[str, float]) -> None:
    """Wrap `module.name` so that its wall-clock seconds add up in `spent`."""
    fn: Callable[..., Any] | None = getattr(module, name, None)
    if fn is None:  # an older commit without that stage
        return

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            key = f"{module.__name__.rsplit('.', 1)[-1]}.{name}"
            spent[key] = spent.get(key, 0.0) + time.perf_counter() - t0

    setattr(module, name, wrapper)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--decisions", type=int, default=200_000)
    ap.add_argument("--folder", default=None, help="where the ledger is kept between runs")
    ap.add_argument("--src", default=str(HERE.parent / "src"), help="the src/ folder to time")
    args = ap.parse_args()
    sys.path.insert(0, args.src)
    from remit.evidence import pack, verify  # from --src, before anything imports remit
    from remit.ledger.log import Ledger
    from remit.ledger.sqlite_store import SqliteStore
    from remit.report.period import parse_period
    from remit.signing.keys import generate_signing_key, load_signing_key, write_key_pair

    sys.path.insert(0, str(HERE))
    import bench_dashboard as bench  # the same ledger as the dashboard benchmark

    folder = Path(args.folder or f"/tmp/remit-pack-stages-{args.decisions}")
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "pack.db").exists():
        bench._build_file(folder, args.decisions)
    if not (folder / "log.key").exists():
        write_key_pair(folder / "log", generate_signing_key("bench/log"))
    key = load_signing_key(folder / "log.key")
    store = SqliteStore(folder / "pack.db")
    end = Ledger(store, key).checkpoint(bench.Q4 + timedelta(days=92))
    spent: dict[str, float] = {}
    for module in (pack, verify):
        for name in STAGES["pack" if module is pack else "verify"]:
            timed(module, name, spent)
    print(f"load average {os.getloadavg()[0]:.1f}; {args.decisions:,} decisions; src {args.src}")
    t0, c0 = time.perf_counter(), bench.cpu_seconds()
    data = pack.make_pack(pack.gather(store, "soc2", parse_period("2026-Q4"), key.name, end))
    print(f"written in {time.perf_counter() - t0:.1f} s ({bench.cpu_seconds() - c0:.1f} s CPU)")
    for stage, seconds in spent.items():
        print(f"  {stage:<24} {seconds:6.2f} s")
    spent.clear()
    store.close()
    t0, c0 = time.perf_counter(), bench.cpu_seconds()
    report = verify.verify_pack(data, key.verifier())
    print(f"verified in {time.perf_counter() - t0:.1f} s ({bench.cpu_seconds() - c0:.1f} s CPU)")
    for stage, seconds in spent.items():
        print(f"  {stage:<24} {seconds:6.2f} s")
    assert all(p.startswith("incomplete") for p in report.problems), report.problems
    print(f"load average {os.getloadavg()[0]:.1f}; peak memory {bench.peak_mb():,.0f} MB")


if __name__ == "__main__":
    main()
