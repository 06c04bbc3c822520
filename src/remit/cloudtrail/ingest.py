"""Ingest: paths and `s3://` URLs → the trail store, reporting everything not stored.

Every path is resolved before anything is written (a missing path or bucket is bad input
and nothing is stored). Each file is then read whole: a file that cannot be read is
rejected with its reason and none of it is stored; a record that is not a usable event is
rejected with its file and record number and the rest of its file is stored. A file
whose content is already stored (whatever its name) is not stored again. Files are
written in batches, each batch one transaction of whole files.

It does not print (the CLI does) and does not map or reconcile events itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

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
from remit.cloudtrail.store import StoredFile, TrailStore

BATCH_EVENTS = 50_000
"""Events buffered before a batch of whole files is written."""

Progress = Callable[[int, int, int], None]
"""Called after each file: (files done, files in all, events read so far)."""


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


def ingest(
    targets: Sequence[str],
    store: TrailStore,
    at: datetime,
    s3_client: Callable[[], Any],
    progress: Progress | None = None,
    limit: int = MAX_FILE_BYTES,
) -> IngestReport:
    """Read every target into `store`; BadInput before any write for a missing target."""
    sources, skipped = resolve(targets, s3_client)
    report = IngestReport(skipped_files=skipped)
    batch: list[StoredFile] = []
    buffered = 0
    seen: set[str] = set()
    for done, source in enumerate(sources, start=1):
        try:
            trail = (
                read_local(source, limit)
                if source.local is not None
                else read_s3(s3_client(), source, limit)
            )
        except UnreadableFile as exc:
            report.rejected_files.append(Rejected(source.path, None, str(exc)))
            _tick(progress, done, len(sources), report)
            continue
        report.files += 1
        if trail.digest in seen or store.known_digests([trail.digest]):
            report.duplicate_files.append(source.path)
            report.events += store.file_events(trail.digest) or _count_pending(batch, trail)
            _tick(progress, done, len(sources), report)
            continue
        stored = _events(trail, report)
        seen.add(trail.digest)
        report.events += len(stored.events)
        batch.append(stored)
        buffered += len(stored.events)
        if buffered >= BATCH_EVENTS:
            report.new_events += store.add(batch, at)
            batch, buffered = [], 0
        _tick(progress, done, len(sources), report)
    report.new_events += store.add(batch, at)
    return report


def _count_pending(batch: list[StoredFile], trail: TrailFile) -> int:
    return next((len(f.events) for f in batch if f.digest == trail.digest), 0)


def _tick(progress: Progress | None, done: int, total: int, report: IngestReport) -> None:
    if progress is not None:
        progress(done, total, report.events)


def _events(trail: TrailFile, report: IngestReport) -> StoredFile:
    rows = []
    for bad in trail.bad:
        report.rejected_records.append(Rejected(trail.path, bad.number, bad.reason))
    for number, record in trail.records:
        try:
            event = normalize(record)
        except NotAnEvent as exc:
            report.rejected_records.append(Rejected(trail.path, number, str(exc)))
            continue
        raw = canonical(record)
        rows.append((event_key(trail.digest, number, raw), number, event, raw))
    return StoredFile(trail.digest, trail.path, rows, len(trail.bad) + len(trail.records)
                      - len(rows))  # fmt: skip
