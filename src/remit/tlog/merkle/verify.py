"""RFC 9162 verification of Merkle inclusion and consistency proofs.

Its one job: check proofs against roots (``verify_inclusion``,
``verify_consistency``, ``root_from_inclusion_proof``) following RFC 9162 and
the transparency-dev/merkle edge rules, raising ``ProofError`` with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence

from remit.tlog.merkle.hashing import HASH_SIZE, ProofError, node_hash
from remit.tlog.merkle.plans import consistency_proof_size


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
