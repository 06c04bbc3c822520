"""Building an evidence pack: gather from the store what one period needs (the signed
checkpoints at its start and end, the entries between them, the proofs), then make every
file from those inputs alone, and zip them byte for byte deterministically (`archive`).
`verify` rebuilds the same files from a pack's own inputs, so any change to a derived file
(a CSV, the OSCAL document) shows as that file differing.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from remit.domain.clock import parse_ts
from remit.evidence.archive import (
    MANIFEST,
    FileBody,
    Packed,
    fits_one_archive,
    fits_without_zip64,
    pack_files,
    to_zip,
)
from remit.evidence.assess import control_csvs
from remit.evidence.controls import controls_of
from remit.evidence.derive import Derived, derive
from remit.evidence.jsonl import json_document, json_line, proof_lines
from remit.evidence.oscal import assessment_results, csv_name
from remit.ledger.records import StoredEntry
from remit.ledger.store import LedgerStore, StoredCheckpoint
from remit.report.period import Period
from remit.tlog import merkle

FORMAT = "remit.dev/evidence-pack/v1"


class PackError(ValueError):
    """A pack cannot be made (the message says why and what to do)."""


@dataclass
class PackInputs:
    """Everything a pack's files are made from."""

    framework: str
    period: Period
    origin: str
    start_size: int
    start_note: str | None
    end_size: int
    end_note: str
    frontier: list[bytes]
    entries: list[StoredEntry]
    anchors: list[tuple[StoredEntry, list[bytes]]]
    inclusion: Mapping[int, Sequence[bytes]]
    consistency: list[bytes]
    leaf_hashes: list[bytes] | None = None
    """The entries' leaf hashes, when already computed."""


def gather(
    store: LedgerStore, framework: str, period: Period, origin: str, end: StoredCheckpoint
) -> PackInputs:
    """The inputs of a pack ending at the signed checkpoint `end`: it starts at the newest
    checkpoint signed at or before the period starts (or the empty tree)."""
    controls_of(framework)  # ValueError for an unknown framework, before any work
    since, until = period.to_dict()["since"], period.to_dict()["until"]
    starts = [c for c in store.checkpoints() if c.ts <= since and c.size <= end.size]
    start = max(starts, key=lambda c: c.size) if starts else None
    s1, s2 = (start.size if start else 0), end.size
    entries = list(store.entries(s1, s2))
    frontier = list(merkle.CompactRange.from_reader(s1, store).hashes) if s1 else []
    anchor_indexes = sorted({0, s1 - 1, *store.reads.signoff_indexes(s1)}) if s1 else []
    anchors = [(_entry(store, i), store.inclusion_proof(i, s2)) for i in anchor_indexes]
    leaf_hashes = [merkle.leaf_hash(e.body) for e in entries]
    decisions = [e.index for e in entries if e.kind == "decision" and since <= e.ts < until]
    if len(decisions) < IN_MEMORY_FROM:
        inclusion: Mapping[int, Sequence[bytes]] = _proofs(store, decisions, s2)
    else:
        inclusion = SpanProofs(merkle.SpanTree(s1, frontier, leaf_hashes), decisions)
    consistency = store.consistency_proof(s1, s2) if 0 < s1 < s2 else []
    return PackInputs(
        framework, period, origin, s1, start.note if start else None, s2, end.note,
        frontier, entries, anchors, inclusion, consistency, leaf_hashes,
    )  # fmt: skip


def _entry(store: LedgerStore, index: int) -> StoredEntry:
    return store.entry(index)


IN_MEMORY_FROM = 256
"""From this many proofs on, they are computed from the tree held in memory (the pack's
span of it, built once from the start frontier and the entries) rather than by reading
nodes from the store for each."""


def _proofs(store: LedgerStore, indexes: Sequence[int], size: int) -> dict[int, list[bytes]]:
    if len(indexes) < IN_MEMORY_FROM:
        return {i: store.inclusion_proof(i, size) for i in indexes}
    tree = merkle.InMemoryTree.from_leaf_hashes(store.leaf_hashes(0, size))
    return {i: merkle.inclusion_proof(i, size, tree) for i in indexes}


class SpanProofs(Mapping[int, Sequence[bytes]]):
    """The inclusion proofs of `indexes`, computed from a `SpanTree` when asked (a million
    proofs as lists of hashes would hold over a gigabyte)."""

    def __init__(self, tree: merkle.SpanTree, indexes: Sequence[int]) -> None:
        self.tree = tree
        self._indexes = set(indexes)
        self._lines: FileBody | None = None

    def lines(self) -> FileBody:
        """`proofs/inclusion.jsonl` (made once)."""
        if self._lines is None:
            self._lines = proof_lines(self.tree, list(self))
        return self._lines

    def take_lines(self, lines: FileBody, indexes: Sequence[int]) -> None:
        """Use `lines`, made elsewhere from this tree for `indexes`, if those are exactly
        the indexes proven here (else the lines are made when asked)."""
        if len(indexes) == len(self._indexes) and all(i in self._indexes for i in indexes):
            self._lines = lines

    def __getitem__(self, index: int) -> list[bytes]:
        if index not in self._indexes:
            raise KeyError(index)
        return self.tree.inclusion_proof(index)

    def __iter__(self) -> Iterator[int]:
        return iter(sorted(self._indexes))

    def __len__(self) -> int:
        return len(self._indexes)


