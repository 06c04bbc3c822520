"""Where in a log the first changed entry lies, from hashes alone.

Given the leaf hashes recomputed from the entries, the stored leaf hashes where they
differ, the stored tree nodes and the first signed checkpoint whose root the entries no
longer reproduce, it authenticates stored hashes top-down from that signed root (a stored
node whose children's hashes combine to an authenticated hash is itself authenticated)
and descends into the leftmost subtree whose recomputed hash differs from its
authenticated one. Everything left of that subtree is proven intact; the subtree holds a
changed entry. When the descent reaches one leaf, the entry is named exactly; when a
forger recomputed the stored hashes too, the descent stops where authentication stops
(a 16-entry block with stale nodes, the whole checkpoint interval with recomputed ones).

It does not read a store, judge entry contents or check signatures (the caller gives the
checkpoint root it already verified). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from remit.tlog import merkle

HASH = 32


@dataclass(frozen=True, slots=True)
class Located:
    """Entries [start, end) hold a changed entry and everything before `start` is proven
    intact; `end - start == 1` names it exactly."""

    start: int
    end: int


class Leaves:
    """Recomputed leaf hashes of a log prefix, packed 32 bytes each, with the stored leaf
    hashes that differed from them."""

    def __init__(self) -> None:
        self._packed = bytearray()
        self.stored_differs: dict[int, bytes] = {}

    def __len__(self) -> int:
        return len(self._packed) // HASH

    def extend(self, hashes: list[bytes]) -> None:
        self._packed += b"".join(hashes)

    def recomputed(self, start: int, end: int) -> list[bytes]:
        raw = self._packed[start * HASH : end * HASH]
        return [bytes(raw[i : i + HASH]) for i in range(0, len(raw), HASH)]

    def claimed(self, start: int, end: int) -> list[bytes]:
        """What the store claims for these leaves (its stored leaf hashes)."""
        got = self.recomputed(start, end)
        for index, value in self.stored_differs.items():
            if start <= index < end:
                got[index - start] = value
        return got


def locate(
    leaves: Leaves,
    size: int,
    root: bytes,
    nodes: Mapping[tuple[int, int], bytes],
    *,
    min_stored_level: int,
) -> Located:
    """Localise the first changed entry among the first `size` leaves, whose signed root
    `root` the recomputed leaves do not reproduce."""
    plan = merkle.root_plan(size)
    claimed = [_claim(leaves, nodes, lv, ix, min_stored_level) for lv, ix in plan]
    whole = Located(0, size)
    values = [c for c in claimed if c is not None]
    if len(values) != len(plan) or not values or _fold(values) != root:
        return whole  # the stored hashes were recomputed too: only the checkpoint speaks
    for (level, index), value in zip(plan, values, strict=True):
        if _recompute(leaves, level, index) != value:
            return _descend(leaves, nodes, level, index, value, min_stored_level)
    return whole  # unreachable when the fold differs; kept total


def _descend(
    leaves: Leaves,
    nodes: Mapping[tuple[int, int], bytes],
    level: int,
    index: int,
    authentic: bytes,
    min_stored_level: int,
) -> Located:
    """Down from an authenticated node whose recomputed hash differs."""
    while level > 0:
        left, right = (level - 1, 2 * index), (level - 1, 2 * index + 1)
        a = _claim(leaves, nodes, *left, min_stored_level)
        b = _claim(leaves, nodes, *right, min_stored_level)
        if a is None or b is None or merkle.node_hash(a, b) != authentic:
            break  # the children's stored hashes were rewritten: cannot go lower
        if _recompute(leaves, *left) != a:
            (level, index), authentic = left, a
        else:
            (level, index), authentic = right, b
    lo, hi = merkle.leaf_range(level, index)
    return Located(lo, hi)


def _claim(
    leaves: Leaves,
    nodes: Mapping[tuple[int, int], bytes],
    level: int,
    index: int,
    min_stored_level: int,
) -> bytes | None:
    """The store's claim for a complete node: stored from `min_stored_level` up, else
    hashed from its stored leaf hashes; None if it has none."""
    if level >= min_stored_level:
        return nodes.get((level, index))
    lo, hi = merkle.leaf_range(level, index)
    if hi > len(leaves):
        return None
    return merkle.root_of(leaves.claimed(lo, hi))


def _recompute(leaves: Leaves, level: int, index: int) -> bytes:
    lo, hi = merkle.leaf_range(level, index)
    return merkle.root_of(leaves.recomputed(lo, hi))


def _fold(hashes: list[bytes]) -> bytes:
    result = hashes[-1]
    for value in reversed(hashes[:-1]):
        result = merkle.node_hash(value, result)
    return result
