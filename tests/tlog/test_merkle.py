"""Tests for remit.tlog.merkle against RFC 6962 / transparency-dev vectors and properties."""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from remit.tlog.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    CompactRange,
    InMemoryTree,
    MerkleError,
    NodeId,
    NodeNotFoundError,
    ProofError,
    combine_plan,
    consistency_plan,
    consistency_proof,
    consistency_proof_size,
    inclusion_plan,
    inclusion_proof,
    inclusion_proof_size,
    leaf_hash,
    leaf_range,
    node_hash,
    plan_node_ids,
    root_at,
    root_from_inclusion_proof,
    root_of,
    root_plan,
    verify_consistency,
    verify_inclusion,
)


def h(hex_text: str) -> bytes:
    return bytes.fromhex(hex_text)


def hashes(hex_list: Sequence[str] | None) -> list[bytes]:
    return [h(x) for x in hex_list or []]


@pytest.fixture(scope="module")
def leaves(vectors: dict[str, Any]) -> list[bytes]:
    return [h(leaf["input"]) for leaf in vectors["leaves"]]


@pytest.fixture(scope="module")
def tree8(leaves: list[bytes]) -> InMemoryTree:
    return InMemoryTree(leaves)


# ----------------------------------------------------------------------------- hashing


def test_hasher_vectors(vectors: dict[str, Any]) -> None:
    empty, empty_leaf, leaf, node = vectors["hasher_vectors"]
    assert EMPTY_ROOT.hex() == empty["expected"]
    assert root_of([]) == EMPTY_ROOT
    assert leaf_hash(h(empty_leaf["leaf_input_hex"])).hex() == empty_leaf["expected"]
    assert leaf_hash(h(leaf["leaf_input_hex"])).hex() == leaf["expected"]
    assert node_hash(h(node["left_hex"]), h(node["right_hex"])).hex() == node["expected"]


def test_empty_tree_differs_from_empty_leaf() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert leaf_hash(b"") != EMPTY_ROOT
    assert len(EMPTY_ROOT) == HASH_SIZE


def test_leaf_and_node_domain_separation() -> None:
    left, right = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(left, right) != leaf_hash(left + right)


def test_leaf_hashes_and_complete_nodes(
    vectors: dict[str, Any], tree8: InMemoryTree, leaves: list[bytes]
) -> None:
    for item, data in zip(vectors["leaves"], leaves, strict=True):
        assert leaf_hash(data).hex() == item["leaf_hash"]
    for level, row in enumerate(vectors["node_hashes_by_level"]):
        for index, expected in enumerate(row):
            assert tree8.node(level, index).hex() == expected
            start, end = leaf_range(level, index)
            assert root_of([leaf_hash(x) for x in leaves[start:end]]).hex() == expected


# ----------------------------------------------------------------------------- roots 0..8


def test_roots_all_sizes_every_method(vectors: dict[str, Any], leaves: list[bytes]) -> None:
    compact = CompactRange()
    streamed = CompactRange()
    tree = InMemoryTree()
    full = InMemoryTree(leaves)
    for size in range(9):
        expected = vectors["roots"][str(size)]
        prefix = [leaf_hash(x) for x in leaves[:size]]
        assert root_of(prefix).hex() == expected
        assert compact.root().hex() == expected
        assert streamed.root().hex() == expected
        assert tree.root().hex() == expected
        assert root_at(size, full).hex() == expected
        assert full.root_at(size).hex() == expected
        batch = CompactRange()
        batch.extend_data(leaves[:size])
        assert batch.root().hex() == expected
        assert compact.size == streamed.size == size
        if size < 8:
            compact.append(leaf_hash(leaves[size]))
            streamed.extend_data([leaves[size]])
            tree.append(leaves[size])


# ----------------------------------------------------------------------------- proof vectors


def test_inclusion_vector_generated_and_verified(
    inclusion_vector: dict[str, Any], tree8: InMemoryTree
) -> None:
    case = inclusion_vector
    index, size = case["leaf_index"], case["tree_size"]
    proof = tree8.inclusion_proof(index, size)
    assert [p.hex() for p in proof] == case["proof"]
    assert len(proof) == inclusion_proof_size(index, size)
    verify_inclusion(h(case["leaf_hash"]), index, size, proof, h(case["root"]))


def test_consistency_vector_generated_and_verified(
    consistency_vector: dict[str, Any], tree8: InMemoryTree
) -> None:
    case = consistency_vector
    size1, size2 = case["size1"], case["size2"]
    proof = tree8.consistency_proof(size1, size2)
    assert [p.hex() for p in proof] == case["proof"]
    verify_consistency(size1, size2, proof, h(case["root1"]), h(case["root2"]))


