"""RFC 6962 / RFC 9162 Merkle tree maths (SHA-256): hashes, proofs, verification.

This module's one job is the pure arithmetic of a transparency-log Merkle tree:

* hashing: ``leaf_hash`` (``SHA-256(0x00 || data)``), ``node_hash``
  (``SHA-256(0x01 || left || right)``), ``root_of`` (MTH) and ``EMPTY_ROOT``;
* ``CompactRange``: streaming/incremental tree building that reports every
  complete subtree node as it is formed, so a store can persist it;
* proof planning: which *complete* nodes an inclusion proof, a consistency
  proof or a historical root needs (``inclusion_plan``, ``consistency_plan``,
  ``root_plan``) and how to combine them, so generating a proof touches
  O(log n) stored nodes and never rehashes the log;
* proof generation from any ``NodeReader`` and RFC 9162 proof verification
  with the transparency-dev/merkle edge rules;
* ``InMemoryTree``, a small ``NodeReader`` for tests and for checking bundles.

Node addressing: ``(level, index)`` names the complete subtree covering leaves
``[index * 2**level, (index + 1) * 2**level)``; level 0 holds leaf hashes.
Nodes on the right edge of a tree whose size is not a power of two are
"ephemeral": they are never stored, but hashed together from complete nodes.

It does no I/O, knows nothing about entries, checkpoints or signatures, and
supports no hash function other than SHA-256.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from itertools import islice
from typing import Protocol, TypeAlias

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "InMemoryTree",
    "MerkleError",
    "NewNode",
    "NodeId",
    "NodeNotFoundError",
    "NodeReader",
    "ProofError",
    "ProofStep",
    "combine_plan",
    "consistency_plan",
    "consistency_proof",
    "consistency_proof_size",
    "inclusion_plan",
    "inclusion_proof",
    "inclusion_proof_size",
    "leaf_hash",
    "leaf_range",
    "node_hash",
    "plan_node_ids",
    "resolve_plan",
    "root_at",
    "root_from_inclusion_proof",
    "root_of",
    "root_plan",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Size in bytes of every hash in the tree (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Root of the empty tree: SHA-256 of the empty string (not the hash of an empty leaf)."""

_sha256 = hashlib.sha256
_LEAF = b"\x00"
_NODE = b"\x01"

# Leaves hashed per batch by CompactRange.extend_data once the range is aligned:
# a whole 2**_CHUNK_LEVEL subtree is built level by level with comprehensions.
_CHUNK_LEVEL = 10
_CHUNK = 1 << _CHUNK_LEVEL
_NEVER = 1 << 62  # a level no tree reaches: "report no nodes"

NodeId: TypeAlias = tuple[int, int]
"""``(level, index)`` of a complete subtree."""

NewNode: TypeAlias = tuple[int, int, bytes]
"""``(level, index, hash)`` of a complete node newly formed by an append."""

ProofStep: TypeAlias = tuple[NodeId, ...]
"""Complete nodes, left to right, whose right-to-left fold is one proof hash.

A step of one node is that node's hash; a longer step is an ephemeral
right-edge node: ``node_hash(a, node_hash(b, ... node_hash(y, z)))``.
"""


class MerkleError(ValueError):
    """Base error: invalid arguments to tree maths, or a tree/reader that cannot answer."""


class ProofError(MerkleError):
    """A proof failed verification or is malformed; the message says why."""


class NodeNotFoundError(MerkleError):
    """A node reader was asked for a node it does not hold."""


class NodeReader(Protocol):
    """Read access to complete tree nodes (level 0 = leaf hashes).

    Proof functions in this module make a single ``nodes`` call per proof, so a
    store can fetch all the needed nodes in one query.
    """

    def node(self, level: int, index: int) -> bytes:
        """Return the hash of complete node ``(level, index)``."""
        ...

    def nodes(self, ids: Sequence[NodeId]) -> list[bytes]:
        """Return the hashes of the complete nodes ``ids``, in the same order."""
        ...