def inclusion_lines(inclusion: Mapping[int, Sequence[bytes]]) -> FileBody:
    """`proofs/inclusion.jsonl`: one line per proven index, by index."""
    if isinstance(inclusion, SpanProofs):
        return inclusion.lines()
    return b"".join(
        json_line({"index": i, "proof": _hexes(inclusion[i])}) for i in sorted(inclusion)
    )


def _hexes(hashes: Sequence[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def _leaf(e: StoredEntry) -> str:
    return base64.b64encode(e.body).decode()


def build_files(inputs: PackInputs, derived: Derived | None = None) -> dict[str, FileBody]:
    """Every file of the pack but the manifest, by name."""
    controls = controls_of(inputs.framework)
    period = inputs.period
    evidence = [c.evidence for c in controls]
    proofs = inputs.inclusion if isinstance(inputs.inclusion, SpanProofs) else None
    got = derived or derive(
        period, evidence, inputs.entries, [a for a, _ in inputs.anchors], inputs.leaf_hashes,
        proofs=proofs.tree if proofs else None,
        into="zip" if fits_without_zip64(_largest_file(inputs.entries)) else "bytes",
    )  # fmt: skip
    found = got.found
    if proofs is not None and got.inclusion is not None:
        proofs.take_lines(got.inclusion, found.decisions)
    files: dict[str, FileBody] = {}
    files["entries/ledger.jsonl"] = got.ledger
    files["entries/anchors.jsonl"] = b"".join(
        json_line({"index": e.index, "leaf": _leaf(e), "proof": _hexes(p)})
        for e, p in inputs.anchors
    )
    files["entries/ocsf.jsonl"] = got.ocsf
    files["checkpoints/start.json"] = json_document(
        {"size": inputs.start_size, "note": inputs.start_note}
    )
    files["checkpoints/end.json"] = json_document(
        {"size": inputs.end_size, "note": inputs.end_note}
    )
    files["checkpoints/frontier.json"] = json_document(
        {"size": inputs.start_size, "hashes": _hexes(inputs.frontier)}
    )
    files["proofs/consistency.json"] = json_document(
        {"from": inputs.start_size, "to": inputs.end_size, "proof": _hexes(inputs.consistency)}
    )
    files["proofs/inclusion.jsonl"] = inclusion_lines(inputs.inclusion)
    files["envelope/versions.json"] = json_document(got.versions)
    files["envelope/signoffs.json"] = json_document(got.signoffs)
    for c, body in zip(controls, control_csvs(found, evidence), strict=True):
        files[csv_name(c)] = body
    last = inputs.entries[-1].ts if inputs.entries else period.to_dict()["since"]
    files["oscal/assessment-results.json"] = json_document(
        assessment_results(
            inputs.framework, controls, period, found, inputs.origin, inputs.end_size, last
        )
    )
    files["summary.json"] = json_document(
        {
            "framework": inputs.framework,
            "period": period.to_dict(),
            "origin": inputs.origin,
            "ledger_range": [inputs.start_size, inputs.end_size],
            "entries_in_period": found.entries_in_period,
            "decisions_in_period": len(found.decisions),
            "failed_checks": {k: len(v) for k, v in sorted(found.failures.items())},
            "controls": [c.id for c in controls],
        }
    )
    return files


def _largest_file(entries: Sequence[StoredEntry]) -> int:
    """A bound on the size of the pack's largest file (`entries/ledger.jsonl`: each entry in
    base64 and its leaf hash, with room for the rest of its row)."""
    return sum(len(e.body) for e in entries) * 4 // 3 + 256 * len(entries)


def manifest(inputs: PackInputs, files: Mapping[str, Packed]) -> bytes:
    return json_document(
        {
            "format": FORMAT,
            "framework": inputs.framework,
            "period": {**inputs.period.to_dict(), "name": inputs.period.name},
            "origin": inputs.origin,
            "files": {
                name: {"sha256": files[name].sha256, "size": files[name].size}
                for name in sorted(files)
            },
        }
    )


def make_pack(inputs: PackInputs) -> bytes:
    """The pack's archive: each file hashed and deflated in one reading (or, for an archive
    that needs ZIP64 records, hashed here and deflated by `zipfile`)."""
    files = build_files(inputs)
    zipped = fits_one_archive(files)
    packed = pack_files(files, deflate=zipped)
    members: dict[str, FileBody] = {**(packed if zipped else files)}
    members[MANIFEST] = manifest(inputs, packed)
    return to_zip(members)


def period_of(doc: dict[str, Any]) -> Period:
    return Period(str(doc["name"]), parse_ts(str(doc["since"])), parse_ts(str(doc["until"])))
