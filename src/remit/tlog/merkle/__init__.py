"""RFC 6962 / RFC 9162 Merkle tree maths (SHA-256): hashes, proofs, verification.

This package's one job is the pure arithmetic of a transparency-log Merkle tree:

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

The package is split by job: ``hashing`` (hashes, constants, node ids, errors),
``compact`` (``CompactRange``, ``root_of``), ``plans`` (proof planning and
generation from a ``NodeReader``), ``verify`` (proof verification) and
``memory`` (``InMemoryTree``) and ``span`` (``SpanTree``, the right part of a tree
built in one pass, for proving many leaves). Import from ``remit.tlog.merkle`` itself.
"""

from __future__ import annotations

from remit.tlog.merkle.compact import CompactRange, root_of
from remit.tlog.merkle.hashing import (
    EMPTY_ROOT,
    HASH_SIZE,
    MerkleError,
    NewNode,
    NodeId,
    NodeNotFoundError,
    NodeReader,
    ProofError,
    ProofStep,
    leaf_hash,
    leaf_range,
    node_hash,
)
from remit.tlog.merkle.memory import InMemoryTree
from remit.tlog.merkle.plans import (
    combine_plan,
    consistency_plan,
    consistency_proof,
    consistency_proof_size,
    inclusion_plan,
    inclusion_proof,
    inclusion_proof_size,
    plan_node_ids,
    resolve_plan,
    root_at,
    root_plan,
)
from remit.tlog.merkle.span import SpanTree
from remit.tlog.merkle.verify import (
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

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
    "SpanTree",
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
