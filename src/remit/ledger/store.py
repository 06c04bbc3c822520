"""The ledger store: one interface over SQLite (embedded) and PostgreSQL (shared) that
persists entries, the Merkle nodes needed for O(log n) proofs, signed checkpoints, and the
index rows the gate reads (decisions, rate windows, organisational events).

Appends are serialised (SQLite `BEGIN IMMEDIATE`, PostgreSQL an advisory transaction
lock), so several processes keep one gap-free order; an append returns only after its
transaction committed durably. Any storage failure surfaces as `LedgerUnavailable`.
Internal nodes are stored from level 4 up (one row per 8 leaves on average); lower levels
are rehashed from at most 16 stored leaf hashes when a proof needs them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from remit.decide.state import Demotion, OrgEvent
from remit.ledger.errors import LedgerUnavailable as LedgerUnavailable
from remit.ledger.gate_reads import LockedReads, StateCache
from remit.ledger.reads import LedgerReads
from remit.ledger.records import NewEntry, StoredEntry, derive
from remit.ledger.schema import ENTRY_COLUMNS, INDEX_TABLES, NODE_COLUMNS
from remit.tlog import merkle

STORED_MIN_LEVEL = 4
_LEVEL_SHIFT = 56


def node_key(level: int, index: int) -> int:
    return (level << _LEVEL_SHIFT) | index


def split_node_key(key: int) -> tuple[int, int]:
    return key >> _LEVEL_SHIFT, key & ((1 << _LEVEL_SHIFT) - 1)


class _ProbeDone(Exception):
    """Ends a probe's transaction with a rollback."""


class SizeMoved(Exception):
    """An optimistic append found that another process had appended: nothing was written."""


