"""Building an evidence pack: gather from the store what one period needs (the signed
checkpoints at its start and end, the entries between them, the proofs), then make every
file from those inputs alone, and zip them byte for byte deterministically (fixed names
order, times and permissions). `verify` rebuilds the same files from a pack's own inputs,
so any change to a derived file (a CSV, the OSCAL document) shows as that file differing.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from remit.domain.clock import parse_ts
from remit.evidence.assess import Assessment, assess, control_csv
from remit.evidence.controls import controls_of
from remit.evidence.oscal import assessment_results, csv_name
from remit.ledger.export import ocsf_event, write_jsonl
from remit.ledger.kinds import DecisionRecord, SignoffRecord
from remit.ledger.records import StoredEntry
from remit.ledger.store import LedgerStore, StoredCheckpoint
from remit.report.period import Period
from remit.tlog import merkle

FORMAT = "remit.dev/evidence-pack/v1"
MANIFEST = "manifest.json"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


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
    inclusion: dict[int, list[bytes]]
    consistency: list[bytes]
    assessment: Assessment | None = None
    """`assess(entries, period)`, when already computed (it is a pure function of the two)."""


def _entry(store: LedgerStore, index: int) -> StoredEntry:
    return store.entry(index)


def gather(
    store: LedgerStore, framework: str, period: Period, origin: str, end: StoredCheckpoint
) -> PackInputs:
    """The inputs of a pack ending at the signed checkpoint `end`: it starts at the newest
    checkpoint signed at or before the period starts (or the empty tree)."""
    controls_of(framework)  # ValueError for an unknown framework, before any work
    since = period.to_dict()["since"]
    starts = [c for c in store.checkpoints() if c.ts <= since and c.size <= end.size]
    start = max(starts, key=lambda c: c.size) if starts else None
    s1, s2 = (start.size if start else 0), end.size
    entries = list(store.entries(s1, s2))
    frontier = list(merkle.CompactRange.from_reader(s1, store).hashes) if s1 else []
    anchor_indexes = sorted({0, s1 - 1, *store.reads.signoff_indexes(s1)}) if s1 else []
    anchors = [(_entry(store, i), store.inclusion_proof(i, s2)) for i in anchor_indexes]
    found = assess(entries, period)
    inclusion = _proofs(store, found.decisions, s2)
    consistency = store.consistency_proof(s1, s2) if 0 < s1 < s2 else []
    return PackInputs(
        framework, period, origin, s1, start.note if start else None, s2, end.note,
        frontier, entries, anchors, inclusion, consistency, found,
    )  # fmt: skip


IN_MEMORY_FROM = 256
"""From this many proofs on, they are computed from the tree held in memory (its leaf
hashes read once) rather than by reading nodes from the store for each."""


def _proofs(store: LedgerStore, indexes: Sequence[int], size: int) -> dict[int, list[bytes]]:
    if len(indexes) < IN_MEMORY_FROM:
        return {i: store.inclusion_proof(i, size) for i in indexes}
    tree = merkle.InMemoryTree.from_leaf_hashes(store.leaf_hashes(0, size))
    return {i: merkle.inclusion_proof(i, size, tree) for i in indexes}


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def _line(value: Any) -> bytes:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (text + "\n").encode()


def _hexes(hashes: Sequence[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def _leaf(e: StoredEntry) -> str:
    return base64.b64encode(e.body).decode()


def _versions(entries: Sequence[StoredEntry], found: Assessment) -> dict[str, Any]:
    cited = set(found.decisions)
    versions: dict[str, dict[str, Any]] = {}
    for e in entries:
        if e.index not in cited:
            continue
        rec = e.read_as(DecisionRecord)
        env = rec.record.decision.get("envelope") or {}
        key = str(env.get("digest"))
        v = versions.setdefault(
            key, {"name": env.get("name"), "version": env.get("version"), "digest": key,
                  "decisions": 0, "first": rec.ts, "last": rec.ts},
        )  # fmt: skip
        v["decisions"] += 1
        v["last"] = rec.ts
    return {"versions_in_force": sorted(versions.values(), key=lambda v: str(v["first"]))}


def _signoffs(inputs: PackInputs) -> list[dict[str, Any]]:
    out = []
    for e in [a for a, _ in inputs.anchors] + inputs.entries:
        if e.kind != "signoff":
            continue
        got = e.read_as(SignoffRecord)
        doc = dict(got.record.signoff)
        out.append({
            "index": e.index, "recorded_at": got.ts, "id": got.record.id,
            "valid_when_recorded": got.record.valid, "problem": got.record.problem,
            "signer": doc.get("signer"), "role": doc.get("role"), "at": doc.get("at"),
            "envelope": doc.get("envelope"),
        })  # fmt: skip
    return sorted(out, key=lambda s: int(s["index"]))


def build_files(inputs: PackInputs) -> dict[str, bytes]:
    """Every file of the pack but the manifest, by name."""
    controls = controls_of(inputs.framework)
    period = inputs.period
    found = inputs.assessment or assess(inputs.entries, period)
    files: dict[str, bytes] = {}
    jsonl = io.StringIO()
    write_jsonl(inputs.entries, jsonl)
    files["entries/ledger.jsonl"] = jsonl.getvalue().encode()
    files["entries/anchors.jsonl"] = b"".join(
        _line({"index": e.index, "leaf": _leaf(e), "proof": _hexes(p)}) for e, p in inputs.anchors
    )
    cited = set(found.decisions)
    files["entries/ocsf.jsonl"] = b"".join(
        _line(ocsf_event(e, e.document())) for e in inputs.entries if e.index in cited
    )
    files["checkpoints/start.json"] = _json({"size": inputs.start_size, "note": inputs.start_note})
    files["checkpoints/end.json"] = _json({"size": inputs.end_size, "note": inputs.end_note})
    files["checkpoints/frontier.json"] = _json(
        {"size": inputs.start_size, "hashes": _hexes(inputs.frontier)}
    )
    files["proofs/consistency.json"] = _json(
        {"from": inputs.start_size, "to": inputs.end_size, "proof": _hexes(inputs.consistency)}
    )
    files["proofs/inclusion.jsonl"] = b"".join(
        _line({"index": i, "proof": _hexes(inputs.inclusion[i])}) for i in sorted(inputs.inclusion)
    )
    files["envelope/versions.json"] = _json(_versions(inputs.entries, found))
    files["envelope/signoffs.json"] = _json(_signoffs(inputs))
    for c in controls:
        rows = [r for cls in c.evidence for r in found.rows.get(cls, ())]
        files[csv_name(c)] = control_csv(rows)
    last = inputs.entries[-1].ts if inputs.entries else period.to_dict()["since"]
    files["oscal/assessment-results.json"] = _json(
        assessment_results(
            inputs.framework, controls, period, found, inputs.origin, inputs.end_size, last
        )
    )
    files["summary.json"] = _json(
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


def manifest(inputs: PackInputs, files: dict[str, bytes]) -> bytes:
    import hashlib

    return _json(
        {
            "format": FORMAT,
            "framework": inputs.framework,
            "period": {**inputs.period.to_dict(), "name": inputs.period.name},
            "origin": inputs.origin,
            "files": {
                name: {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
                for name, body in sorted(files.items())
            },
        }
    )


def to_zip(files: dict[str, bytes]) -> bytes:
    """The archive: manifest first, then files by name; fixed times and permissions."""
    buf = io.BytesIO()
    names = [MANIFEST, *sorted(n for n in files if n != MANIFEST)]
    with zipfile.ZipFile(buf, "w") as z:
        for name in names:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            z.writestr(info, files[name], compresslevel=9)
    return buf.getvalue()


def make_pack(inputs: PackInputs) -> bytes:
    files = build_files(inputs)
    files[MANIFEST] = manifest(inputs, files)
    return to_zip(files)


def period_of(doc: dict[str, Any]) -> Period:
    return Period(str(doc["name"]), parse_ts(str(doc["since"])), parse_ts(str(doc["until"])))