# --------------------------------------------------------------------------- hashing


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the RFC 6962 hash of a leaf (entry) input."""
    return _sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: the RFC 6962 hash of an interior node."""
    return _sha256(_NODE + left + right).digest()


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over the given leaf hashes (``EMPTY_ROOT`` for none)."""
    compact = CompactRange()
    compact.extend(leaf_hashes)
    return compact.root()


def leaf_range(level: int, index: int) -> tuple[int, int]:
    """The leaves ``[start, end)`` covered by complete node ``(level, index)``."""
    _check_non_negative("level", level)
    _check_non_negative("index", index)
    return index << level, (index + 1) << level


def _fold(hashes: Sequence[bytes]) -> bytes:
    """Hash complete subtrees (left to right) into the root of their union."""
    result = hashes[-1]
    for position in range(len(hashes) - 2, -1, -1):
        result = _sha256(_NODE + hashes[position] + result).digest()
    return result


# --------------------------------------------------------------------------- compact range


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


# --------------------------------------------------------------------------- planning


def _check_non_negative(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise MerkleError(f"{name} must be an int, found {type(value).__name__}")
    if value < 0:
        raise MerkleError(f"{name} must be >= 0, found {value}")


def _check_hash_arg(name: str, value: bytes) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        found = f"{len(value)} bytes" if isinstance(value, bytes | bytearray) else type(value)
        raise MerkleError(f"{name} must be a {HASH_SIZE}-byte hash, found {found}")


def _decompose(start: int, end: int) -> ProofStep:
    """Complete nodes covering ``[start, end)``, largest first.

    ``start`` must be a multiple of the largest power of two <= ``end - start``,
    which holds for every range a proof or root needs.
    """
    ids: list[NodeId] = []
    remaining = end - start
    while remaining:
        level = remaining.bit_length() - 1
        ids.append((level, start >> level))
        start += 1 << level
        remaining -= 1 << level
    return tuple(ids)


def _path_steps(index: int, size: int, from_level: int) -> list[ProofStep]:
    """Siblings of leaf ``index``'s path in a tree of ``size``, from ``from_level`` up."""
    steps: list[ProofStep] = []
    last = size - 1
    inner = (index ^ last).bit_length()
    for level in range(from_level, inner):
        start = ((index >> level) ^ 1) << level
        steps.append(_decompose(start, min(size, start + (1 << level))))
    for level in range(max(inner, from_level), last.bit_length()):
        if (index >> level) & 1:
            steps.append(((level, (index >> level) ^ 1),))
    return steps


def inclusion_plan(index: int, size: int) -> list[ProofStep]:
    """Steps of the inclusion proof of leaf ``index`` in a tree of ``size`` leaves.

    One step per proof hash, leaf to root. At most one step (the ephemeral
    right-edge sibling) has more than one node, so the plan touches at most
    about ``2 * log2(size)`` nodes.
    """
    _check_non_negative("leaf index", index)
    _check_non_negative("tree size", size)
    if index >= size:
        raise MerkleError(f"leaf index must be < tree size, found index {index} >= size {size}")
    return _path_steps(index, size, 0)


def consistency_plan(size1: int, size2: int) -> list[ProofStep]:
    """Steps of the consistency proof from tree ``size1`` to tree ``size2``.

    Empty when ``size1 == size2``; ``size1 == 0`` is rejected (meaningless proof).
    """
    _check_non_negative("size1", size1)
    _check_non_negative("size2", size2)
    if size1 == 0:
        raise MerkleError("size1 must be > 0: a consistency proof from the empty tree is empty")
    if size1 > size2:
        raise MerkleError(f"size1 must be <= size2, found {size1} > {size2}")
    if size1 == size2:
        return []
    shift = (size1 & -size1).bit_length() - 1
    last = size1 - 1
    steps: list[ProofStep] = []
    if size1 != 1 << shift:
        # The old tree is not a single complete subtree: the verifier needs the
        # complete node ending at size1 as a seed.
        steps.append(((shift, last >> shift),))
    steps.extend(_path_steps(last, size2, shift))
    return steps


def root_plan(size: int) -> list[NodeId]:
    """Complete nodes (largest first) whose right-to-left fold is the root of ``size``."""
    _check_non_negative("tree size", size)
    return list(_decompose(0, size))


def plan_node_ids(steps: Iterable[ProofStep]) -> list[NodeId]:
    """The distinct node ids a plan needs, in first-use order (for one batch fetch)."""
    seen: dict[NodeId, None] = {}
    for step in steps:
        for node_id in step:
            seen.setdefault(node_id, None)
    return list(seen)


def combine_plan(steps: Sequence[ProofStep], nodes: Mapping[NodeId, bytes]) -> list[bytes]:
    """Turn plan steps into proof hashes using already-fetched node hashes."""
    result: list[bytes] = []
    for step in steps:
        try:
            hashes = [nodes[node_id] for node_id in step]
        except KeyError as exc:
            raise NodeNotFoundError(
                f"node {exc.args[0]} needed by the plan was not given"
            ) from None
        result.append(_fold(hashes))
    return result


def _fetch(ids: Sequence[NodeId], reader: NodeReader) -> list[bytes]:
    fetched = reader.nodes(ids)
    if len(fetched) != len(ids):
        raise MerkleError(f"node reader returned {len(fetched)} hashes for {len(ids)} node ids")
    for node_id, value in zip(ids, fetched, strict=True):
        _check_hash_arg(f"node {node_id} from the reader", value)
    return fetched


def resolve_plan(steps: Sequence[ProofStep], reader: NodeReader) -> list[bytes]:
    """Fetch a plan's nodes with one ``reader.nodes`` call and combine them."""
    ids = plan_node_ids(steps)
    if not ids:
        return []
    return combine_plan(steps, dict(zip(ids, _fetch(ids, reader), strict=True)))


def inclusion_proof(index: int, size: int, reader: NodeReader) -> list[bytes]:
    """Inclusion proof (audit path) of leaf ``index`` in the tree of ``size`` leaves."""
    return resolve_plan(inclusion_plan(index, size), reader)