OPTIMISM_PAUSE = 16
"""After an optimistic append missed, this many appends read the size first."""


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A signed checkpoint as stored: tree size, root hash, signed note text, time."""

    size: int
    root: bytes
    note: str
    ts: str


class LedgerStore(ABC):
    """What every store provides. Implementations differ only in SQL dialect and locking."""

    ph = "?"

    def __init__(self) -> None:
        self._compact: merkle.CompactRange | None = None
        self._gate_reads = StateCache()
        self.optimistic = False
        """Append first as if this store were the only one appending (see append_computed):
        for a process that appends one batch after another, such as the decision writer."""
        self._missed = 0
        self.reads = LedgerReads(self._sql, self._guarded_read)
        """Typed reads of committed state (see `remit.ledger.reads`)."""

    # -- connection and transactions (dialect-specific) -----------------------------------
    @abstractmethod
    def _write_tx(self) -> AbstractContextManager[Any]:
        """A serialised write transaction; yields a cursor; commits durably on exit."""

    def dedicate_to_appends(self) -> None:
        """This store's process appends batch after batch for as long as it runs (the
        decision writer): append optimistically, and keep housekeeping out of commits."""
        self.optimistic = True

    def _append_tx(self) -> AbstractContextManager[Any]:
        """The write transaction appends run in (a store may send its statements in fewer
        round trips here: nothing inside reads a row count)."""
        return self._write_tx()

    def _insert_rows(
        self, cur: Any, table: str, cols: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Insert `rows` (values in `cols` order) inside an append transaction."""
        marks = ",".join("?" for _ in cols)
        cur.executemany(self._sql(f"INSERT INTO {table}({', '.join(cols)}) VALUES ({marks})"), rows)

    @abstractmethod
    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read-only query."""

    @abstractmethod
    def _chunks(
        self, sql: str, params: Sequence[Any] = (), batch: int = 10_000
    ) -> Iterator[list[tuple[Any, ...]]]:
        """Stream a read-only query, a batch of rows at a time (on its own connection)."""

    def _iter(
        self, sql: str, params: Sequence[Any] = (), batch: int = 10_000
    ) -> Iterator[tuple[Any, ...]]:
        """Stream a read-only query row by row."""
        for rows in self._chunks(sql, params, batch):
            yield from rows

    @abstractmethod
    def _is_storage_error(self, exc: BaseException) -> bool:
        """True for the driver's errors (they become LedgerUnavailable)."""

    @abstractmethod
    def close(self) -> None: ...

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the ledger lives (a path or a URL without password)."""

    @property
    def reopen_spec(self) -> str | None:
        """What `open_store` needs to open this ledger again in another process."""
        return None

    def _sql(self, sql: str) -> str:
        return sql if self.ph == "?" else sql.replace("?", self.ph)

    def _guarded_read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = self._guard(self._read, sql, params)
        return rows

    def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """One statement (with `?` placeholders) in its own serialised transaction, for the
        tables that are not derived from the log (API key hashes). Returns rowcount."""
        try:
            with self._write_tx() as cur:
                cur.execute(self._sql(sql), params)
                return int(cur.rowcount)
        except Exception as exc:
            if self._is_storage_error(exc):
                raise LedgerUnavailable(f"write failed at {self.location}: {exc}") from exc
            raise

    def probe(self) -> None:
        """Raise LedgerUnavailable unless an append could be made now: takes the append
        lock in a transaction that is rolled back (nothing is written)."""
        try:
            with self._write_tx() as cur:
                self._probe_in(cur)
                raise _ProbeDone
        except _ProbeDone:
            return
        except LedgerUnavailable:
            raise
        except Exception as exc:
            if self._is_storage_error(exc):
                raise LedgerUnavailable(
                    f"ledger at {self.location} cannot be written: {exc}"
                ) from exc
            raise

    def _probe_in(self, cur: Any) -> None:
        """Inside the probe's transaction: any check the dialect needs (none here)."""
        return None

    # -- appends --------------------------------------------------------------------------
    def append(self, entries: Sequence[NewEntry]) -> list[int]:
        """Append entries in order; return their indexes once durably committed."""
        if not entries:
            return []
        fixed = list(entries)
        return self.append_computed(lambda _state, _size: fixed)[1]

    def append_computed(
        self, build: Callable[[LockedReads, int], Sequence[NewEntry]]
    ) -> tuple[Sequence[NewEntry], list[int]]:
        """Compute entries under the append lock from the state as it is then, and append.

        This is how decisions are recorded: counting a rate window and recording the action
        it admits happen atomically, whichever process or replica appends.

        An `optimistic` store first appends as if nobody else appended since its own last
        append: the ledger size is then asserted, not read, so the assertion travels with
        the inserts (one round trip to PostgreSQL instead of two). If somebody did append,
        the assertion fails, nothing is written, and the append is made again the usual way.
        """
        expected = self._expected_size()
        if expected is not None:
            try:
                return self._append(build, expected)
            except SizeMoved:
                self._missed = OPTIMISM_PAUSE  # others are appending: read first for a while
        return self._append(build, None)

    def _expected_size(self) -> int | None:
        """The size this store left the ledger at, if an optimistic append may assume it."""
        if not self.optimistic:
            return None
        if self._missed:
            self._missed -= 1
            return None
        compact = self._compact
        if compact is None or compact.size != self._gate_reads.size:
            return None
        return compact.size

    def _claim_size(self, cur: Any, expected: int) -> None:
        """Inside the append transaction: fail with `SizeMoved` unless the ledger holds
        `expected` entries (a store may defer the failure to its commit)."""
        if self._size_in(cur) != expected:
            raise SizeMoved

    def _is_size_moved(self, exc: BaseException) -> bool:
        """True for the driver's report of a `_claim_size` that failed at the server."""
        return isinstance(exc, SizeMoved)

    def _append(
        self, build: Callable[[LockedReads, int], Sequence[NewEntry]], assumed: int | None
    ) -> tuple[Sequence[NewEntry], list[int]]:
        """One append transaction; the size is read under the lock, or `assumed` and
        claimed."""
        try:
            with self._append_tx() as cur:
                if assumed is None:
                    size = self._size_in(cur)
                else:
                    self._claim_size(cur, assumed)
                    size = assumed
                self._gate_reads.valid_at(size)
                reader = _CursorReader(self, cur)
                entries = build(LockedReads(self._sql, reader.read, self._gate_reads), size)
                if not entries:
                    return entries, []
                compact = self._compact
                if compact is None or compact.size != size:
                    compact = merkle.CompactRange.from_reader(size, reader)
                else:
                    compact = compact.copy()
                entry_rows = []
                node_rows = []
                index_rows: dict[str, list[tuple[object, ...]]] = {}
                hashes = [merkle.leaf_hash(e.body) for e in entries]
                for level, index, value in compact.extend(
                    hashes, nodes_from_level=STORED_MIN_LEVEL
                ):
                    node_rows.append((node_key(level, index), value))
                for offset, (e, lh) in enumerate(zip(entries, hashes, strict=True)):
                    idx = size + offset
                    entry_rows.append((idx, e.ts, e.kind, e.body, lh))
                    for row in derive(e, idx):
                        index_rows.setdefault(row.table, []).append(row.values)
                self._insert_rows(cur, "entries", ENTRY_COLUMNS, entry_rows)
                if node_rows:
                    self._insert_rows(cur, "nodes", NODE_COLUMNS, node_rows)
                for table, values in index_rows.items():
                    self._insert_rows(cur, table, INDEX_TABLES[table], values)
                # Kept while the append lock is still held: another thread of this process
                # must not read the window between this commit and this update. If the
                # commit fails, the except clauses forget it all again.
                self._compact = compact
                self._gate_reads.appended(index_rows, size + len(entries))
        except LedgerUnavailable:
            self._forget()
            raise
        except Exception as exc:
            self._forget()
            if self._is_size_moved(exc):
                raise SizeMoved from exc
            if self._is_storage_error(exc):
                raise LedgerUnavailable(f"ledger write failed at {self.location}: {exc}") from exc
            raise
        return entries, list(range(size, size + len(entries)))

    def _forget(self) -> None:
        """After a failed append: what was kept between appends may be wrong now."""
        self._compact = None
        self._gate_reads.forget()

    def _size_in(self, cur: Any) -> int:
        cur.execute("SELECT MAX(idx) FROM entries")
        (top,) = cur.fetchone()
        return 0 if top is None else int(top) + 1

    # -- reads ----------------------------------------------------------------------------
    def _guard(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except LedgerUnavailable:
            raise
        except Exception as exc:
            if self._is_storage_error(exc):
                raise LedgerUnavailable(f"ledger read failed at {self.location}: {exc}") from exc
            raise

    def size(self) -> int:
        rows = self._guard(self._read, "SELECT MAX(idx) FROM entries")
        top = rows[0][0]
        return 0 if top is None else int(top) + 1

    def entry(self, index: int) -> StoredEntry:
        rows = self._guard(
            self._read, self._sql("SELECT idx, kind, ts, body FROM entries WHERE idx = ?"), (index,)
        )
        if not rows:
            raise IndexError(f"no ledger entry at index {index} (size {self.size()})")
        i, k, t, b = rows[0]
        return StoredEntry(int(i), k, t, bytes(b))

    def entries(self, start: int = 0, end: int | None = None) -> Iterator[StoredEntry]:
        """Entries in index order (as stored: verification decides whether to trust them)."""
        if end is None:
            sql, params = (
                "SELECT idx, kind, ts, body FROM entries WHERE idx >= ? ORDER BY idx",
                (start,),
            )
        else:
            sql = "SELECT idx, kind, ts, body FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx"
            params = (start, end)  # type: ignore[assignment]
        try:
            for i, k, t, b in self._iter(self._sql(sql), params):
                yield StoredEntry(int(i), k, t, bytes(b))
        except Exception as exc:
            if self._is_storage_error(exc):
                raise LedgerUnavailable(f"ledger read failed at {self.location}: {exc}") from exc
            raise

    def raw_rows(self) -> Iterator[tuple[int, bytes, bytes]]:
        """(index, body, stored leaf hash) in index order."""
        for rows in self.raw_chunks():
            yield from rows

    def raw_chunks(self, batch: int = 8192, *, indexed: bool = True) -> Iterator[list[Any]]:
        """The same rows in batches: what verification streams (one Python step a batch).
        With `indexed=False` the rows are (body, leaf hash) only — for a log known to be
        gap-free (`gap_free()`), which saves reading a column per entry."""
        cols = "idx, body, leaf_hash" if indexed else "body, leaf_hash"
        try:
            yield from self._chunks(f"SELECT {cols} FROM entries ORDER BY idx", (), batch)
        except Exception as exc:
            if self._is_storage_error(exc):
                raise LedgerUnavailable(f"ledger read failed at {self.location}: {exc}") from exc
            raise

    def bodies_and_hashes(self, start: int, end: int) -> list[tuple[Any, ...]]:
        """(body, stored leaf hash) of entries [start, end), in index order."""
        return self._guarded_read(
            self._sql(
                "SELECT body, leaf_hash FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx"
            ),
            (start, end),
        )

    def index_rows(self, table: str) -> Iterator[tuple[Any, ...]]:
        """Every row of derived index table `table` (one of `INDEX_TABLES`), columns in
        its `INDEX_TABLES` order, streamed in a stable order: by `idx`, then by the other
        columns (what verification compares with the rows derived from the entries)."""
        cols = INDEX_TABLES.get(table)
        if cols is None:
            raise ValueError(f"{table!r} is not a derived index table ({', '.join(INDEX_TABLES)})")
        order = [c for c in cols if c == "idx"] + [c for c in cols if c != "idx"]
        sql = f"SELECT {', '.join(cols)} FROM {table} ORDER BY {', '.join(order)}"
        try:
            for rows in self._chunks(sql, (), 8192):
                yield from rows
        except Exception as exc:
            if self._is_storage_error(exc):
                raise LedgerUnavailable(f"ledger read failed at {self.location}: {exc}") from exc
            raise

    def gap_free(self) -> bool:
        """True if the entries are exactly indexes 0..n-1 (idx is the primary key)."""
        rows = self._guard(self._read, "SELECT COUNT(*), MIN(idx), MAX(idx) FROM entries")
        count, low, high = rows[0]
        return int(count) == 0 or (int(low) == 0 and int(high) == int(count) - 1)

    def stored_nodes(self) -> dict[tuple[int, int], bytes]:
        def read() -> dict[tuple[int, int], bytes]:
            rows = self._iter("SELECT id, hash FROM nodes")
            return {split_node_key(int(k)): bytes(h) for k, h in rows}

        nodes: dict[tuple[int, int], bytes] = self._guard(read)
        return nodes

    def leaf_hashes(self, start: int, end: int) -> list[bytes]:
        rows = self._guard(
            self._read,
            self._sql("SELECT leaf_hash FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx"),
            (start, end),
        )
        return [bytes(r[0]) for r in rows]

    # NodeReader
    def node(self, level: int, index: int) -> bytes:
        return self.nodes([(level, index)])[0]

    def nodes(self, ids: Sequence[tuple[int, int]]) -> list[bytes]:
        found: list[bytes] = self._guard(_nodes_via, self, self._read, ids)
        return found

    def root(self, size: int | None = None) -> bytes:
        n = self.size() if size is None else size
        return merkle.root_at(n, self)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return merkle.inclusion_proof(index, size, self)

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        return merkle.consistency_proof(size1, size2, self)

    # -- checkpoints ----------------------------------------------------------------------
    def put_checkpoint(self, cp: StoredCheckpoint) -> bool:
        """Store a checkpoint; False if one for that size exists already."""
        try:
            with self._write_tx() as cur:
                cur.execute(self._sql("SELECT 1 FROM checkpoints WHERE size = ?"), (cp.size,))
                if cur.fetchone():
                    return False
                cur.execute(
                    self._sql("INSERT INTO checkpoints(size, root, note, ts) VALUES (?,?,?,?)"),
                    (cp.size, cp.root, cp.note, cp.ts),
                )
                return True
        except Exception as exc:
            if self._is_storage_error(exc):
                raise LedgerUnavailable(
                    f"checkpoint write failed at {self.location}: {exc}"
                ) from exc
            raise

    def checkpoints(self) -> list[StoredCheckpoint]:
        rows = self._guard(self._read, "SELECT size, root, note, ts FROM checkpoints ORDER BY size")
        return [StoredCheckpoint(int(s), bytes(r), n, t) for s, r, n, t in rows]

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        rows = self._guard(
            self._read, "SELECT size, root, note, ts FROM checkpoints ORDER BY size DESC LIMIT 1"
        )
        return (
            StoredCheckpoint(int(rows[0][0]), bytes(rows[0][1]), rows[0][2], rows[0][3])
            if rows
            else None
        )

    # -- GateState (committed state; decisions read through `LockedReads` instead) --------
    def events_after(self, after: datetime | None, kinds: frozenset[str]) -> Sequence[OrgEvent]:
        return self.reads.events_after(after, kinds)

    def actions_in_window(self, agent: str, rule_id: str, since: datetime) -> int:
        return self.reads.actions_in_window(agent, rule_id, since)

    def demotions(self, agent: str) -> Sequence[Demotion]:
        return self.reads.demotions(agent)


class _CursorReader:
    """A NodeReader bound to an open write transaction (so appends read what they lock)."""

    def __init__(self, store: LedgerStore, cur: Any) -> None:
        self._store = store
        self._cur = cur

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """One query on the transaction's cursor (what the gate's reads go through)."""
        self._cur.execute(sql, params)
        return list(self._cur.fetchall())

    def node(self, level: int, index: int) -> bytes:
        return self.nodes([(level, index)])[0]

    def nodes(self, ids: Sequence[tuple[int, int]]) -> list[bytes]:
        return _nodes_via(self._store, self.read, ids)


def _nodes_via(store: LedgerStore, read: Any, ids: Sequence[tuple[int, int]]) -> list[bytes]:
    """Fetch complete-subtree hashes: stored levels from `nodes`, low levels from leaves."""
    out: dict[tuple[int, int], bytes] = {}
    high = [(lv, ix) for lv, ix in ids if lv >= STORED_MIN_LEVEL]
    if high:
        keys = [node_key(lv, ix) for lv, ix in high]
        marks = ",".join("?" for _ in keys)
        rows = read(store._sql(f"SELECT id, hash FROM nodes WHERE id IN ({marks})"), keys)
        found = {split_node_key(int(k)): bytes(h) for k, h in rows}
        for nid in high:
            if nid not in found:
                raise merkle.NodeNotFoundError(f"node {nid} is not stored")
            out[nid] = found[nid]
    low = [(lv, ix) for lv, ix in ids if lv < STORED_MIN_LEVEL]
    if low:
        # One range read per 16-leaf block: the low levels of a proof all sit in one block.
        span = 1 << STORED_MIN_LEVEL
        starts = [ix << lv for lv, ix in low]
        ranges = sorted({(s // span) * span for s in starts})
        leaves: dict[int, bytes] = {}
        for lo in ranges:
            sql = "SELECT idx, leaf_hash FROM entries WHERE idx >= ? AND idx < ? ORDER BY idx"
            for i, h in read(store._sql(sql), (lo, lo + span)):
                leaves[int(i)] = bytes(h)
        for lv, ix in low:
            start, end = ix << lv, (ix + 1) << lv
            hashes = [leaves.get(i) for i in range(start, end)]
            if any(h is None for h in hashes):
                raise merkle.NodeNotFoundError(f"leaves [{start}, {end}) are not all stored")
            present = [h for h in hashes if h is not None]
            out[(lv, ix)] = present[0] if lv == 0 else merkle.root_of(present)
    return [out[i] for i in ids]