def test_vector_file_counts(vectors: dict[str, Any]) -> None:
    assert len(vectors["inclusion_proofs"]) == 36
    assert len(vectors["consistency_proofs"]) == 36
    probes = vectors["probes_inclusion"] + vectors["probes_consistency"]
    assert len(probes) == 196
    assert sum(p["want_error"] for p in probes) == 184


def test_inclusion_probe(inclusion_probe: dict[str, Any]) -> None:
    probe = inclusion_probe
    args = (
        h(probe["leaf_hash"]),
        probe["leaf_index"],
        probe["tree_size"],
        hashes(probe["proof"]),
        h(probe["root"]),
    )
    if probe["want_error"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


def test_consistency_probe(consistency_probe: dict[str, Any]) -> None:
    probe = consistency_probe
    args = (
        probe["size1"],
        probe["size2"],
        hashes(probe["proof"]),
        h(probe["root1"]),
        h(probe["root2"]),
    )
    if probe["want_error"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_rfc6962_section_2_1_3_example(vectors: dict[str, Any], leaves: list[bytes]) -> None:
    example = vectors["rfc6962_section_2_1_3_example"]
    labels = example["nodes"]
    tree = InMemoryTree(leaves[:7])
    assert tree.root().hex() == labels["hash"]
    assert len(example["inclusion"]) == 4
    assert len(example["consistency"]) == 3
    for case in example["inclusion"]:
        proof = tree.inclusion_proof(case["leaf_index"], case["tree_size"])
        assert [p.hex() for p in proof] == [labels[x] for x in case["labels"]]
        assert [p.hex() for p in proof] == case["proof"]
        leaf = tree.leaf_hash(case["leaf_index"])
        verify_inclusion(leaf, case["leaf_index"], 7, proof, tree.root())
    for case in example["consistency"]:
        proof = tree.consistency_proof(case["size1"], case["size2"])
        assert [p.hex() for p in proof] == [labels[x] for x in case["labels"]]
        verify_consistency(case["size1"], 7, proof, tree.root_at(case["size1"]), tree.root())


# ----------------------------------------------------------------------------- compact range


def test_compact_range_reports_every_complete_node_once() -> None:
    data = [os.urandom(8) for _ in range(70)]
    leaf_hashes = [leaf_hash(x) for x in data]
    compact = CompactRange()
    reported: list[tuple[int, int, bytes]] = []
    for value in leaf_hashes:
        reported.extend(compact.append(value))
    expected = set()
    level = 1
    while (1 << level) <= len(data):
        for index in range(len(data) >> level):
            start, end = leaf_range(level, index)
            expected.add((level, index, root_of(leaf_hashes[start:end])))
        level += 1
    assert len(reported) == len(expected) == len(set(reported))
    assert set(reported) == expected


def test_compact_range_append_returns_bottom_up_nodes() -> None:
    compact = CompactRange()
    for _ in range(7):
        assert compact.append(leaf_hash(b"x")) is not None
    formed = compact.append(leaf_hash(b"x"))  # the 8th leaf completes levels 1, 2, 3
    assert [(level, index) for level, index, _ in formed] == [(1, 3), (2, 1), (3, 0)]
    assert formed[-1][2] == compact.root()


@pytest.mark.parametrize("start", [0, 1, 5, 1000, 1023, 1024, 2047])
@pytest.mark.parametrize("count", [0, 1, 2, 1023, 1024, 1025, 3000])
def test_extend_data_matches_append(start: int, count: int) -> None:
    data = [i.to_bytes(4, "big") for i in range(start + count)]
    reference = CompactRange()
    formed_after_start: list[tuple[int, int, bytes]] = []
    for position, item in enumerate(data):
        formed = reference.append(leaf_hash(item))
        if position >= start:
            formed_after_start.extend(formed)
    fast = CompactRange()
    assert fast.extend_data(data[:start]) == []
    assert fast.extend_data(iter(data[start:])) == []
    assert fast.size == reference.size == start + count
    assert fast.hashes == reference.hashes
    assert fast.root() == reference.root()
    for from_level in (0, 1, 3, 11):
        wanted = sorted(n for n in formed_after_start if n[0] >= from_level)
        by_data = CompactRange()
        by_data.extend_data(data[:start])
        got = by_data.extend_data(data[start:], nodes_from_level=from_level)
        assert len(got) == len(set(got))
        assert sorted(got) == wanted
        by_hash = CompactRange()
        by_hash.extend(leaf_hash(x) for x in data[:start])
        got = by_hash.extend([leaf_hash(x) for x in data[start:]], nodes_from_level=from_level)
        assert sorted(got) == wanted
        assert by_data.hashes == by_hash.hashes == reference.hashes


def test_bulk_paths_stop_exactly_at_a_bad_item() -> None:
    good = [leaf_hash(i.to_bytes(4, "big")) for i in range(3000)]
    hashes_in: list[Any] = list(good)
    hashes_in[1500] = b"short"
    compact = CompactRange()
    with pytest.raises(MerkleError, match="leaf hash #1500 must be 32 bytes, found 5 bytes"):
        compact.extend(hashes_in)
    assert compact.size == 1500
    assert compact.root() == root_of(good[:1500])
    data: list[Any] = [i.to_bytes(4, "big") for i in range(3000)]
    data[1500] = "not bytes"
    streamed = CompactRange()
    with pytest.raises(TypeError):
        streamed.extend_data(data)
    assert streamed.size == 1500
    assert streamed.root() == root_of(good[:1500])
    coerced = CompactRange()
    bytes_like: list[Any] = [bytearray(x) for x in good[:1030]]
    coerced.extend(bytes_like)
    assert coerced.root() == root_of(good[:1030])


def test_extend_leaf_hashes_and_state_resume() -> None:
    tree = InMemoryTree(i.to_bytes(2, "big") for i in range(300))
    for size in (0, 1, 2, 3, 100, 255, 256, 257, 300):
        resumed = CompactRange.from_reader(size, tree)
        assert resumed.size == size
        assert resumed.root() == tree.root_at(size)
        copy = resumed.copy()
        copy.extend(tree.leaf_hash(i) for i in range(size, 300))
        assert copy.root() == tree.root()
        assert resumed.size == size  # the copy is independent
        state = CompactRange.from_state(size, resumed.hashes)
        assert state.hashes == resumed.hashes


def test_compact_range_rejects_bad_input() -> None:
    compact = CompactRange()
    with pytest.raises(MerkleError, match="32 bytes, found 3 bytes"):
        compact.append(b"abc")
    with pytest.raises(MerkleError, match="32 bytes"):
        compact.extend([leaf_hash(b"a"), b"short"])
    assert compact.size == 1  # the good hash before the bad one was kept consistently
    assert compact.root() == leaf_hash(b"a")
    with pytest.raises(MerkleError, match="needs 2 subtree hashes"):
        CompactRange.from_state(3, [leaf_hash(b"a")])
    with pytest.raises(TypeError):
        compact.extend_data(["not bytes"])  # type: ignore[list-item]
    assert compact.size == 1


# ----------------------------------------------------------------------------- planning / errors


def test_plans_and_argument_errors() -> None:
    assert root_plan(0) == []
    assert root_plan(7) == [(2, 0), (1, 2), (0, 6)]
    assert inclusion_plan(0, 7) == [((0, 1),), ((1, 1),), ((1, 2), (0, 6))]
    assert consistency_plan(4, 7) == [((1, 2), (0, 6))]
    assert consistency_plan(5, 5) == []
    assert plan_node_ids(inclusion_plan(0, 7)) == [(0, 1), (1, 1), (1, 2), (0, 6)]
    with pytest.raises(MerkleError, match="index 7 >= size 7"):
        inclusion_plan(7, 7)
    with pytest.raises(MerkleError, match="size1 must be > 0"):
        consistency_plan(0, 3)
    with pytest.raises(MerkleError, match="found 4 > 3"):
        consistency_plan(4, 3)
    with pytest.raises(MerkleError, match=">= 0"):
        root_plan(-1)
    with pytest.raises(MerkleError, match="must be an int"):
        root_plan(True)
    with pytest.raises(NodeNotFoundError, match="not given"):
        combine_plan([((0, 0),)], {})
    tree = InMemoryTree([b"a", b"b", b"c"])
    with pytest.raises(NodeNotFoundError, match="level 1, index 1"):
        tree.node(1, 1)
    with pytest.raises(MerkleError, match="<= 3"):
        tree.inclusion_proof(0, 4)
    assert issubclass(ProofError, ValueError)
    assert issubclass(MerkleError, ValueError)


def test_verify_rejects_malformed_arguments() -> None:
    tree = InMemoryTree([b"a", b"b", b"c"])
    proof = tree.inclusion_proof(1)
    leaf = tree.leaf_hash(1)
    root = tree.root()
    verify_inclusion(leaf, 1, 3, proof, root)
    assert root_from_inclusion_proof(leaf, 1, 3, proof) == root
    with pytest.raises(ProofError, match="leaf hash must be 32 bytes, found 31"):
        verify_inclusion(leaf[:31], 1, 3, proof, root)
    with pytest.raises(ProofError, match="exactly 2 hashes, found 3"):
        verify_inclusion(leaf, 1, 3, [*proof, root], root)
    with pytest.raises(ProofError, match="index 3 >= size 3"):
        verify_inclusion(leaf, 3, 3, proof, root)
    with pytest.raises(ProofError, match="must be >= 0"):
        verify_inclusion(leaf, -1, 3, proof, root)
    with pytest.raises(ProofError, match=r"leads to root .*, expected"):
        verify_inclusion(leaf, 0, 3, proof, root)
    with pytest.raises(ProofError, match="element #0 must be 32 bytes"):
        verify_inclusion(leaf, 1, 3, [proof[0][:5], proof[1]], root)
    cproof = tree.consistency_proof(2)
    verify_consistency(2, 3, cproof, tree.root_at(2), root)
    with pytest.raises(ProofError, match="empty tree"):
        verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    with pytest.raises(ProofError, match="must be empty"):
        verify_consistency(3, 3, cproof, root, root)
    with pytest.raises(ProofError, match="root2 must be 32 bytes"):
        verify_consistency(2, 3, cproof, tree.root_at(2), root[:4])


# ----------------------------------------------------------------------------- properties

MAX_SIZE = 600
_PROPERTY_DATA = [i.to_bytes(2, "big") + b"-entry" for i in range(MAX_SIZE)]
_PROPERTY_TREE = InMemoryTree(_PROPERTY_DATA)
_PROPERTY_LEAVES = [leaf_hash(x) for x in _PROPERTY_DATA]


def _flip(value: bytes, bit: int) -> bytes:
    mutable = bytearray(value)
    mutable[bit // 8] ^= 1 << (bit % 8)
    return bytes(mutable)


@st.composite
def size_and_index(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(min_value=1, max_value=MAX_SIZE))
    index = draw(st.integers(min_value=0, max_value=size - 1))
    return size, index


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    size2 = draw(st.integers(min_value=1, max_value=MAX_SIZE))
    size1 = draw(st.integers(min_value=1, max_value=size2))
    return size1, size2


@settings(max_examples=300, deadline=None)
@given(size_and_index(), st.data())
def test_property_inclusion(case: tuple[int, int], data: st.DataObject) -> None:
    size, index = case
    root = root_of(_PROPERTY_LEAVES[:size])
    assert _PROPERTY_TREE.root_at(size) == root
    proof = _PROPERTY_TREE.inclusion_proof(index, size)
    assert len(proof) == inclusion_proof_size(index, size)
    assert len(proof) <= math.ceil(math.log2(size))
    leaf = _PROPERTY_LEAVES[index]
    verify_inclusion(leaf, index, size, proof, root)
    # Any single-bit flip in the leaf, the root or any proof element must fail.
    bit = data.draw(st.integers(min_value=0, max_value=8 * HASH_SIZE - 1), label="bit")
    with pytest.raises(ProofError):
        verify_inclusion(_flip(leaf, bit), index, size, proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(leaf, index, size, proof, _flip(root, bit))
    for position in range(len(proof)):
        bad = list(proof)
        bad[position] = _flip(bad[position], bit)
        with pytest.raises(ProofError):
            verify_inclusion(leaf, index, size, bad, root)
    # A wrong index or size must fail too.
    other = data.draw(st.integers(min_value=0, max_value=MAX_SIZE), label="other index")
    if other != index:
        with pytest.raises(ProofError):
            verify_inclusion(leaf, other, size, proof, root)


@settings(max_examples=300, deadline=None)
@given(two_sizes(), st.data())
def test_property_consistency(case: tuple[int, int], data: st.DataObject) -> None:
    size1, size2 = case
    root1 = root_of(_PROPERTY_LEAVES[:size1])
    root2 = root_of(_PROPERTY_LEAVES[:size2])
    proof = _PROPERTY_TREE.consistency_proof(size1, size2)
    assert len(proof) == consistency_proof_size(size1, size2)
    if size1 < size2:
        assert 1 <= len(proof) <= math.ceil(math.log2(size2)) + 1
    else:
        assert proof == []
    verify_consistency(size1, size2, proof, root1, root2)
    bit = data.draw(st.integers(min_value=0, max_value=8 * HASH_SIZE - 1), label="bit")
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, proof, _flip(root1, bit), root2)
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, proof, root1, _flip(root2, bit))
    for position in range(len(proof)):
        bad = list(proof)
        bad[position] = _flip(bad[position], bit)
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, bad, root1, root2)
    if proof:
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, proof[:-1], root1, root2)
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, [*proof, root2], root1, root2)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=80))
def test_property_incremental_equals_batch(entries: list[bytes]) -> None:
    leaf_hashes = [leaf_hash(x) for x in entries]
    compact = CompactRange()
    compact.extend_data(entries)
    tree = InMemoryTree(entries)
    assert compact.root() == root_of(leaf_hashes) == tree.root() == root_at(len(entries), tree)


