"""SpanTree: the tree of `end` leaves built from the start frontier and the span's leaf
hashes gives the same root and the same inclusion proofs as the whole tree, for every
start (including an empty span), and refuses a frontier of the wrong length."""

from __future__ import annotations

import pytest

from remit.tlog import merkle


def _frontier(tree: merkle.InMemoryTree, start: int) -> list[bytes]:
    return list(merkle.CompactRange.from_reader(start, tree).hashes) if start else []


@pytest.mark.parametrize("size", [*range(1, 34), 64, 65, 100, 257])
def test_span_proofs_and_root_equal_the_whole_trees(size: int) -> None:
    leaves = [merkle.leaf_hash(f"leaf {i}".encode()) for i in range(size)]
    tree = merkle.InMemoryTree.from_leaf_hashes(leaves)
    for start in sorted({0, 1, size // 3, size // 2, size - 1, size}):
        span = merkle.SpanTree(start, _frontier(tree, start), leaves[start:])
        assert span.root() == tree.root(), (size, start)
        levels = span.hex_levels()
        for i in range(start, size):
            proof = tree.inclusion_proof(i, size)
            assert span.inclusion_proof(i) == proof, (size, start, i)
            assert span.inclusion_proof_hex(i, levels) == [h.hex() for h in proof]
            merkle.verify_inclusion(leaves[i], i, size, span.inclusion_proof(i), span.root())
        for step in (1, 2, 3, 7):  # every leaf, and leaves with gaps between them
            some = range(start + step // 2, size, step)
            joined = list(span.joined_hex_proofs(some, ","))
            assert joined == [",".join(span.inclusion_proof_hex(i, levels)) for i in some]


def test_the_empty_tree_and_bad_input() -> None:
    assert merkle.SpanTree(0, [], []).root() == merkle.EMPTY_ROOT
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(6)]
    with pytest.raises(merkle.MerkleError, match="frontier of 6 leaves has 2 hashes"):
        merkle.SpanTree(6, leaves[:1], leaves)
    span = merkle.SpanTree(0, [], leaves)
    with pytest.raises(merkle.MerkleError, match="not in the span"):
        span.inclusion_proof(6)
    with pytest.raises(merkle.MerkleError, match="leaf 6 is not in the span"):
        list(span.joined_hex_proofs([5, 6], ","))
