"""The right part of a Merkle tree, built in one pass: the tree of ``end`` leaves from the
compact-range frontier of its first ``start`` leaves and the leaf hashes of ``[start, end)``.

Its one job: ``SpanTree`` — the root of the whole tree and the inclusion proof of every leaf
in the span, computed level by level (each level hashed once, a lone right-edge node
promoted unchanged, as RFC 6962's MTH splits), so proving many leaves costs a list look-up
per level instead of a proof plan and a node fetch each. It holds every node of the span in
memory (about two hashes per leaf); it does no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from hashlib import sha256

from remit.tlog.merkle.hashing import EMPTY_ROOT, MerkleError, _check_non_negative

_NODE = b"\x01"


class SpanTree:
    """The tree of ``start + len(leaf_hashes)`` leaves, built from the frontier of the
    first ``start`` (``CompactRange`` hashes, largest subtree first) and the rest's leaf
    hashes."""

    __slots__ = ("_hex", "_levels", "_offsets", "end", "start")

    def __init__(self, start: int, frontier: Sequence[bytes], leaf_hashes: Sequence[bytes]):
        _check_non_negative("start", start)
        wanted = start.bit_count()
        if len(frontier) != wanted:
            raise MerkleError(
                f"a frontier of {start} leaves has {wanted} hashes, found {len(frontier)}"
            )
        self.start = start
        self.end = start + len(leaf_hashes)
        # Frontier hashes by level: bit `l` of `start` set means a complete node at level l.
        by_level = {}
        remaining = list(frontier)
        for level in range(start.bit_length() - 1, -1, -1):
            if start >> level & 1:
                by_level[level] = remaining.pop(0)
        levels: list[list[bytes]] = []
        offsets: list[int] = []
        level_nodes = list(leaf_hashes)
        offset = start
        level = 0
        while True:
            if offset & 1:  # the node to this level's left lies before `start`: the frontier's
                level_nodes.insert(0, by_level[level])
                offset -= 1
            levels.append(level_nodes)
            offsets.append(offset)
            if offset == 0 and len(level_nodes) <= 1:
                break
            pairs = len(level_nodes) - 1
            up = [
                sha256(_NODE + level_nodes[i] + level_nodes[i + 1]).digest()
                for i in range(0, pairs, 2)
            ]
            if len(level_nodes) & 1:
                up.append(level_nodes[-1])  # a lone right-edge node is promoted unchanged
            level_nodes = up
            offset >>= 1
            level += 1
        self._levels = levels
        self._offsets = offsets
        self._hex: list[list[str]] | None = None

    def root(self) -> bytes:
        """The root of the tree of ``end`` leaves."""
        top = self._levels[-1]
        return top[0] if top else EMPTY_ROOT

    def inclusion_proof(self, index: int) -> list[bytes]:
        """The inclusion proof of leaf ``index`` (``start <= index < end``) in the tree of
        ``end`` leaves, leaf to root (the same hashes as ``merkle.inclusion_proof``)."""
        if not self.start <= index < self.end:
            raise MerkleError(f"leaf {index} is not in the span [{self.start}, {self.end})")
        proof = []
        for level, nodes in enumerate(self._levels[:-1]):
            sibling = ((index >> level) ^ 1) - self._offsets[level]
            if sibling < len(nodes):
                proof.append(nodes[sibling])
        return proof

    def hex_levels(self) -> list[list[str]]:
        """Every level's node hashes as hexadecimal text (for writing many proofs; made once)."""
        if self._hex is None:
            self._hex = [[h.hex() for h in nodes] for nodes in self._levels]
        return self._hex

    def joined_hex_proofs(self, indexes: Iterable[int], sep: str) -> Iterator[str]:
        """The inclusion proof of each of ``indexes`` (increasing) as its hashes' hexadecimal
        text joined by ``sep``: what ``sep.join(inclusion_proof_hex(i, ...))`` gives, for a
        million leaves in a fraction of the time. The part of a proof from level ``l`` up
        depends only on ``index >> l``, so it is kept per level and made again only when
        that changes: about two levels per leaf instead of every level."""
        hex_levels = self.hex_levels()
        offsets = self._offsets
        top = len(hex_levels) - 1
        keys = [-1] * (top + 1)  # keys[l]: the `index >> l` that tails[l] was made for
        tails = [""] * (top + 1)  # tails[l]: the proof's text from level l up
        for index in indexes:
            if not self.start <= index < self.end:
                raise MerkleError(f"leaf {index} is not in the span [{self.start}, {self.end})")
            level = 0
            while level < top and keys[level] != index >> level:
                level += 1
            for lv in range(level - 1, -1, -1):  # levels [0, level) changed
                nodes = hex_levels[lv]
                sibling = ((index >> lv) ^ 1) - offsets[lv]
                above = tails[lv + 1]
                if sibling < len(nodes):
                    tails[lv] = nodes[sibling] + sep + above if above else nodes[sibling]
                else:
                    tails[lv] = above
                keys[lv] = index >> lv
            yield tails[0]

    def inclusion_proof_hex(self, index: int, hex_levels: Sequence[Sequence[str]]) -> list[str]:
        """``inclusion_proof(index)`` as hexadecimal text, from ``hex_levels()``."""
        if not self.start <= index < self.end:
            raise MerkleError(f"leaf {index} is not in the span [{self.start}, {self.end})")
        proof = []
        offsets = self._offsets
        for level in range(len(hex_levels) - 1):
            nodes = hex_levels[level]
            sibling = ((index >> level) ^ 1) - offsets[level]
            if sibling < len(nodes):
                proof.append(nodes[sibling])
        return proof
