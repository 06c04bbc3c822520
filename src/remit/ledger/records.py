"""Ledger entries as bytes: an entry is the canonical JSON of its version, kind, time,
actor and its record's data; the Merkle leaf is exactly these bytes.

`make_entry` builds one from a typed record (`remit.ledger.kinds`); `StoredEntry.read`
parses one back into its typed record; `derive` gives the index rows a store keeps for
it. This is the only module that turns entry bytes into records. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import orjson

from remit.domain.canonical import canonical_json
from remit.domain.clock import ts_text
from remit.ledger.kinds import PARSERS, EntryFormatError, IndexRow, Record, parse_record

ENTRY_VERSION = 1
KINDS = frozenset(PARSERS)
R = TypeVar("R", bound=Record)


@dataclass(frozen=True, slots=True)
class NewEntry:
    """An entry about to be appended: its kind, time, actor, canonical bytes, and the
    record those bytes encode (so indexing need not parse them again)."""

    kind: str
    ts: str
    body: bytes
    record: Record
    actor: str


def make_entry(record: Record, at: datetime, actor: str) -> NewEntry:
    """The entry recording `record`, made by `actor` at `at`."""
    if not actor:
        raise ValueError("every entry names the identity that made it")
    ts = ts_text(at)
    doc = {"v": ENTRY_VERSION, "kind": record.KIND, "ts": ts, "actor": actor, "data": None}
    doc["data"] = record.to_data()
    return NewEntry(record.KIND, ts, canonical_json(doc), record, actor)


@dataclass(frozen=True, slots=True)
class Recorded(Generic[R]):
    """A record as it stands on the ledger: its index, time and the identity that made it."""

    index: int
    ts: str
    actor: str
    record: R


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """An entry as recorded: its index in the log, kind, time and exact bytes."""

    index: int
    kind: str
    ts: str
    body: bytes

    def document(self) -> dict[str, Any]:
        """The entry's JSON document, untyped (exports and verification only)."""
        value = _loads(self.body)
        if not isinstance(value, dict):
            raise EntryFormatError(f"entry {self.index} is not a JSON object")
        return value

    def read(self) -> Recorded[Record]:
        """The entry's typed record; EntryFormatError names the index and what is wrong."""
        try:
            doc = self.document()
            if doc.get("v") != ENTRY_VERSION:
                raise EntryFormatError(f"unknown entry version {doc.get('v')!r}")
            record = parse_record(str(doc.get("kind")), _data(doc))
            return Recorded(self.index, str(doc["ts"]), str(doc["actor"]), record)
        except (EntryFormatError, ValueError, KeyError) as exc:
            raise EntryFormatError(f"ledger entry {self.index}: {exc}") from None

    def read_as(self, kind: type[R]) -> Recorded[R]:
        """The entry's record, which must be of type `kind`."""
        got = self.read()
        if not isinstance(got.record, kind):
            raise EntryFormatError(
                f"ledger entry {self.index} is a {self.kind}, not a {kind.KIND} record"
            )
        return Recorded(got.index, got.ts, got.actor, got.record)


def _loads(body: bytes) -> Any:
    """JSON bytes parsed by orjson; what orjson refuses (integers past 64 bits, NaN) by
    the standard library, so the result is always what `json.loads` gives."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


def _data(doc: Mapping[str, Any]) -> Mapping[str, Any]:
    data = doc.get("data")
    if not isinstance(data, Mapping):
        raise EntryFormatError("the entry has no data object")
    return data


def derive(entry: NewEntry, idx: int) -> list[IndexRow]:
    """The index rows a store keeps for an entry. They are rebuildable from the entries
    alone, so the log stays the one source of truth."""
    return entry.record.index_rows(idx, entry.ts, entry.actor)
