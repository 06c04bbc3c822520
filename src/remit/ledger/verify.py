"""Offline verification of a ledger: recompute every leaf and the whole tree from the
entries, check every checkpoint's signature and root, the consistency between successive
checkpoints, and the stored leaf hashes and tree nodes against the recomputation.

Works the same on a live store and on an audit bundle: it needs only the entries, the
checkpoints, the log's public key and (optionally) the stored nodes. Never trusts a
stored hash it can recompute.
"""

from __future__ import annotations

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

    def bad(self, index: int | None, message: str) -> None:
        if index is not None and (self.first_bad_index is None or index < self.first_bad_index):
            self.first_bad_index = index
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
    pending = iter(opened)
    next_cp = next(pending, None)
    nodes = dict(stored_nodes) if stored_nodes is not None else None
    compact = merkle.CompactRange()
    leaf_hash = merkle.leaf_hash
    expected = 0
    prev_good = 0
    for index, body, stored_hash in rows:
        if index != expected:
            what = "missing" if index > expected else "duplicated or out of order"
            report.bad(expected, f"entry {expected}: {what} (found index {index} next)")
            return _finish(report, compact, opened)
        while next_cp is not None and next_cp[0] == expected:
            prev_good = _check_root(report, compact, next_cp, prev_good)
            next_cp = next(pending, None)
        lh = leaf_hash(body)
        if stored_hash is not None and stored_hash != lh:
            report.bad(index, f"entry {index}: its bytes do not hash to the stored leaf hash")
        formed = compact.append(lh)
        if nodes is not None:
            for level, idx, value in formed:
                if level >= STORED_MIN_LEVEL:
                    stored = nodes.pop((level, idx), None)
                    if stored != value:
                        lo, hi = merkle.leaf_range(level, idx)
                        report.bad(
                            lo,
                            f"entries [{lo}, {hi}): stored tree node ({level}, {idx}) "
                            + ("is missing" if stored is None else "does not match the entries"),
                        )
        expected += 1
    while next_cp is not None and next_cp[0] == expected:
        prev_good = _check_root(report, compact, next_cp, prev_good)
        next_cp = next(pending, None)
    if next_cp is not None:
        report.bad(
            expected,
            f"a signed checkpoint covers {next_cp[0]} entries but the log has only {expected}: "
            "entries were deleted or truncated",
        )
    if nodes:
        report.bad(None, f"{len(nodes)} stored tree node(s) lie beyond the log's entries")
    if proofs is not None:
        _check_consistency(report, opened, proofs, expected)
    return _finish(report, compact, opened)


def _check_root(
    report: VerifyReport, compact: merkle.CompactRange, cp: tuple[int, bytes], prev_good: int
) -> int:
    report.checkpoints_checked += 1
    if compact.root() == cp[1]:
        return cp[0]
    report.bad(
        prev_good,
        f"entries [{prev_good}, {cp[0]}) do not match the signed checkpoint at size {cp[0]}: "
        "at least one entry in that range was changed, removed, inserted or reordered",
    )
    return prev_good


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


def _finish(
    report: VerifyReport, compact: merkle.CompactRange, opened: list[tuple[int, bytes]]
) -> VerifyReport:
    report.size = compact.size
    report.root = compact.root()
    covered = max((s for s, _ in opened), default=0)
    report.uncovered = max(0, compact.size - covered)
    return report