def consistency_proof(size1: int, size2: int, reader: NodeReader) -> list[bytes]:
    """Consistency proof between the trees of ``size1`` and ``size2`` leaves."""
    return resolve_plan(consistency_plan(size1, size2), reader)


def root_at(size: int, reader: NodeReader) -> bytes:
    """Root of the tree of ``size`` leaves from its O(log n) complete nodes."""
    ids = root_plan(size)
    if not ids:
        return EMPTY_ROOT
    return _fold(_fetch(ids, reader))


def inclusion_proof_size(index: int, size: int) -> int:
    """Exact number of hashes in the inclusion proof of ``index`` in ``size``."""
    _check_non_negative("leaf index", index)
    _check_non_negative("tree size", size)
    if index >= size:
        raise MerkleError(f"leaf index must be < tree size, found index {index} >= size {size}")
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def consistency_proof_size(size1: int, size2: int) -> int:
    """Exact number of hashes in the consistency proof from ``size1`` to ``size2``."""
    return len(consistency_plan(size1, size2))


# --------------------------------------------------------------------------- verification


def _proof_int(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProofError(f"{name} must be an int, found {type(value).__name__}")
    if value < 0:
        raise ProofError(f"{name} must be >= 0, found {value}")


def _proof_hash(name: str, value: bytes) -> None:
    if not isinstance(value, bytes | bytearray):
        raise ProofError(f"{name} must be bytes, found {type(value).__name__}")
    if len(value) != HASH_SIZE:
        raise ProofError(f"{name} must be {HASH_SIZE} bytes, found {len(value)} bytes")


def _proof_elements(proof: Sequence[bytes], expected: int, what: str) -> None:
    if len(proof) != expected:
        raise ProofError(f"{what} must have exactly {expected} hashes, found {len(proof)}")
    for position, value in enumerate(proof):
        _proof_hash(f"{what} element #{position}", value)


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """Recompute the root implied by an inclusion proof (RFC 9162 §2.1.3.2).

    Raises ProofError if the proof is malformed (wrong index, length or hash sizes).
    """
    _proof_int("leaf index", index)
    _proof_int("tree size", size)
    if index >= size:
        raise ProofError(f"leaf index must be < tree size, found index {index} >= size {size}")
    _proof_hash("leaf hash", leaf_hash)
    inner = (index ^ (size - 1)).bit_length()
    _proof_elements(proof, inner + (index >> inner).bit_count(), "inclusion proof")
    fn = index
    sn = size - 1
    result = bytes(leaf_hash)
    for element in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            result = node_hash(element, result)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            result = node_hash(result, element)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    return result


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree ``(size, root)``.

    Returns None on success; raises ProofError with the reason otherwise.
    """
    _proof_hash("root", root)
    computed = root_from_inclusion_proof(leaf_hash, index, size, proof)
    if computed != root:
        raise ProofError(
            f"inclusion proof for leaf {index} of {size} leads to root {computed.hex()}, "
            f"expected {bytes(root).hex()}"
        )


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check that tree ``(size1, root1)`` is a prefix of tree ``(size2, root2)``.

    Follows RFC 9162 §2.1.4.2 plus the transparency-dev/merkle edge rules:
    ``size1 == 0`` is an error, ``size1 == size2`` needs an empty proof and
    equal roots, proof length must be exact. Raises ProofError on failure.
    """
    _proof_int("size1", size1)
    _proof_int("size2", size2)
    if size1 == 0:
        raise ProofError(
            "size1 must be > 0: a consistency proof from the empty tree is meaningless"
        )
    if size1 > size2:
        raise ProofError(f"size1 must be <= size2, found {size1} > {size2}")
    if size1 == size2:
        # Like transparency-dev/merkle, equal sizes compare the roots as given
        # (the published probe "sizes are equal (one) and proof is empty" uses
        # 12-byte roots and must pass).
        if proof:
            raise ProofError(
                f"consistency proof between equal sizes must be empty, found {len(proof)} hashes"
            )
        if root1 != root2:
            raise ProofError(
                f"trees of equal size {size1} must have equal roots, found "
                f"{bytes(root1).hex()} and {bytes(root2).hex()}"
            )
        return
    _proof_hash("root1", root1)
    _proof_hash("root2", root2)
    _proof_elements(proof, consistency_proof_size(size1, size2), "consistency proof")
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, bytes(root1))
    fn = size1 - 1
    sn = size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first = second = path[0]
    for element in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            first = node_hash(element, first)
            second = node_hash(element, second)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            second = node_hash(second, element)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof is shorter than the tree is deep")
    if first != root1:
        raise ProofError(
            f"consistency proof leads to root {first.hex()} for size {size1}, "
            f"expected {bytes(root1).hex()}"
        )
    if second != root2:
        raise ProofError(
            f"consistency proof leads to root {second.hex()} for size {size2}, "
            f"expected {bytes(root2).hex()}"
        )


# --------------------------------------------------------------------------- in-memory tree


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
