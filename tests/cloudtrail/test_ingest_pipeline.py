"""The ingest pipeline itself, in-process: many files prepared in worker processes and
stored in batches on a thread of their own while the next batch is prepared. Every file
is stored whole or not at all, a copy of a file is stored once whichever batch it falls
in, and the prepared rows never outlive the ingest — also when storing a batch fails."""

from __future__ import annotations

import gzip
import json
import re
import tempfile
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from remit.cloudtrail import ingest as ingest_module
from remit.cloudtrail.ingest import PARALLEL_MIN_FILES, ingest
from remit.cloudtrail.store import StoredFile, TrailStore
from remit.errors import Unavailable

AT = datetime(2026, 12, 1, tzinfo=UTC)


def _event(file: int, n: int) -> dict[str, Any]:
    return {
        "eventTime": f"2026-11-{1 + file % 28:02d}T12:{n % 60:02d}:00Z",
        "eventSource": "iam.amazonaws.com",
        "eventName": "GetRole",
        "eventID": f"f{file}-e{n}",
        "awsRegion": "us-east-1",
        "recipientAccountId": "111122223333",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDA1",
                         "arn": "arn:aws:iam::111122223333:user/u"},
        "requestParameters": {"roleName": f"role-{file}-{n}"},
    }  # fmt: skip


def _trail(tmp_path: Path, files: int, per_file: int) -> Path:
    """`files` delivery files; every fifth is a copy (another name) of the one before, and
    file 1 holds a record that is not an event."""
    folder = tmp_path / "trail"
    folder.mkdir()
    for i in range(files):
        source = i - 1 if i % 5 == 4 else i
        records: list[Any] = [_event(source, n) for n in range(per_file)]
        if i == 1:
            records.append("not an event")
        doc = json.dumps({"Records": records}).encode()
        (folder / f"{i:03d}.json.gz").write_bytes(gzip.compress(doc))
    return folder


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder ingest makes its private temporary folder in."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def _stored(store: TrailStore) -> dict[str, tuple[int, int]]:
    """Per stored file: the events the files table says it has, and the events stored."""
    rows = store.con.execute(
        "SELECT f.digest, f.events, count(e.event_key) FROM files f "
        "LEFT JOIN events e ON e.file_digest = f.digest GROUP BY ALL"
    ).fetchall()
    return {str(d): (int(n), int(c)) for d, n, c in rows}


def test_many_files_in_overlapping_batches_are_stored_once_each_and_whole(
    tmp_path: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files, per_file = PARALLEL_MIN_FILES + 8, 30
    folder = _trail(tmp_path, files, per_file)
    monkeypatch.setattr(ingest_module, "BATCH_EVENTS", 100)  # a batch every few files
    pools: list[object] = []

    class Pool(ProcessPoolExecutor):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            pools.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(ingest_module, "ProcessPoolExecutor", Pool)
    done: list[tuple[int, int, int]] = []
    with TrailStore(tmp_path / "t.duckdb") as store:
        report = ingest([str(folder)], store, AT, lambda: None,
                        progress=lambda *a: done.append(a))  # fmt: skip
        stored = _stored(store)
        store.con.execute("CHECKPOINT")
        raw_compression = store.con.execute(
            "SELECT DISTINCT compression FROM pragma_storage_info('events') "
            "WHERE column_name = 'raw' AND segment_type = 'VARCHAR'"
        ).fetchall()
    assert raw_compression == [("ZSTD",)]  # each event's raw record, compressed
    copies = files // 5
    assert report.files == files
    assert len(report.duplicate_files) == copies
    assert report.new_events == (files - copies) * per_file == sum(c for _, c in stored.values())
    assert report.events == files * per_file
    assert [(r.path.endswith("001.json.gz"), r.record) for r in report.rejected_records] == [
        (True, per_file + 1)
    ]
    assert len(stored) == files - copies
    assert all(n == c == per_file for n, c in stored.values())
    assert done[-1] == (files, files, files * per_file)
    assert len(pools) == 1  # prepared in worker processes
    assert list(scratch.iterdir()) == []  # the prepared rows went with the ingest
    with TrailStore(tmp_path / "t.duckdb") as store:  # again: nothing new
        again = ingest([str(folder)], store, AT, lambda: None)
        assert (again.new_events, len(again.duplicate_files)) == (0, files)
        assert _stored(store) == stored


def test_a_batch_that_cannot_be_stored_fails_the_ingest_and_leaves_whole_files_only(
    tmp_path: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _trail(tmp_path, 12, 20)
    monkeypatch.setattr(ingest_module, "BATCH_EVENTS", 50)
    calls = 0
    real_add = TrailStore.add

    def add(self: TrailStore, files: Any, at: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise Unavailable("trail database t.duckdb: IO Error: No space left on device")
        return real_add(self, files, at)

    monkeypatch.setattr(TrailStore, "add", add)
    with TrailStore(tmp_path / "t.duckdb") as store:
        with pytest.raises(Unavailable, match="No space left on device"):
            ingest([str(folder)], store, AT, lambda: None)
        stored = _stored(store)
    assert stored and all(n == c == 20 for n, c in stored.values())  # the first batch, whole
    assert sum(c for _, c in stored.values()) < 12 * 20
    assert list(scratch.iterdir()) == []


def test_a_full_temporary_folder_is_a_clear_unavailable_error_and_stores_nothing_partial(
    tmp_path: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _trail(tmp_path, 3, 10)  # few files: prepared in this process
    made = 0
    real_mkstemp = tempfile.mkstemp

    def mkstemp(*args: Any, **kwargs: Any) -> Any:
        nonlocal made
        made += 1
        if made == 2:
            raise OSError(28, "No space left on device")
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    with TrailStore(tmp_path / "t.duckdb") as store:
        says = re.escape(f"temporary folder {scratch}") + ".*TMPDIR"
        with pytest.raises(Unavailable, match=says):
            ingest([str(folder)], store, AT, lambda: None)
        assert all(n == c for n, c in _stored(store).values())
    assert list(scratch.iterdir()) == []


def test_the_store_refusing_a_batch_is_unavailable_and_rolls_the_batch_back(
    tmp_path: Path,
) -> None:
    good = tmp_path / "good.ndjson"
    good.write_text("")
    files = [StoredFile("d1", "a.json", good, 0, 0),
             StoredFile("d2", "b.json", tmp_path / "gone.ndjson", 5, 0)]  # fmt: skip
    with TrailStore(tmp_path / "t.duckdb") as store:
        with pytest.raises(Unavailable, match=r"trail database .*gone\.ndjson"):
            store.add(files, AT)
        assert _stored(store) == {}  # neither file: one transaction
