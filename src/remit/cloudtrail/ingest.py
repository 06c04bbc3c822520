"""Ingest: paths and `s3://` URLs → the trail store, reporting everything not stored.

Every path is resolved before anything is written (a missing path or bucket is bad input
and nothing is stored). Each file is then read whole: a file that cannot be read is
rejected with its reason and none of it is stored; a record that is not a usable event is
rejected with its file and record number and the rest of its file is stored. A file
whose content is already stored (whatever its name) is not stored again. Files are
written in batches, each batch one transaction of whole files, stored on a thread of its
own while the next batch is prepared. Many local files are read and prepared (parsed,
normalised, serialised as rows to a temporary file) in worker processes, in order.

It does not print (the CLI does) and does not map or reconcile events itself.
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from remit.bulk_load import paused_collection
from remit.cloudtrail.normalize import NotAnEvent, canonical, event_key, normalize
from remit.cloudtrail.reader import (
    MAX_FILE_BYTES,
    Source,
    TrailFile,
    UnreadableFile,
    local_sources,
    read_local,
)
from remit.cloudtrail.s3source import read_s3, s3_sources
from remit.cloudtrail.store import StoredFile, TrailStore, row
from remit.errors import Unavailable

BATCH_EVENTS = 50_000
"""Events buffered before a batch of whole files is written."""
PARALLEL_MIN_FILES = 32
"""From this many local files on, files are read and prepared in worker processes."""
MAX_WORKERS = 4
IN_FLIGHT_PER_WORKER = 8
"""Files handed to each worker ahead of the one being stored (each is a small result: the
rows wait on disk)."""

Progress = Callable[[int, int, int], None]
"""Called after each file: (files done, files in all, events read so far)."""


class ScratchError(Exception):
    """The prepared rows could not be written to the temporary folder (the message says
    why); the ingest stops with `Unavailable`."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """Something not stored: a file (`record` None) or one record of it."""

    path: str
    record: int | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path}
        if self.record is not None:
            out["record"] = self.record
        out["reason"] = self.reason
        return out


@dataclass(slots=True)
class IngestReport:
    """What one ingest did. `events`: events the files read hold (stored now or before);
    `new_events`: those stored by this run; `duplicate_files`: files already stored."""

    files: int = 0
    events: int = 0
    new_events: int = 0
    duplicate_files: list[str] = field(default_factory=list)
    skipped_files: list[str] = field(default_factory=list)
    rejected_records: list[Rejected] = field(default_factory=list)
    rejected_files: list[Rejected] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.rejected_records and not self.rejected_files

    def to_json(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "events": self.events,
            "new_events": self.new_events,
            "duplicate_files": self.duplicate_files,
            "skipped_files": self.skipped_files,
            "rejected_records": [r.to_json() for r in self.rejected_records],
            "rejected_files": [r.to_json() for r in self.rejected_files],
        }


def resolve(targets: Sequence[str], s3_client: Callable[[], Any]) -> tuple[list[Source], list[str]]:
    """Every file the targets name, and the folder entries skipped as not trail files.
    BadInput (nothing written) for a path or bucket that does not exist."""
    sources: list[Source] = []
    skipped: list[str] = []
    for target in targets:
        if target.startswith("s3://"):
            found, skip = s3_sources(s3_client(), target)
        else:
            found, skip = local_sources(Path(target))
        sources += found
        skipped += skip
    return sources, skipped


def prepare(trail: TrailFile, folder: Path) -> tuple[StoredFile, list[Rejected]]:
    """A file's events as rows to store, written to a new file in `folder`, and its
    rejected records. Callers read and prepare a file with the cyclic garbage collector
    paused: parsing and preparing make many objects and no cycles (39–43 → 33–36 µs an
    event)."""
    rejected = [Rejected(trail.path, bad.number, bad.reason) for bad in trail.bad]
    count = 0
    try:
        fd, name = tempfile.mkstemp(suffix=".ndjson", dir=folder)
        with os.fdopen(fd, "wb", buffering=1 << 20) as out:
            for number, record in trail.records:
                try:
                    event = normalize(record)
                except NotAnEvent as exc:
                    rejected.append(Rejected(trail.path, number, str(exc)))
                    continue
                raw = canonical(record)
                key = event_key(trail.digest, number, raw)
                out.write(row(key, trail.digest, number, event, raw))
                count += 1
    except OSError as exc:
        raise ScratchError(exc.strerror or str(exc)) from None
    return StoredFile(trail.digest, trail.path, Path(name), count, len(rejected)), rejected


Prepared = tuple[StoredFile, list[Rejected]] | Rejected


def read_and_prepare(source: Source, limit: int, folder: Path) -> Prepared:
    """Read and prepare one local file (in a worker process when there are many)."""
    try:
        with paused_collection():
            return prepare(read_local(source, limit), folder)
    except UnreadableFile as exc:
        return Rejected(source.path, None, str(exc))


def _prepared(
    sources: Sequence[Source], s3_client: Callable[[], Any], limit: int, folder: Path
) -> Iterator[Prepared]:
    """Each source read and prepared, in order: local files on every core when there are
    many (a bounded number in flight), S3 objects and few files here."""
    workers = min(os.cpu_count() or 1, MAX_WORKERS)
    local = all(s.local is not None for s in sources)
    if not local or workers < 2 or len(sources) < PARALLEL_MIN_FILES:
        for source in sources:
            if source.local is not None:
                yield read_and_prepare(source, limit, folder)
                continue
            try:
                with paused_collection():
                    result: Prepared = prepare(read_s3(s3_client(), source, limit), folder)
            except UnreadableFile as exc:
                result = Rejected(source.path, None, str(exc))
            yield result
        return
    spawn = multiprocessing.get_context("spawn")  # no fork of a process holding DuckDB
    with ProcessPoolExecutor(max_workers=workers, mp_context=spawn) as pool:
        pending: deque[Future[Prepared]] = deque()
        todo = iter(sources)
        for source in todo:
            pending.append(pool.submit(read_and_prepare, source, limit, folder))
            if len(pending) >= workers * IN_FLIGHT_PER_WORKER:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def ingest(
    targets: Sequence[str],
    store: TrailStore,
    at: datetime,
    s3_client: Callable[[], Any],
    progress: Progress | None = None,
    limit: int = MAX_FILE_BYTES,
) -> IngestReport:
    """Read every target into `store`; BadInput before any write for a missing target.
    Each batch is stored on a thread of its own while the next one is read and prepared;
    the prepared rows wait in a private temporary folder, removed at the end."""
    sources, skipped = resolve(targets, s3_client)
    report = IngestReport(skipped_files=skipped)
    try:
        return _ingest(sources, store, at, s3_client, progress, limit, report)
    except ScratchError as exc:
        raise Unavailable(
            f"cannot keep prepared rows in the temporary folder {tempfile.gettempdir()}: "
            f"{exc}. The files stored before it are stored whole; set TMPDIR to a folder "
            "with room and ingest again to add the rest"
        ) from None


def _ingest(
    sources: Sequence[Source],
    store: TrailStore,
    at: datetime,
    s3_client: Callable[[], Any],
    progress: Progress | None,
    limit: int,
    report: IngestReport,
) -> IngestReport:
    batch: list[StoredFile] = []
    buffered = 0
    seen: dict[str, int] = {}
    try:
        folder = tempfile.TemporaryDirectory(prefix="remit-trail-")
    except OSError as exc:
        raise ScratchError(exc.strerror or str(exc)) from None
    with (
        folder as scratch,
        ThreadPoolExecutor(1, thread_name_prefix="remit-trail-store") as storing,
    ):
        in_store: Future[int] | None = None

        def collect() -> None:
            """Wait for the batch being stored, if any, and count what it added."""
            nonlocal in_store
            if in_store is not None:
                report.new_events += in_store.result()
                in_store = None

        def store_batch() -> None:
            nonlocal in_store, batch, buffered
            collect()  # one batch at a time, in order
            if batch:
                in_store = storing.submit(_store, store, batch, at)
            batch, buffered = [], 0

        prepared = _prepared(sources, s3_client, limit, Path(scratch))
        for done, result in enumerate(prepared, start=1):
            if isinstance(result, Rejected):
                report.rejected_files.append(result)
                _tick(progress, done, len(sources), report)
                continue
            stored, rejected = result
            report.files += 1
            if stored.digest in seen or store.known_digests([stored.digest]):
                stored.rows.unlink()
                report.duplicate_files.append(stored.path)
                report.events += seen.get(stored.digest) or store.file_events(stored.digest)
                _tick(progress, done, len(sources), report)
                continue
            report.rejected_records += rejected
            seen[stored.digest] = stored.count
            report.events += stored.count
            batch.append(stored)
            buffered += stored.count
            if buffered >= BATCH_EVENTS:
                store_batch()
            _tick(progress, done, len(sources), report)
        store_batch()  # the last, partial batch
        collect()
    return report


def _store(store: TrailStore, files: list[StoredFile], at: datetime) -> int:
    """One batch stored, then its row files removed."""
    try:
        return store.add(files, at)
    finally:
        for f in files:
            f.rows.unlink(missing_ok=True)


def _tick(progress: Progress | None, done: int, total: int, report: IngestReport) -> None:
    if progress is not None:
        progress(done, total, report.events)
