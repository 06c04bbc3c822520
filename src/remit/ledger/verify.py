"""Offline verification of a ledger: recompute every leaf and the whole tree from the
entries, check every checkpoint's signature and root, the consistency between successive
checkpoints, and the stored leaf hashes and tree nodes against the recomputation; then
name the first bad entry as exactly as the evidence allows (see `locate`) and, for a
store, check every entry against its canonical form and the derived index tables (see
`derived_check`).

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

from remit.ledger.derived_check import EntryProblem, IndexDivergence, check_entries
from remit.ledger.locate import Leaves, Located, locate
from remit.ledger.records import StoredEntry
from remit.ledger.schema import INDEX_TABLES
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
    """What verification found. `ok` only if nothing is wrong.

    `first_bad_index` names the first log position proven bad (an entry whose bytes, leaf
    hash or derived rows are wrong, a missing entry, the first leaf of a stored node that
    is wrong while its entries are proven intact), or, when no single entry is proven
    bad, the first position not proven intact. `first_bad_range` is (lo, hi): the first
    change lies in entries lo..hi inclusive; lo == hi means it is named exactly.
    """

    size: int = 0
    root: bytes = merkle.EMPTY_ROOT
    checkpoints_checked: int = 0
    problems: list[str] = field(default_factory=list)
    uncovered: int = 0
    """Entries after the last signed checkpoint: no signature covers them."""
    uncovered_since: str | None = None
    """The time (`ts`) of the first entry no checkpoint covers."""
    uncovered_until: str | None = None
    """The time of the last entry no checkpoint covers."""
    last_checkpoint_at: str | None = None
    """When the last checkpoint was stored (None for a bundle, which does not say)."""
    index_divergences: list[IndexDivergence] = field(default_factory=list)
    proven_intact: int = 0
    """Entries [0, proven_intact) are proven unchanged by a signed checkpoint."""

    _exact: list[int] = field(default_factory=list)
    _ranges: list[tuple[int, int]] = field(default_factory=list)
    _located: Located | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def bad(
        self, index: int | None, message: str, *, precise: bool = True, end: int | None = None
    ) -> None:
        """Record a problem. A precise index (this item is wrong) is a proof; a range
        [index, end) (a stored node that does not match) only says that it, or an entry
        under it, is wrong."""
        if index is not None:
            if precise:
                self._exact.append(index)
            else:
                self._ranges.append((index, end if end is not None else index + 1))
        self.problems.append(message)

    @property
    def first_bad_range(self) -> tuple[int, int] | None:
        good = self.proven_intact
        exact = list(self._exact)
        lows: list[int] = []
        highs: list[int] = []
        for lo, hi in self._ranges:
            if hi <= good:
                exact.append(lo)  # its entries are intact: the stored item itself is bad
            else:
                lows.append(max(lo, good))
        if self._located is not None:
            lows.append(self._located.start)
            highs.append(self._located.end - 1)  # some entry in it is proven changed
        if exact:
            highs.append(min(exact))
        if not lows and not highs:
            return None
        if not highs:
            return min(lows), self.size - 1 if self.size else 0
        high = min(highs)
        return min([*lows, high]), high

    @property
    def first_bad_index(self) -> int | None:
        found = self.first_bad_range
        if found is None:
            return None
        return min(self._exact_under(found[1])) if self._exact_under(found[1]) else found[0]

    def _exact_under(self, high: int) -> list[int]:
        good = self.proven_intact
        exact = [*self._exact, *(lo for lo, hi in self._ranges if hi <= good)]
        return [e for e in exact if e <= high]

    def to_json(self) -> dict[str, Any]:
        found = self.first_bad_range
        return {
            "ok": self.ok,
            "size": self.size,
            "root": self.root.hex(),
            "checkpoints_checked": self.checkpoints_checked,
            "first_bad_index": self.first_bad_index,
            "first_bad_range": list(found) if found is not None else None,
            "proven_intact": self.proven_intact,
            "problems": list(self.problems),
            "index_divergences": [d.to_json() for d in self.index_divergences],
            "uncovered_entries": self.uncovered,
            "uncovered_since": self.uncovered_since,
            "uncovered_until": self.uncovered_until,
            "last_checkpoint_at": self.last_checkpoint_at,
        }

    def add_entry_check(
        self, problems: Iterable[EntryProblem], divergences: Iterable[IndexDivergence]
    ) -> None:
        """Fold in what checking each entry found (see `derived_check`)."""
        for p in problems:
            self.bad(p.index, p.message)
        for d in divergences:
            self.index_divergences.append(d)
            self.bad(d.idx, d.message)


CHUNK = 8192


def verify_log(
    rows: Iterable[tuple[int, bytes, bytes | None]],
    checkpoints: Iterable[CheckpointIn],
    key: VerifierKey,
    stored_nodes: Mapping[tuple[int, int], bytes] | None = None,
    proofs: merkle.NodeReader | None = None,
    *,
    contents: Iterable[tuple[int, bytes]] | None = None,
) -> VerifyReport:
    """Verify a log from its rows `(index, leaf bytes, stored leaf hash or None)`.
    `contents`, the same entries as (index, bytes) once more (an audit bundle's), are also
    checked one by one: each must be the canonical bytes of a valid record."""
    it = iter(rows)
    chunks = iter(lambda: list(itertools.islice(it, CHUNK)), [])
    report = verify_chunks(chunks, checkpoints, key, stored_nodes, proofs)
    if contents is not None:
        entries = (StoredEntry(i, "", "", body) for i, body in contents)
        check_content(report, entries, None, columns=False)
    return report


def check_content(
    report: VerifyReport,
    entries: Iterable[StoredEntry],
    index_rows: Callable[[str], Iterable[tuple[Any, ...]]] | None,
    *,
    columns: bool = True,
    last_checkpoint_at: str | None = None,
) -> None:
    """Check each entry (readable, canonical, its stored columns, and the derived index
    tables when `index_rows` streams a store's), and note the uncovered window's times."""
    covered = report.size - report.uncovered
    wanted = frozenset({covered, report.size - 1}) if report.uncovered else frozenset()
    found = check_entries(entries, INDEX_TABLES, index_rows, columns=columns, note_ts=wanted)
    report.add_entry_check(found.problems, found.divergences)
    report.last_checkpoint_at = last_checkpoint_at
    if report.uncovered:
        report.uncovered_since = found.ts.get(covered) or None
        report.uncovered_until = found.ts.get(report.size - 1) or None


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
    stored_differs: dict[int, bytes] = field(default_factory=dict)
    """Stored leaf hashes that differ from the recomputed ones, by index."""


def hash_rows(rows: Sequence[tuple[Any, ...]], start: int, *, indexed: bool = True) -> HashedRun:
    """Leaf-hash a batch of rows that should hold entries start, start+1, …, checking the
    indexes (when given) and the stored leaf hashes (when not None)."""
    problems: list[tuple[int, str]] = []
    differs: dict[int, bytes] = {}
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
                differs[index] = bytes(got)
                problems.append(
                    (index, f"entry {index}: its bytes do not hash to the stored leaf hash")
                )
    return HashedRun(start, lhs, problems, complete, differs)


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
    results: list[tuple[int, bytes, bool]] = []  # (size, signed root, entries reproduce it)
    leaves = Leaves()
    pending = iter(opened)
    next_cp = next(pending, None)
    nodes = dict(stored_nodes) if stored_nodes is not None else None
    level = STORED_MIN_LEVEL if nodes is not None else None
    compact = merkle.CompactRange()
    expected = 0
    complete = True
    for run in runs:
        for index, message in run.problems:
            report.bad(index, message)
        lhs = run.leaf_hashes
        leaves.extend(lhs)
        leaves.stored_differs.update(run.stored_differs)
        pos = 0
        while pos < len(lhs):
            while next_cp is not None and next_cp[0] == expected:
                results.append(_check_root(report, compact, next_cp))
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
            results.append(_check_root(report, compact, next_cp))
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
    _localise(report, results, leaves, stored_nodes or {})
    return report


def _localise(
    report: VerifyReport,
    results: list[tuple[int, bytes, bool]],
    leaves: Leaves,
    nodes: Mapping[tuple[int, int], bytes],
) -> None:
    """Set what the signed checkpoints prove intact, and localise the first change with
    the checkpoints the entries no longer reproduce (each bounds it; the first few are
    tried, smallest first, until one gives a 16-entry block or better)."""
    good = max((size for size, _, ok in results if ok), default=0)
    report.proven_intact = good
    failed = [(size, root) for size, root, ok in results if not ok and size > good]
    start, end = good, None
    for size, root in failed[:LOCATE_TRIES]:
        found = locate(leaves, size, root, nodes, min_stored_level=STORED_MIN_LEVEL)
        start = max(start, found.start)
        end = found.end if end is None else min(end, found.end)
        if end - start <= 1 << STORED_MIN_LEVEL:
            break
    if end is None:
        return
    end = max(end, start + 1)
    report._located = Located(start, end)
    report.proven_intact = start
    if end - start == 1:
        report.problems.append(
            f"entry {start}: changed (its hash is not the one the signed checkpoints authenticate)"
        )
    else:
        report.problems.append(
            f"entries [{start}, {end}): one of them was changed, removed, inserted or "
            "reordered (the stored hashes that would say which were rewritten too)"
        )


LOCATE_TRIES = 32
"""How many failed checkpoints localisation tries (each costs a descent through the tree)."""


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
    check_index: bool = True,
) -> VerifyReport:
    """Verify everything a store holds: entries, stored leaf hashes and nodes, checkpoints,
    and the consistency proofs it serves. `progress` is told how many entries are done.

    A large gap-free log is leaf-hashed by `workers` processes (default: the CPUs, up to
    4), each reading its own ranges from the database, while this process rebuilds the
    tree from their leaf hashes in order. Smaller logs, or logs with a gap (to locate
    it), are read in this process.

    Then (unless `check_index` is False) every entry is read: it must be its record's
    canonical bytes, match its stored kind and time columns, and the derived index tables
    must hold exactly the rows the entries give (see `derived_check`)."""
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
            report = verify_hashed(counted(runs), cps, key, store.stored_nodes(), store)
    else:
        report = verify_hashed(
            counted(_hashed(store.raw_chunks(indexed=indexed), indexed=indexed)),
            cps,
            key,
            store.stored_nodes(),
            store,
        )
    if check_index:
        latest = store.latest_checkpoint()
        at = latest.ts if latest is not None else None
        check_content(report, store.entries(), store.index_rows, last_checkpoint_at=at)
    return report


def _hash_range(spec: str, start: int, end: int) -> HashedRun:
    """In a worker process: leaf-hash entries [start, end) of a gap-free log."""
    from remit.ledger.open import open_store

    store = open_store(spec, read_only=True)  # only reads; never writes or creates
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
    report: VerifyReport, compact: merkle.CompactRange, cp: tuple[int, bytes]
) -> tuple[int, bytes, bool]:
    report.checkpoints_checked += 1
    if compact.root() == cp[1]:
        return cp[0], cp[1], True
    report.bad(
        None,
        f"the first {cp[0]} entries do not reproduce the root of the signed checkpoint at "
        f"size {cp[0]}: an entry was changed, removed, inserted or reordered, or the "
        "checkpoint is not this log's",
    )
    return cp[0], cp[1], False


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
            lo,
            f"entries [{lo}, {hi}): stored tree node ({level}, {index}) {state}",
            precise=False,
            end=hi,
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
