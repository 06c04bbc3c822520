"""Trail files → records: which files a path or `s3://bucket/prefix` names, their bytes
(plain or gzip), and the records they hold in whichever format they come:

- S3 delivery: `{"Records": [...]}`;
- a JSON array of records;
- NDJSON, one record a line (Logstash exports included);
- a single event object.

A file that cannot be read at all (a truncated `.gz`, not JSON, not a trail, too large)
raises `UnreadableFile` with the reason; a line of NDJSON that is not JSON becomes a bad
record (`BadRecord`) and the rest of the file is read. Files in a folder whose names are
plainly not trail files (README, LICENSE) are skipped. It does not interpret records
(`normalize`) or store anything (`store`).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson

from remit.cloudtrail.normalize import looks_like_event

MAX_FILE_BYTES: Final = 512 * 1024 * 1024
"""Largest trail file read (compressed and uncompressed). S3 delivery files are a few MB."""

TRAIL_SUFFIXES: Final = (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz",
                         ".gz", ".log")  # fmt: skip


class UnreadableFile(ValueError):
    """The whole file is rejected; the message says why."""


class BadInput(ValueError):
    """A path, bucket or option that cannot be ingested at all (nothing is written)."""


@dataclass(frozen=True, slots=True)
class BadRecord:
    """A record (1-based `number`: array position or NDJSON line) that is not an event."""

    number: int
    reason: str


@dataclass(slots=True)
class TrailFile:
    """A file's records as read: `digest` is the SHA-256 of its uncompressed content."""

    path: str
    digest: str
    records: list[tuple[int, Any]] = field(default_factory=list)
    bad: list[BadRecord] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Source:
    """A file to read: a local path, or an S3 object (`bucket`, `key`)."""

    path: str
    local: Path | None = None
    bucket: str | None = None
    key: str | None = None


def is_trail_name(name: str) -> bool:
    """True for names trail files have (`.json`, `.json.gz`, NDJSON, `.gz`)."""
    lower = name.lower()
    return lower.endswith(TRAIL_SUFFIXES)


def local_sources(path: Path) -> tuple[list[Source], list[str]]:
    """The files under `path` (itself if a file) and the names skipped as not trail files.
    BadInput if it does not exist."""
    if not path.exists():
        raise BadInput(f"{path}: no such file or folder")
    if path.is_file():
        return [Source(str(path), local=path)], []
    files: list[Source] = []
    skipped: list[str] = []
    for p in sorted(path.rglob("*")):
        if not p.is_file():
            continue
        if is_trail_name(p.name):
            files.append(Source(str(p), local=p))
        else:
            skipped.append(str(p))
    return files, skipped


def decompress(data: bytes, name: str, limit: int = MAX_FILE_BYTES) -> bytes:
    """The file's content: gunzipped when it is gzip (by magic bytes), within `limit`."""
    if data[:2] != b"\x1f\x8b":
        if name.lower().endswith(".gz"):
            raise UnreadableFile("named .gz but not gzip data")
        return data
    out = io.BytesIO()
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
            while chunk := gz.read(1 << 20):
                out.write(chunk)
                if out.tell() > limit:
                    raise UnreadableFile(f"uncompresses to more than {limit:,} bytes")
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise UnreadableFile(f"truncated or corrupt gzip: {exc}") from None
    return out.getvalue()


def parse_trail(path: str, raw: bytes, limit: int = MAX_FILE_BYTES) -> TrailFile:
    """The records of one file's bytes; UnreadableFile if it is not a trail file."""
    if len(raw) > limit:
        raise UnreadableFile(f"{len(raw):,} bytes is larger than the {limit:,}-byte limit")
    data = decompress(raw, path, limit)
    digest = hashlib.sha256(data).hexdigest()
    out = TrailFile(path, digest)
    if not data.strip():
        raise UnreadableFile("empty file")
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as whole_error:
        return _ndjson(out, data, whole_error)
    out.records = list(enumerate(_records(doc), start=1))
    return out


def _records(doc: Any) -> list[Any]:
    if isinstance(doc, Mapping):
        wrapped = next((v for k, v in doc.items() if str(k).lower() == "records"), None)
        if isinstance(wrapped, list):
            return wrapped
        if looks_like_event(doc):
            return [doc]
        raise UnreadableFile("JSON, but not a CloudTrail file (no Records array, no event)")
    if isinstance(doc, list):
        if doc and not any(looks_like_event(r) for r in doc):
            raise UnreadableFile("a JSON array, but none of its items is a CloudTrail event")
        return doc
    raise UnreadableFile(f"JSON {type(doc).__name__}, not a CloudTrail file")


def _ndjson(out: TrailFile, data: bytes, whole_error: Exception) -> TrailFile:
    events = 0
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            out.bad.append(BadRecord(number, f"not JSON: {exc}"))
            continue
        if isinstance(value, Mapping) and not looks_like_event(value):
            inner = next((v for k, v in value.items() if str(k).lower() == "records"), None)
            if isinstance(inner, list):  # a delivery document on one line
                out.records.extend((number, r) for r in inner)
                events += len(inner)
                continue
        events += looks_like_event(value)
        out.records.append((number, value))
    if events == 0:
        raise UnreadableFile(f"not JSON or NDJSON: {whole_error}")
    return out


def read_local(source: Source, limit: int = MAX_FILE_BYTES) -> TrailFile:
    """Read and parse one local file."""
    assert source.local is not None
    try:
        size = source.local.stat().st_size
        if size > limit:
            raise UnreadableFile(f"{size:,} bytes is larger than the {limit:,}-byte limit")
        raw = source.local.read_bytes()
    except OSError as exc:
        raise UnreadableFile(f"cannot read: {exc.strerror or exc}") from None
    return parse_trail(source.path, raw, limit)
