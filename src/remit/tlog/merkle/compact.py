"""Incremental (streaming) construction of the RFC 6962 Merkle tree.

Its one job: ``CompactRange``, which appends leaves in O(log n) memory and
reports every complete subtree node as it is formed (so a store can persist
it), and ``root_of``, the Merkle tree hash (MTH) of a list of leaf hashes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import islice

from remit.tlog.merkle.hashing import (
    _LEAF,
    _NODE,
    EMPTY_ROOT,
    HASH_SIZE,
    MerkleError,
    NewNode,
    NodeReader,
    _check_hash_arg,
    _check_non_negative,
    _fold,
    _sha256,
)
from remit.tlog.merkle.plans import _fetch, root_plan

# Leaves hashed per batch by CompactRange.extend_data once the range is aligned:
# a whole 2**_CHUNK_LEVEL subtree is built level by level with comprehensions.
_CHUNK_LEVEL = 10
_CHUNK = 1 << _CHUNK_LEVEL
_NEVER = 1 << 62  # a level no tree reaches: "report no nodes"


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over the given leaf hashes (``EMPTY_ROOT`` for none)."""
    compact = CompactRange()
    compact.extend(leaf_hashes)
    return compact.root()


class CompactRange:
    """Incrementally built Merkle tree over leaves ``[0, size)``.

    Holds only the roots of the maximal complete subtrees (one per set bit of
    ``size``, largest first), so memory is O(log n). ``append`` reports the
    complete nodes each leaf forms (for a store to persist); ``extend`` (leaf
    hashes) and ``extend_data`` (leaf inputs) are the bulk fast paths for
    streaming verification, reporting nodes only when asked.
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @classmethod
    def from_state(cls, size: int, hashes: Sequence[bytes]) -> CompactRange:
        """Resume from ``size`` and the hashes of the nodes ``root_plan(size)``."""
        _check_non_negative("size", size)
        expected = size.bit_count()
        if len(hashes) != expected:
            raise MerkleError(
                f"a compact range of size {size} needs {expected} subtree hashes "
                f"(one per set bit), found {len(hashes)}"
            )
        for position, value in enumerate(hashes):
            _check_hash_arg(f"subtree hash #{position}", value)
        compact = cls()
        compact._size = size
        compact._hashes = [bytes(value) for value in hashes]
        return compact

    @classmethod
    def from_reader(cls, size: int, reader: NodeReader) -> CompactRange:
        """Resume at ``size`` by reading the O(log n) nodes of ``root_plan(size)``."""
        ids = root_plan(size)
        return cls.from_state(size, _fetch(ids, reader) if ids else [])

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """Roots of the maximal complete subtrees, left to right (see ``root_plan``)."""
        return tuple(self._hashes)

    def copy(self) -> CompactRange:
        """An independent copy of this range."""
        clone = CompactRange()
        clone._size = self._size
        clone._hashes = list(self._hashes)
        return clone

    def append(self, leaf_hash: bytes) -> list[NewNode]:
        """Append one leaf hash; return the complete nodes (level >= 1) it formed.

        Nodes are returned bottom-up as ``(level, index, hash)``; the list is
        empty when the new leaf completes no subtree (every even-indexed leaf).
        """
        if type(leaf_hash) is not bytes or len(leaf_hash) != HASH_SIZE:
            leaf_hash = _coerce_leaf_hash(leaf_hash, self._size)
        index = self._size
        stack = self._hashes
        if not index & 1:
            stack.append(leaf_hash)
            self._size = index + 1
            return []
        value = _sha256(_NODE + stack.pop() + leaf_hash).digest()
        index >>= 1
        level = 1
        formed = [(1, index, value)]
        while index & 1:
            value = _sha256(_NODE + stack.pop() + value).digest()
            index >>= 1
            level += 1
            formed.append((level, index, value))
        stack.append(value)
        self._size += 1
        return formed

    def extend(
        self, leaf_hashes: Iterable[bytes], *, nodes_from_level: int | None = None
    ) -> list[NewNode]:
        """Append many leaf hashes (faster than repeated ``append``).

        With ``nodes_from_level=None`` (the default, fastest) nothing is
        reported and ``[]`` is returned. Otherwise every complete node formed at
        a level >= ``max(1, nodes_from_level)`` is returned once, as
        ``(level, index, hash)``, in an unspecified but deterministic order.
        On a malformed leaf hash, MerkleError is raised and the leaves before it
        stay appended.
        """
        return self._absorb(leaf_hashes, False, nodes_from_level)

    def extend_data(
        self, entries: Iterable[bytes], *, nodes_from_level: int | None = None
    ) -> list[NewNode]:
        """Hash and append many leaf inputs: the streaming-verification hot path.

        Equivalent to ``append(leaf_hash(e))`` for each entry, but builds whole
        aligned subtrees of ``2**10`` leaves at a time with minimal overhead.
        ``nodes_from_level`` works as in ``extend``. A non-bytes entry raises
        TypeError, with every entry before it appended.
        """
        return self._absorb(entries, True, nodes_from_level)

    def _absorb(
        self, items: Iterable[bytes], hash_leaves: bool, nodes_from_level: int | None
    ) -> list[NewNode]:
        if nodes_from_level is None:
            report = _NEVER
        else:
            _check_non_negative("nodes_from_level", nodes_from_level)
            report = max(1, nodes_from_level)
        formed: list[NewNode] = []
        sha = _sha256
        node = _NODE
        stack = self._hashes
        pop = stack.pop
        push = stack.append
        size = self._size
        iterator = iter(items)
        try:
            # Leaf by leaf until the size is a multiple of the chunk (or input ends).
            if size & (_CHUNK - 1):
                for item in iterator:
                    size = self._push_one(item, hash_leaves, size, report, formed)
                    if not size & (_CHUNK - 1):
                        break
                else:
                    return formed
            # Whole aligned chunks, level by level; then the leftover leaf by leaf.
            while True:
                chunk = list(islice(iterator, _CHUNK))
                if len(chunk) < _CHUNK:
                    for item in chunk:
                        size = self._push_one(item, hash_leaves, size, report, formed)
                    return formed
                if hash_leaves:
                    leaf = _LEAF
                    try:
                        level_hashes = [sha(leaf + data).digest() for data in chunk]
                    except TypeError:
                        # Redo leaf by leaf so the error names the exact entry and
                        # every entry before it stays appended.
                        for item in chunk:
                            size = self._push_one(item, True, size, report, formed)
                        continue
                else:
                    if set(map(len, chunk)) != {HASH_SIZE} or not all(
                        type(value) is bytes for value in chunk
                    ):
                        for item in chunk:
                            size = self._push_one(item, False, size, report, formed)
                        continue
                    level_hashes = chunk
                level = 0
                while len(level_hashes) > 1:
                    pairs = iter(level_hashes)
                    level_hashes = [
                        sha(node + left + right).digest()
                        for left, right in zip(pairs, pairs, strict=True)
                    ]
                    level += 1
                    if level >= report:
                        first = size >> level
                        formed.extend(
                            [(level, first + i, value) for i, value in enumerate(level_hashes)]
                        )
                value = level_hashes[0]
                index = size >> _CHUNK_LEVEL
                while index & 1:
                    value = sha(node + pop() + value).digest()
                    index >>= 1
                    level += 1
                    if level >= report:
                        formed.append((level, index, value))
                push(value)
                size += _CHUNK
        finally:
            self._size = size

    def _push_one(
        self, item: bytes, hash_leaves: bool, size: int, report: int, formed: list[NewNode]
    ) -> int:
        """Append one leaf (hashing it first if asked) to the stack; return the new size."""
        if hash_leaves:
            value = _sha256(_LEAF + item).digest()
        elif type(item) is not bytes or len(item) != HASH_SIZE:
            value = _coerce_leaf_hash(item, size)
        else:
            value = item
        stack = self._hashes
        index = size
        level = 0
        while index & 1:
            value = _sha256(_NODE + stack.pop() + value).digest()
            index >>= 1
            level += 1
            if level >= report:
                formed.append((level, index, value))
        stack.append(value)
        return size + 1

    def root(self) -> bytes:
        """The Merkle tree hash of leaves ``[0, size)``."""
        if not self._hashes:
            return EMPTY_ROOT
        return _fold(self._hashes)


def _coerce_leaf_hash(value: object, position: int) -> bytes:
    """Return ``value`` as bytes if it is a 32-byte bytes-like object, else raise."""
    if isinstance(value, bytes | bytearray | memoryview) and len(value) == HASH_SIZE:
        return bytes(value)
    found = (
        f"{len(value)} bytes"
        if isinstance(value, bytes | bytearray | memoryview)
        else (type(value).__name__)
    )
    raise MerkleError(f"leaf hash #{position} must be {HASH_SIZE} bytes, found {found}")
