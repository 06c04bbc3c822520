"""Offline verification of a ledger: recompute every leaf and the whole tree from the
entries, check every checkpoint's signature and root, the consistency between successive
checkpoints, and the stored leaf hashes and tree nodes against the recomputation.

Works the same on a live store and on an audit bundle: it needs only the entries, the
checkpoints, the log's public key and (optionally) the stored nodes. Never trusts a
stored hash it can recompute.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from remit.ledger import merkle
from remit.ledger.checkpoint import CheckpointError, open_checkpoint
from remit.ledger.store import STORED_MIN_LEVEL
from remit.signing.keys import VerifierKey


@dataclass(frozen=True)
class CheckpointIn:
    """A checkpoint as found (stored or bundled): the size it claims and its note."""

    size: int
    note: str


@dataclass
class VerifyReport:
    """What verification found. `ok` only if nothing is wrong."""

    size: int = 0
    root: bytes = merkle.EMPTY_ROOT
    checkpoints_checked: int = 0
    first_bad_index: int | None = None
    problems: list[str] = field(default_factory=list)
    uncovered: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    _precise: list[int] = field(default_factory=list)
    _ranges: list[int] = field(default_factory=list)

    def bad(self, index: int | None, message: str, *, precise: bool = True) -> None:
        """Record a problem. A precise index (this entry is wrong) beats the start of a
        range that merely contains a wrong entry (a checkpoint root that does not match)."""
        if index is not None:
            (self._precise if precise else self._ranges).append(index)
            pool = self._precise or self._ranges
            self.first_bad_index = min(pool)
        self.problems.append(message)


def verify_log(
    rows: Iterable[tuple[int, bytes, bytes | None]],
    checkpoints: Iterable[CheckpointIn],
    key: VerifierKey,
    stored_nodes: Mapping[tuple[int, int], bytes] | None = None,
    proofs: merkle.NodeReader | None = None,
) -> VerifyReport:
    """Verify a log from its rows `(index, leaf bytes, stored leaf hash or None)`.

    `proofs`, when given, is the store's node reader: consistency proofs it serves between
    successive checkpoints are checked against the signed roots.
    """
    report = VerifyReport()
    opened: list[tuple[int, bytes]] = []
    for cp in sorted(checkpoints, key=lambda c: c.size):
        try:
            parsed = open_checkpoint(cp.note, [key], expected_origin=key.name)
        except CheckpointError as exc:
            report.bad(None, f"checkpoint for size {cp.size}: {exc}")
            continue
        if parsed.size != cp.size:
            report.bad(None, f"checkpoint stored for size {cp.size} signs size {parsed.size}")
            continue
        opened.append((parsed.size, parsed.root))
    walker = _TreeWalker(report, stored_nodes)
    pending = iter(opened)
    next_cp = next(pending, None)
    expected = 0
    next_size = next_cp[0] if next_cp is not None else -1
    sha = hashlib.sha256
    block = walker.block
    for index, body, stored_hash in rows:  # the hot loop: keep it lean
        if index != expected:
            what = "missing" if index > expected else "duplicated or out of order"
            report.bad(expected, f"entry {expected}: {what} (found index {index} next)")
            break
        if expected == next_size:
            while next_cp is not None and next_cp[0] == expected:
                walker.check_checkpoint(next_cp)
                next_cp = next(pending, None)
            next_size = next_cp[0] if next_cp is not None else -1
        lh = sha(_LEAF + body).digest()
        if stored_hash is not None and stored_hash != lh:
            report.bad(index, f"entry {index}: its bytes do not hash to the stored leaf hash")
        block.append(lh)
        if len(block) == _SPAN:
            walker.close_block()
            block = walker.block
        expected += 1
    else:
        while next_cp is not None and next_cp[0] == expected:
            walker.check_checkpoint(next_cp)
            next_cp = next(pending, None)
        if next_cp is not None:
            report.bad(
                expected,
                f"a signed checkpoint covers {next_cp[0]} entries but the log has only "
                f"{expected}: entries were deleted or truncated",
            )
        walker.finish()
        if proofs is not None:
            _check_consistency(report, opened, proofs, expected)
    report.size = expected
    report.root = walker.root()
    covered = max((s for s, _ in opened), default=0)
    report.uncovered = max(0, expected - covered)
    return report


_SPAN = 1 << STORED_MIN_LEVEL
_LEAF = b"\x00"
_NODE = b"\x01"


class _TreeWalker:
    """Rebuilds the tree leaf by leaf, 16-leaf block at a time (the stored-node grain),
    checking stored leaf hashes and stored nodes as they form. Kept tight: it is the
    hot loop of verification."""

    def __init__(
        self, report: VerifyReport, stored_nodes: Mapping[tuple[int, int], bytes] | None
    ) -> None:
        self.report = report
        self.nodes = dict(stored_nodes) if stored_nodes is not None else None
        self.block: list[bytes] = []  # leaf hashes of the current, incomplete block
        self.stack: list[bytes] = []  # complete subtrees of 16-leaf blocks and up
        self.blocks = 0
        self.prev_good = 0
        self._sha = hashlib.sha256

    def close_block(self) -> None:
        sha = self._sha
        level = self.block
        while len(level) > 1:
            level = [sha(_NODE + level[i] + level[i + 1]).digest() for i in range(0, len(level), 2)]
        value = level[0]
        self.block = []
        lvl, idx = STORED_MIN_LEVEL, self.blocks
        self._check_node(lvl, idx, value)
        stack = self.stack
        while idx & 1:
            value = sha(_NODE + stack.pop() + value).digest()
            lvl += 1
            idx >>= 1
            self._check_node(lvl, idx, value)
        stack.append(value)
        self.blocks += 1

    def _check_node(self, level: int, index: int, value: bytes) -> None:
        if self.nodes is None:
            return
        stored = self.nodes.pop((level, index), None)
        if stored != value:
            lo, hi = merkle.leaf_range(level, index)
            state = "is missing" if stored is None else "does not match the entries"
            self.report.bad(
                lo, f"entries [{lo}, {hi}): stored tree node ({level}, {index}) {state}"
            )

    def root(self) -> bytes:
        parts = list(self.stack)
        if self.block:
            parts.append(merkle.root_of(self.block))
        if not parts:
            return merkle.EMPTY_ROOT
        value = parts[-1]
        for left in reversed(parts[:-1]):
            value = merkle.node_hash(left, value)
        return value

    def check_checkpoint(self, cp: tuple[int, bytes]) -> None:
        self.report.checkpoints_checked += 1
        if self.root() == cp[1]:
            self.prev_good = cp[0]
            return
        self.report.bad(
            self.prev_good,
            precise=False,
            message=f"entries [{self.prev_good}, {cp[0]}) do not match the signed checkpoint "
            f"at size {cp[0]}: at least one entry in that range was changed, removed, "
            "inserted or reordered",
        )

    def finish(self) -> None:
        if self.nodes:
            self.report.bad(
                None, f"{len(self.nodes)} stored tree node(s) lie beyond the log's entries"
            )


def _check_consistency(
    report: VerifyReport, opened: list[tuple[int, bytes]], proofs: merkle.NodeReader, size: int
) -> None:
    usable = [c for c in opened if 0 < c[0] <= size]
    for (s1, r1), (s2, r2) in itertools.pairwise(usable):
        try:
            proof = merkle.consistency_proof(s1, s2, proofs)
            merkle.verify_consistency(s1, s2, proof, r1, r2)
        except (merkle.MerkleError, LookupError) as exc:
            report.bad(None, f"checkpoints {s1} → {s2} are not consistent: {exc}")
