"""A whole Merkle tree held in memory.

Its one job: ``InMemoryTree``, a ``NodeReader`` that keeps every complete node,
for tests and for verifying export bundles (not for large logs).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from remit.tlog.merkle.compact import CompactRange
from remit.tlog.merkle.hashing import (
    MerkleError,
    NodeId,
    NodeNotFoundError,
    _check_non_negative,
    leaf_hash,
)
from remit.tlog.merkle.plans import consistency_proof, inclusion_proof, root_at


class InMemoryTree:
    """A whole Merkle tree kept in memory (every complete node); a ``NodeReader``.

    Meant for tests and for verifying export bundles, not for large logs.
    """

    __slots__ = ("_levels", "_range")

    def __init__(self, entries: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        self._range = CompactRange()
        for data in entries:
            self.append(data)

    @classmethod
    def from_leaf_hashes(cls, leaf_hashes: Iterable[bytes]) -> InMemoryTree:
        """Build a tree from precomputed leaf hashes."""
        tree = cls()
        for value in leaf_hashes:
            tree.append_leaf_hash(value)
        return tree

    @property
    def size(self) -> int:
        """Number of leaves."""
        return self._range.size

    def append(self, data: bytes) -> int:
        """Append a leaf input; return its leaf index."""
        return self.append_leaf_hash(leaf_hash(data))

    def append_leaf_hash(self, value: bytes) -> int:
        """Append a precomputed leaf hash; return its leaf index."""
        index = self._range.size
        formed = self._range.append(value)
        levels = self._levels
        levels[0].append(bytes(value))
        for level, _node_index, node in formed:
            if level == len(levels):
                levels.append([])
            levels[level].append(node)
        return index

    def leaf_hash(self, index: int) -> bytes:
        """The leaf hash at ``index``."""
        return self.node(0, index)

    def node(self, level: int, index: int) -> bytes:
        """Hash of complete node ``(level, index)``; NodeNotFoundError if not complete."""
        levels = self._levels
        if 0 <= level < len(levels) and 0 <= index < len(levels[level]):
            return levels[level][index]
        raise NodeNotFoundError(
            f"no complete node (level {level}, index {index}) in a tree of {self.size} leaves"
        )

    def nodes(self, ids: Sequence[NodeId]) -> list[bytes]:
        """Hashes of complete nodes ``ids``, in order."""
        return [self.node(level, index) for level, index in ids]

    def root(self) -> bytes:
        """Root of the whole tree."""
        return self._range.root()

    def root_at(self, size: int) -> bytes:
        """Root of the first ``size`` leaves."""
        self._check_size(size)
        return root_at(size, self)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """Inclusion proof of leaf ``index`` in the tree of ``size`` (default: all) leaves."""
        size = self.size if size is None else size
        self._check_size(size)
        return inclusion_proof(index, size, self)

    def consistency_proof(self, size1: int, size2: int | None = None) -> list[bytes]:
        """Consistency proof from ``size1`` to ``size2`` (default: current size)."""
        size2 = self.size if size2 is None else size2
        self._check_size(size2)
        return consistency_proof(size1, size2, self)

    def _check_size(self, size: int) -> None:
        _check_non_negative("tree size", size)
        if size > self.size:
            raise MerkleError(f"tree size must be <= {self.size} (leaves held), found {size}")