# ----------------------------------------------------------------------------- O(log n) reads


class UniformTree:
    """A virtual tree of ``size`` identical leaves: every level-l node hash is the same.

    It lets tests build proofs over huge trees without storing them, and it
    refuses to serve any node that is not complete at ``size``.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.by_level = [leaf_hash(b"uniform")]
        while len(self.by_level) <= size.bit_length():
            top = self.by_level[-1]
            self.by_level.append(node_hash(top, top))
        self.reads = 0
        self.batches = 0

    def root(self) -> bytes:
        return root_of([]) if self.size == 0 else root_at(self.size, self)

    def node(self, level: int, index: int) -> bytes:
        self.reads += 1
        _start, end = leaf_range(level, index)
        if end > self.size:
            raise NodeNotFoundError(f"node ({level}, {index}) is not complete at {self.size}")
        return self.by_level[level]

    def nodes(self, ids: Sequence[NodeId]) -> list[bytes]:
        self.batches += 1
        return [self.node(level, index) for level, index in ids]


class CountingReader:
    """Wraps a reader and counts node reads and batch calls."""

    def __init__(self, inner: InMemoryTree) -> None:
        self.inner = inner
        self.reads = 0
        self.batches = 0

    def node(self, level: int, index: int) -> bytes:
        self.reads += 1
        return self.inner.node(level, index)

    def nodes(self, ids: Sequence[NodeId]) -> list[bytes]:
        self.batches += 1
        self.reads += len(ids)
        return self.inner.nodes(ids)


@pytest.mark.parametrize("size", [2**20, 2**20 + 12_345, 2**40 - 1, 2**63 + 5])
def test_proof_generation_reads_o_log_n_nodes(size: int) -> None:
    tree = UniformTree(size)
    root = tree.root()
    bound = 2 * math.log2(size) + 2
    for index in sorted({0, 1, size // 3, size // 2, size - 2, size - 1}):
        tree.reads = tree.batches = 0
        proof = inclusion_proof(index, size, tree)
        assert tree.batches == 1
        assert tree.reads <= bound, (index, tree.reads)
        verify_inclusion(tree.by_level[0], index, size, proof, root)
    for size1 in sorted({1, 2, 3, size // 2 + 1, size - 1, size}):
        tree.reads = tree.batches = 0
        proof = consistency_proof(size1, size, tree)
        assert tree.reads <= bound, (size1, tree.reads)
        verify_consistency(size1, size, proof, UniformTree(size1).root(), root)


def test_every_leaf_of_a_real_tree_reads_few_nodes() -> None:
    size = 3_001
    reader = CountingReader(InMemoryTree(i.to_bytes(4, "big") for i in range(size)))
    root = reader.inner.root()
    bound = 2 * math.log2(size) + 2
    for index in range(size):
        reader.reads = 0
        proof = inclusion_proof(index, size, reader)
        assert reader.reads <= bound
        verify_inclusion(reader.inner.leaf_hash(index), index, size, proof, root)


# ----------------------------------------------------------------------------- speed


@pytest.mark.slow
def test_streaming_speed_close_to_plain_hashing() -> None:
    count = 1_000_000
    base = os.urandom(390)
    entries = [base + i.to_bytes(10, "big") for i in range(count)]
    sha256 = hashlib.sha256
    best_plain = best_compact = math.inf
    for _ in range(3):
        started = time.perf_counter()
        for entry in entries:
            sha256(entry).digest()
        best_plain = min(best_plain, time.perf_counter() - started)
        started = time.perf_counter()
        compact = CompactRange()
        compact.extend_data(entries)
        best_compact = min(best_compact, time.perf_counter() - started)
    ratio = best_compact / best_plain
    print(f"plain {best_plain:.3f}s CompactRange.extend_data {best_compact:.3f}s ratio {ratio:.2f}")
    assert compact.size == count
    assert ratio < 2.5
