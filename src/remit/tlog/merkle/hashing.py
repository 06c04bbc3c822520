"""Hashing primitives and shared vocabulary of the RFC 6962 Merkle tree.

Its one job: the leaf/node hash functions (``leaf_hash``, ``node_hash``), the
tree constants (``HASH_SIZE``, ``EMPTY_ROOT``), node addressing (``NodeId``,
``NewNode``, ``ProofStep``, ``leaf_range``), the ``NodeReader`` protocol and the
error types, plus the argument checks the other parts of ``remit.tlog.merkle`` share.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol, TypeAlias

HASH_SIZE = 32
"""Size in bytes of every hash in the tree (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""Root of the empty tree: SHA-256 of the empty string (not the hash of an empty leaf)."""

_sha256 = hashlib.sha256
_LEAF = b"\x00"
_NODE = b"\x01"

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

    Proof functions in this package make a single ``nodes`` call per proof, so a
    store can fetch all the needed nodes in one query.
    """

    def node(self, level: int, index: int) -> bytes:
        """Return the hash of complete node ``(level, index)``."""
        ...

    def nodes(self, ids: Sequence[NodeId]) -> list[bytes]:
        """Return the hashes of the complete nodes ``ids``, in the same order."""
        ...


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the RFC 6962 hash of a leaf (entry) input."""
    return _sha256(_LEAF + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: the RFC 6962 hash of an interior node."""
    return _sha256(_NODE + left + right).digest()


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


def _check_non_negative(name: str, value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise MerkleError(f"{name} must be an int, found {type(value).__name__}")
    if value < 0:
        raise MerkleError(f"{name} must be >= 0, found {value}")


def _check_hash_arg(name: str, value: bytes) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        found = f"{len(value)} bytes" if isinstance(value, bytes | bytearray) else type(value)
        raise MerkleError(f"{name} must be a {HASH_SIZE}-byte hash, found {found}")
