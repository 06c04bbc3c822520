"""Runs the partitions of one what-if replay in worker processes and merges their
reports. Each worker opens the ledger itself (read-only) from its reopen spec, replays
its partition (`runs.replay_part`) and sends back the partition's report; a worker that
fails ends the replay with `ReplayFailed` naming its partition, never a hang.

Workers are started by the "forkserver" method (or "spawn"), never forked from a
process that may have threads running.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from datetime import datetime
from multiprocessing.sharedctypes import Synchronized
from typing import Any

from remit.catalog import ActionCatalog, default_catalog
from remit.decide import Gate
from remit.domain.envelope import Envelope
from remit.domain.trust import EnvelopeTrust
from remit.ledger.store import LedgerUnavailable
from remit.oversight.runs import Part, replay_part
from remit.oversight.whatif import Flip, WhatIfReport, merged


class ReplayFailed(LedgerUnavailable):
    """A worker process of a what-if replay failed (its ledger unreadable, or it died)."""


_read: Synchronized[int] | None = None  # in a worker: the records read by all workers


def replay_in_processes(
    spec: str,
    gate: Gate,
    since: datetime | None,
    until: datetime | None,
    parts: Sequence[Part],
    progress: Callable[[int], None] | None = None,
) -> WhatIfReport:
    """The report of one replay of [since, until) over `parts` (consecutive, in ledger
    order), one worker process per partition over the ledger `spec` names. `progress`
    is told the records read by all workers together, about every half second."""
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    if "forkserver" in methods:
        ctx.set_forkserver_preload([__name__])  # workers start with Remit imported
    read: Synchronized[int] = ctx.Value("q", 0)
    pool = ProcessPoolExecutor(len(parts), mp_context=ctx, initializer=_start, initargs=(read,))
    try:
        catalog = None if gate.catalog is default_catalog() else gate.catalog
        made = (gate.envelope, gate.ref.digest, gate.trust, catalog)  # a Gate does not pickle
        futures = [pool.submit(_replay, spec, made, since, until, p) for p in parts]
        pending: set[Future[tuple[WhatIfReport, list[FlipRow]]]] = set(futures)
        while pending:
            _, pending = wait(pending, timeout=0.5, return_when=FIRST_EXCEPTION)
            if progress is not None:
                progress(read.value)
            for f, part in zip(futures, parts, strict=True):
                if f.done() and f.exception() is not None:
                    raise _failed(part, f.exception())
        reports = [_expand(f.result()) for f in futures]
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown()
    return merged(gate, since, until, reports)


def _failed(part: Part, exc: BaseException | None) -> ReplayFailed:
    why = f"{type(exc).__name__}: {exc}" if exc is not None else "unknown"
    err = ReplayFailed(
        f"what-if replay failed in the worker for ledger indexes [{part[0]}, {part[1]}): {why}"
    )
    err.__cause__ = exc
    return err


def _stop(pool: ProcessPoolExecutor) -> None:
    """End the workers still running (their partitions are no longer wanted)."""
    procs: dict[int, Any] = dict(getattr(pool, "_processes", None) or {})
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs.values():
        proc.terminate()
    for proc in procs.values():
        proc.join(5)


def _start(read: Synchronized[int]) -> None:
    global _read
    _read = read


GateMade = tuple[Envelope, str, EnvelopeTrust, ActionCatalog | None]


def _replay(
    spec: str, made: GateMade, since: datetime | None, until: datetime | None, part: Part
) -> tuple[WhatIfReport, list[FlipRow]]:
    """In a worker: replay one partition over the ledger `spec` names, read-only."""
    from remit.ledger.open import open_store

    gate = Gate(*made)

    def told(n: int) -> None:  # called every 10,000 records
        if _read is not None:
            with _read.get_lock():
                _read.value += 10_000

    store = open_store(spec, read_only=True)
    try:
        return _compact(replay_part(store, gate, since, until, part, told))
    finally:
        store.close()


FlipRow = tuple[Any, ...]


def _compact(report: WhatIfReport) -> tuple[WhatIfReport, list[FlipRow]]:
    """`report` without its flips, and the flips as plain tuples whose equal names, rules
    and reasons are one object each: what pickles fast and small (a dataclass with slots
    pickles through Python code; 150,000 flips ~10x smaller and faster this way)."""
    seen: dict[Any, Any] = {}

    def one(x: Any) -> Any:
        return seen.setdefault(x, x)

    rows = [
        (
            f.index,
            f.decision_id,
            f.decided_at,
            one(f.agent),
            one(f.action),
            f.old_tier,
            f.new_tier,
            one(f.old_rules),
            one(f.new_rules),
            one(f.new_reasons),
        )
        for f in report.flips
    ]
    report.flips = []
    return report, rows


def _expand(sent: tuple[WhatIfReport, list[FlipRow]]) -> WhatIfReport:
    report, rows = sent
    report.flips = [Flip(*row) for row in rows]
    return report
