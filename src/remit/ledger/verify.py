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
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from remit.ledger.store import STORED_MIN_LEVEL, LedgerStore
from remit.signing.keys import VerifierKey
from remit.tlog import merkle
from remit.tlog.checkpoint import CheckpointError, open_checkpoint


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
    chunks: Iterable[Sequence[tuple[Any, ...]]],
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
    successive checkpoints are checked against the signed roots.
    """

    return verify_hashed(_hashed(chunks, indexed=indexed), checkpoints, key, stored_nodes, proofs)


def _hashed(chunks: Iterable[Sequence[tuple[Any, ...]]], *, indexed: bool) -> Iterator[HashedRun]:
    """Leaf-hash batches of rows in order, stopping after a run that ends at a gap."""
    start = 0
    for chunk in chunks:
        run = hash_rows(chunk, start, indexed=indexed)
        yield run
        start += len(run.leaf_hashes)
        if not run.complete:
            return


@dataclass(frozen=True)
class HashedRun:
    """A run of consecutive entries reduced to their leaf hashes, with what was wrong in
    them (index, message) and whether the run ended early at a gap."""

    start: int
    leaf_hashes: list[bytes]
    problems: list[tuple[int, str]]
    complete: bool = True


def hash_rows(rows: Sequence[tuple[Any, ...]], start: int, *, indexed: bool = True) -> HashedRun:
    """Leaf-hash a batch of rows that should hold entries start, start+1, …, checking the
    indexes (when given) and the stored leaf hashes (when not None)."""
    problems: list[tuple[int, str]] = []
    complete = True
    if not rows:
        return HashedRun(start, [], problems)
    if indexed:
        idxs, bodies, stored = zip(*rows, strict=True)
        if idxs != tuple(range(start, start + len(rows))):
            good = next(i for i, x in enumerate(idxs) if x != start + i)
            what = "missing" if idxs[good] > start + good else "duplicated or out of order"
            problems.append(
                (start + good, f"entry {start + good}: {what} (found index {idxs[good]} next)")
            )
            bodies, stored = bodies[:good], stored[:good]
            complete = False
    else:
        bodies, stored = zip(*rows, strict=True)
    sha = hashlib.sha256
    lhs = [sha(_LEAF + body).digest() for body in bodies]
    if stored and stored[0] is not None and list(stored) != lhs:
        for i, (got, want) in enumerate(zip(stored, lhs, strict=True)):
            if got != want:
                index = start + i
                problems.append(
                    (index, f"entry {index}: its bytes do not hash to the stored leaf hash")
                )
    return HashedRun(start, lhs, problems, complete)


def verify_hashed(
    runs: Iterable[HashedRun],
    checkpoints: Iterable[CheckpointIn],
    key: VerifierKey,
    stored_nodes: Mapping[tuple[int, int], bytes] | None = None,
    proofs: merkle.NodeReader | None = None,
) -> VerifyReport:
    """Rebuild the tree from runs of leaf hashes (in order) and check every checkpoint's
    root, the stored nodes, and the consistency proofs the store serves."""
    report = VerifyReport()
    opened = _open_checkpoints(report, checkpoints, key)
    pending = iter(opened)
    next_cp = next(pending, None)
    nodes = dict(stored_nodes) if stored_nodes is not None else None
    level = STORED_MIN_LEVEL if nodes is not None else None
    compact = merkle.CompactRange()
    prev_good = 0
    expected = 0
    complete = True
    for run in runs:
        for index, message in run.problems:
            report.bad(index, message)
        lhs = run.leaf_hashes
        pos = 0
        while pos < len(lhs):
            while next_cp is not None and next_cp[0] == expected:
                prev_good = _check_root(report, compact, next_cp, prev_good)
                next_cp = next(pending, None)
            end = len(lhs)
            if next_cp is not None and next_cp[0] > expected:
                end = min(end, pos + next_cp[0] - expected)
            formed = compact.extend(lhs[pos:end], nodes_from_level=level)
            if nodes is not None:
                for lvl, idx, value in formed:
                    _check_node(report, nodes, lvl, idx, value)
            expected += end - pos
            pos = end
        if not run.complete:
            complete = False
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


PARALLEL_FROM = 200_000
RANGE_SIZE = 32_768


def verify_store(
    store: LedgerStore,
    key: VerifierKey,
    progress: Callable[[int], None] | None = None,
    *,
    workers: int | None = None,
    parallel_from: int = PARALLEL_FROM,
    range_size: int = RANGE_SIZE,
) -> VerifyReport:
    """Verify everything a store holds: entries, stored leaf hashes and nodes, checkpoints,
    and the consistency proofs it serves. `progress` is told how many entries are done.

    A large gap-free log is leaf-hashed by `workers` processes (default: the CPUs, up to
    4), each reading its own ranges from the database, while this process rebuilds the
    tree from their leaf hashes in order. Smaller logs, or logs with a gap (to locate
    it), are read in this process."""
    cps = [CheckpointIn(c.size, c.note) for c in store.checkpoints()]
    size = store.size()
    indexed = not store.gap_free()  # the index column is only needed to locate a gap
    procs = workers if workers is not None else min(4, os.cpu_count() or 1)
    done = 0

    def counted(runs: Iterable[HashedRun]) -> Iterator[HashedRun]:
        nonlocal done
        for run in runs:
            yield run
            done += len(run.leaf_hashes)
            if progress is not None:
                progress(done)

    if procs > 1 and size >= parallel_from and not indexed and store.reopen_spec is not None:
        starts = range(0, size, range_size)
        ends = [min(s + range_size, size) for s in starts]
        # fork is fast; with other threads alive (a server) only spawn is safe
        method = "fork" if threading.active_count() == 1 and os.name == "posix" else "spawn"
        with ProcessPoolExecutor(procs, mp_context=multiprocessing.get_context(method)) as pool:
            runs = pool.map(_hash_range, itertools.repeat(store.reopen_spec), starts, ends)
            return verify_hashed(counted(runs), cps, key, store.stored_nodes(), store)

    return verify_hashed(
        counted(_hashed(store.raw_chunks(indexed=indexed), indexed=indexed)),
        cps,
        key,
        store.stored_nodes(),
        store,
    )


def _hash_range(spec: str, start: int, end: int) -> HashedRun:
    """In a worker process: leaf-hash entries [start, end) of a gap-free log."""
    from remit.ledger.open import open_store

    store = open_store(spec, create=False)
    try:
        rows = store.bodies_and_hashes(start, end)
    finally:
        store.close()
    run = hash_rows(rows, start, indexed=False)
    if len(rows) != end - start:  # the log changed under us (never, for a gap-free log)
        missing = start + len(rows)
        return HashedRun(
            start, run.leaf_hashes, [*run.problems, (missing, f"entry {missing}: missing")], False
        )
    return run


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
