"""The oversight computations run over a ledger store: which records to read, from
where, for a replay. The only module of `oversight` that touches a store (through the
ledger's typed history); the computations themselves are pure.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime, timedelta

from remit.decide import Gate
from remit.ledger.history import first_decision_index, records
from remit.ledger.store import LedgerStore
from remit.oversight.whatif import REPLAY_KINDS, WhatIfReport, replay


def lookback(gate: Gate) -> timedelta:
    """How far before a window's start the proposed envelope's rate windows reach."""
    spans = [
        r.blast_radius.window.per
        for r in gate.envelope.rules
        if r.blast_radius is not None and r.blast_radius.window is not None
    ]
    return max(spans, default=timedelta(0))


def whatif(
    store: LedgerStore,
    gate: Gate,
    since: datetime | None,
    until: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> WhatIfReport:
    """Replay the decisions recorded in [since, until) under `gate`'s (proposed) envelope.
    Reads from the first decision its rate windows can reach; events and sign-offs from
    the start of the ledger. Never writes."""
    start = 0
    if since is not None:
        first = first_decision_index(store, since - lookback(gate))
        start = store.size() if first is None else first
    history = itertools.chain(
        records(store, REPLAY_KINDS - {"decision", "approval"}, 0, start),
        records(store, REPLAY_KINDS, start),
    )
    return replay(gate, history, since, until, progress)
