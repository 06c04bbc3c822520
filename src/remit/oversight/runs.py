"""The oversight computations run over a ledger store: which records to read, from
where, for a replay, and how a long replay is cut into partitions. The only module of
`oversight` that touches a store (through the ledger's typed history); the computations
themselves are pure.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime, timedelta

from remit.decide import Gate
from remit.domain.clock import parse_ts
from remit.ledger.history import (
    decision_cuts,
    decision_span,
    earliest_decision,
    first_window_action,
    records,
)
from remit.ledger.store import LedgerStore
from remit.oversight.whatif import REPLAY_KINDS, WhatIfReport, replay

STATE_KINDS = REPLAY_KINDS - {"decision", "approval"}
"""What a replay reads from the start of the ledger: events, sign-offs, demotions."""

MIN_PART = 25_000
"""The fewest decisions worth a worker process of their own (starting one costs ~1 s)."""

Part = tuple[int, int]
"""A partition of a replay: the decisions it counts are those at ledger indexes [a, b)."""


def lookback(gate: Gate) -> timedelta:
    """How far before a window's start the proposed envelope's rate windows reach."""
    spans = [
        r.blast_radius.window.per
        for r in gate.envelope.rules
        if r.blast_radius is not None and r.blast_radius.window is not None
    ]
    return max(spans, default=timedelta(0))


def plan(
    store: LedgerStore,
    since: datetime | None,
    workers: int,
    min_part: int = MIN_PART,
) -> list[Part]:
    """The partitions of the decisions a replay from `since` reads (`decision_span`: to
    the last decision, as one recorded after a window's end may have been decided in it),
    in ledger order: up to `workers`, each with at least about `min_part` decisions.
    Empty if there are none."""
    span = decision_span(store, since)
    if span is None:
        return []
    lo, hi = span
    parts = max(1, min(workers, (hi - lo) // max(1, min_part)))
    bounds = [lo, *decision_cuts(store, lo, hi, parts), hi]
    return list(itertools.pairwise(bounds))


def replay_part(
    store: LedgerStore,
    gate: Gate,
    since: datetime | None,
    until: datetime | None,
    part: Part,
    progress: Callable[[int], None] | None = None,
) -> WhatIfReport:
    """Replay the decisions at ledger indexes [a, b) that fall in [since, until). Before
    `a`, it reads (without counting) the decisions and approvals its rate windows can
    reach — from the earliest rate-window action recorded at or after its earliest
    decision less `lookback(gate)` — and the events and sign-offs from the start of the
    ledger, so each decision sees exactly the state a replay from the start would give it.
    """
    a, b = part
    back = lookback(gate)
    first = earliest_decision(store, a, b, since)
    reach = None if first is None else parse_ts(first) - back
    while True:
        warm = a
        if reach is not None:
            found = first_window_action(store, reach, a)
            warm = a if found is None else found
        history = itertools.chain(
            records(store, STATE_KINDS, 0, warm), records(store, REPLAY_KINDS, warm, b)
        )
        report = replay(gate, history, since, until, progress, count_from=a)
        if report.earliest is None or (reach is not None and report.earliest - back >= reach):
            return report
        # A decision's recorded time is earlier than the index said: read again from there.
        reach = report.earliest - back


def whatif(
    store: LedgerStore,
    gate: Gate,
    since: datetime | None,
    until: datetime | None = None,
    progress: Callable[[int], None] | None = None,
    workers: int = 1,
    min_part: int = MIN_PART,
) -> WhatIfReport:
    """Replay the decisions recorded in [since, until) under `gate`'s (proposed) envelope,
    in up to `workers` processes (one partition of the ledger each, see `replay_part`;
    partitions of fewer than `min_part` decisions are not worth a process). Reads from
    the first decision its rate windows can reach; events and sign-offs from the start of
    the ledger. The report is the same for any number of workers. Never writes."""
    parts = plan(store, since, workers, min_part)
    if not parts:
        return replay(gate, (), since, until)
    if len(parts) == 1 or store.reopen_spec is None:
        a, b = parts[0][0], parts[-1][1]
        return replay_part(store, gate, since, until, (a, b), progress)
    from remit.oversight.whatif_pool import replay_in_processes

    return replay_in_processes(store.reopen_spec, gate, since, until, parts, progress)
