"""Building many objects at once without Python's cyclic garbage collector walking them.

A bulk read (a ledger export, a trail file turned into rows, a reconciliation's AI calls)
allocates hundreds of thousands of dicts, tuples and records that form no reference
cycles. Every 700 allocations CPython runs a collection, and every so often a full one
that walks everything alive — the objects already built included — so building N objects
costs O(N²) in collections. `paused_collection` switches the collector off for such a
block and back on after it (if it was on). Reference counting still frees everything
as usual; only cycles made inside the block wait for the next collection.

It does not free memory, change what is built, or touch `gc.freeze` (the service and the
decision writer freeze their start-up objects themselves).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_collection() -> Iterator[None]:
    """The cyclic garbage collector off inside the block, as it was after it."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
