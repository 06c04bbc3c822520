"""Proof planning and generation for the RFC 6962 Merkle tree.

Its one job: work out which *complete* stored nodes an inclusion proof, a
consistency proof or a historical root needs (``inclusion_plan``,
``consistency_plan``, ``root_plan``), fetch them from a ``NodeReader`` with one
batch call and combine them, so generating a proof touches O(log n) stored
nodes and never rehashes the log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from remit.tlog.merkle.hashing import (
    EMPTY_ROOT,
    MerkleError,
    NodeId,
    NodeNotFoundError,
    NodeReader,
    ProofStep,
    _check_hash_arg,
    _check_non_negative,
    _fold,
)


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
