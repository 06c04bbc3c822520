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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from remit.ledger import merkle
from remit.ledger.checkpoint import CheckpointError, open_checkpoint
from remit.ledger.store import STORED_MIN_LEVEL, LedgerStore
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


CHUNK = 8192


def verify_log(
    rows: Iterable[tuple[int, bytes, bytes | None]],
    checkpoints: Iterable[CheckpointIn],
    key: VerifierKey,
    stored_nodes: Mapping[tuple[int, int], bytes] | None = None,
    proofs: merkle.NodeReader | None = None,
) -> VerifyReport:
    """Verify a log from its rows `(index, leaf bytes, stored leaf hash or None)`."""
    it = iter(rows)
    chunks = iter(lambda: list(itertools.islice(it, CHUNK)), [])
    return verify_chunks(chunks, checkpoints, key, stored_nodes, proofs)


def verify_chunks(
    chunks: Iterable[Sequence[tuple[int, bytes, bytes | None]]],
    checkpoints: Iterable[CheckpointIn],
    key: VerifierKey,
    stored_nodes: Mapping[tuple[int, int], bytes] | None = None,
    proofs: merkle.NodeReader | None = None,
    *,
    indexed: bool = True,
) -> VerifyReport:
    """Verify a log from batches of rows (what stores stream), in order. With
    `indexed=False` rows are (bytes, stored leaf hash) of a log known to be gap-free.

    `proofs`, when given, is the store's node reader: consistency proofs it serves between
    successive checkpoints are checked against the signed roots. Each batch is cut at
    checkpoint sizes and handled in a few C-level passes, so per-entry Python stays small.
    """
    report = VerifyReport()
    opened = _open_checkpoints(report, checkpoints, key)
    pending = iter(opened)
    next_cp = next(pending, None)
    nodes = dict(stored_nodes) if stored_nodes is not None else None
    level = STORED_MIN_LEVEL if nodes is not None else None
    compact = merkle.CompactRange()
    prev_good = 0
    sha = hashlib.sha256
    expected = 0
    complete = True
    for chunk in chunks:
        pos = 0
        while pos < len(chunk):
            while next_cp is not None and next_cp[0] == expected:
                prev_good = _check_root(report, compact, next_cp, prev_good)
                next_cp = next(pending, None)
            end = len(chunk)
            if next_cp is not None and next_cp[0] > expected:
                end = min(end, pos + next_cp[0] - expected)
            part = chunk[pos:end]
            pos = end
            if indexed:
                idxs, bodies, stored = zip(*part, strict=True)
            else:
                bodies, stored = zip(*part, strict=True)
                idxs = None
            if idxs is not None and idxs != tuple(range(expected, expected + len(part))):
                good = next(i for i, x in enumerate(idxs) if x != expected + i)
                found = idxs[good]
                what = "missing" if found > expected + good else "duplicated or out of order"
                report.bad(
                    expected + good, f"entry {expected + good}: {what} (found index {found} next)"
                )
                bodies, stored = bodies[:good], stored[:good]
                complete = False
            lhs = [sha(_LEAF + body).digest() for body in bodies]
            if stored and stored[0] is not None and list(stored) != lhs:
                for i, (got, want) in enumerate(zip(stored, lhs, strict=True)):
                    if got != want:
                        index = expected + i
                        report.bad(
                            index, f"entry {index}: its bytes do not hash to the stored leaf hash"
                        )
            formed = compact.extend(lhs, nodes_from_level=level)
            if nodes is not None:
                for lvl, idx, value in formed:
                    _check_node(report, nodes, lvl, idx, value)
            expected += len(lhs)
            if not complete:
                break
        if not complete:
            break
    if complete:
        while next_cp is not None and next_cp[0] == expected:
            prev_good = _check_root(report, compact, next_cp, prev_good)
            next_cp = next(pending, None)
        if next_cp is not None:
            report.bad(
                expected,
                f"a signed checkpoint covers {next_cp[0]} entries but the log has only "
                f"{expected}: entries were deleted or truncated",
            )
        if nodes:
            report.bad(None, f"{len(nodes)} stored tree node(s) lie beyond the log's entries")
        if proofs is not None:
            _check_consistency(report, opened, proofs, expected)
    report.size = expected
    report.root = compact.root()
    covered = max((s for s, _ in opened), default=0)
    report.uncovered = max(0, expected - covered)
    return report


def verify_store(
    store: LedgerStore,
    key: VerifierKey,
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Verify everything a store holds: entries, stored leaf hashes and nodes, checkpoints,
    and the consistency proofs it serves. `progress` is told how many rows were read."""
    cps = [CheckpointIn(c.size, c.note) for c in store.checkpoints()]

    indexed = not store.gap_free()  # index column only needed to locate a gap

    def chunks() -> Iterator[list[Any]]:
        done = 0
        for chunk in store.raw_chunks(indexed=indexed):
            yield chunk
            done += len(chunk)
            if progress is not None:
                progress(done)

    return verify_chunks(chunks(), cps, key, store.stored_nodes(), store, indexed=indexed)


_LEAF = b"\x00"


def _open_checkpoints(
    report: VerifyReport, checkpoints: Iterable[CheckpointIn], key: VerifierKey
) -> list[tuple[int, bytes]]:
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
    return opened


def _check_root(
    report: VerifyReport, compact: merkle.CompactRange, cp: tuple[int, bytes], prev_good: int
) -> int:
    report.checkpoints_checked += 1
    if compact.root() == cp[1]:
        return cp[0]
    report.bad(
        prev_good,
        precise=False,
        message=f"entries [{prev_good}, {cp[0]}) do not match the signed checkpoint at size "
        f"{cp[0]}: at least one entry in that range was changed, removed, inserted or "
        "reordered",
    )
    return prev_good


def _check_node(
    report: VerifyReport, nodes: dict[tuple[int, int], bytes], level: int, index: int, value: bytes
) -> None:
    if level < STORED_MIN_LEVEL:
        return
    stored = nodes.pop((level, index), None)
    if stored != value:
        lo, hi = merkle.leaf_range(level, index)
        state = "is missing" if stored is None else "does not match the entries"
        report.bad(
            lo, f"entries [{lo}, {hi}): stored tree node ({level}, {index}) {state}", precise=False
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
