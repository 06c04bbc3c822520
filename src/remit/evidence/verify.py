"""Offline verification of an evidence pack with nothing but the pack and the log's public
key: every file's SHA-256 against the manifest; the signed checkpoints at the start and
end; that the pack's entries are exactly the log between them (the start tree's frontier
extended by the entries gives the end root — nothing removed, added or changed); the
consistency proof; an inclusion proof for every decision of the period; that the period
is covered from its start to its end (no decision of the period can be missing); and every
derived file (CSVs, OSCAL, OCSF, envelope) rebuilt from the entries and compared byte for
byte. Each problem names the file and, where there is one, the ledger index."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import zipfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson

from remit.evidence.archive import MANIFEST, pack_files
from remit.evidence.controls import controls_of
from remit.evidence.derive import derive
from remit.evidence.pack import (
    FORMAT,
    PackInputs,
    SpanProofs,
    build_files,
    period_of,
)
from remit.ledger.records import StoredEntry
from remit.signing.keys import VerifierKey
from remit.tlog import merkle
from remit.tlog.checkpoint import CheckpointError, open_checkpoint


@dataclass
class PackReport:
    """What verification found; `ok` only if nothing is wrong."""

    problems: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


class _Stop(Exception):
    """A problem after which nothing further can be checked."""


def _load(files: dict[str, bytes], name: str) -> Any:
    if name not in files:
        raise _Stop(f"{name}: missing from the pack")
    try:
        return json.loads(files[name])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _Stop(f"{name}: not valid JSON ({exc})") from None


def _lines(files: dict[str, bytes], name: str) -> list[Any]:
    if name not in files:
        raise _Stop(f"{name}: missing from the pack")
    out = []
    for number, line in enumerate(files[name].decode("utf-8", "replace").splitlines(), 1):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise _Stop(f"{name} line {number}: not valid JSON ({exc})") from None
    return out


def _hashes(name: str, values: Any) -> list[bytes]:
    try:
        return [bytes.fromhex(str(v)) for v in values]
    except ValueError:
        raise _Stop(f"{name}: a hash is not hexadecimal") from None


def _stored(name: str, row: Any) -> StoredEntry:
    try:
        body = base64.b64decode(str(row["leaf"]), validate=True)
        index = int(row["index"])
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise _Stop(f"{name}: malformed entry row ({exc})") from None
    try:
        doc = json.loads(body)
        return StoredEntry(index, str(doc["kind"]), str(doc["ts"]), body)
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError):
        raise _Stop(f"{name}: ledger entry {index} is not a valid entry document") from None


_LEDGER = "entries/ledger.jsonl"
_READ = frozenset({
    MANIFEST, "checkpoints/start.json", "checkpoints/end.json", "checkpoints/frontier.json",
    "proofs/consistency.json", "entries/anchors.jsonl",
})  # fmt: skip
"""The files verification reads whole; `entries/ledger.jsonl` is parsed as it is inflated,
and every other file is only compared (by its SHA-256) with what the entries give, so it
is hashed as it is inflated and never held whole (a large pack's are gigabytes)."""

_PIECE = 1 << 24


def _member_digest(z: zipfile.ZipFile, name: str) -> str:
    h = hashlib.sha256()
    with z.open(name) as member:
        while piece := member.read(_PIECE):
            h.update(piece)
    return h.hexdigest()


@dataclass
class _Unzipped:
    files: dict[str, bytes]
    """The files read whole."""
    digests: dict[str, str]
    """Every member's SHA-256."""
    entries: list[StoredEntry]
    bad_row: _Stop | None
    """What is wrong with `entries/ledger.jsonl`'s rows, if anything (raised once the
    manifest has been checked, so that its findings are reported too)."""


def _unzip(data: bytes) -> _Unzipped:
    """The members verification reads, the SHA-256 of every member, and the ledger's
    entries: `entries/ledger.jsonl` inflated, hashed and parsed piece by piece here while a
    second thread inflates and hashes the rest (zlib and hashlib let go of the interpreter
    lock), each with its own reader of the same bytes. Nothing is inflated whole but the
    small files read."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = list(dict.fromkeys(i.filename for i in z.infolist()))

        def read_rest() -> tuple[dict[str, bytes], dict[str, str]]:
            files, digests = {}, {}
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                for name in names:
                    if name in _READ:
                        files[name] = z.read(name)
                        digests[name] = hashlib.sha256(files[name]).hexdigest()
                    elif name != _LEDGER:
                        digests[name] = _member_digest(z, name)
            return files, digests

        with ThreadPoolExecutor(1) as pool:
            rest = pool.submit(read_rest)
            entries, ledger_digest, bad_row = _entries(data, names)
            files, digests = rest.result()
        if ledger_digest is not None:
            digests[_LEDGER] = ledger_digest
        return _Unzipped(files, {name: digests[name] for name in names}, entries, bad_row)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _Stop(f"not a readable zip archive: {exc}") from None


def _inflate(data: bytes, name: str) -> dict[str, bytes]:
    """One member, inflated again (to name what is wrong in it); {} if the pack lacks it."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {name: z.read(name)} if name in z.namelist() else {}


def _manifest(
    files: dict[str, bytes], digests: dict[str, str], report: PackReport
) -> dict[str, Any]:
    """The manifest, and each file checked against it."""
    doc = _load(files, MANIFEST)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise _Stop(f"{MANIFEST}: not a Remit evidence pack manifest (format {FORMAT})")
    listed = doc.get("files") or {}
    for name, meta in sorted(listed.items()):
        if name not in digests:
            report.problems.append(f"{name}: listed in the manifest but missing from the pack")
        elif digests[name] != meta.get("sha256"):
            report.problems.append(f"{name}: SHA-256 differs from the manifest (file changed)")
    for name in sorted(set(digests) - set(listed) - {MANIFEST}):
        report.problems.append(f"{name}: in the pack but not in the manifest")
    return doc


def _open(note: str, key: VerifierKey, size: int, name: str) -> bytes:
    try:
        cp = open_checkpoint(note, [key], expected_origin=key.name)
    except CheckpointError as exc:
        raise _Stop(f"{name}: {exc}") from None
    if cp.size != size:
        raise _Stop(f"{name}: the note signs size {cp.size}, the file says {size}")
    return cp.root


def verify_pack(data: bytes, key: VerifierKey) -> PackReport:
    """Everything about the pack `data`, checked offline with the log's public `key`."""
    report = PackReport()
    try:
        _verify(data, key, report)
    except _Stop as stop:
        report.problems.append(str(stop))
    return report


def _verify(data: bytes, key: VerifierKey, report: PackReport) -> None:
    unzipped = _unzip(data)
    files, digests, entries = unzipped.files, unzipped.digests, unzipped.entries
    doc = _manifest(files, digests, report)
    try:
        framework = str(doc["framework"])
        evidence = [c.evidence for c in controls_of(framework)]
        period = period_of(doc["period"])
    except (KeyError, ValueError, TypeError) as exc:
        raise _Stop(f"{MANIFEST}: {exc}") from None
    start, end = _load(files, "checkpoints/start.json"), _load(files, "checkpoints/end.json")
    s1, s2 = int(start["size"]), int(end["size"])
    end_root = _open(str(end["note"]), key, s2, "checkpoints/end.json")
    frontier_doc = _load(files, "checkpoints/frontier.json")
    frontier = _hashes("checkpoints/frontier.json", frontier_doc.get("hashes", []))
    if s1:
        start_root = _open(str(start["note"]), key, s1, "checkpoints/start.json")
        try:
            start_range = merkle.CompactRange.from_state(s1, frontier)
        except merkle.MerkleError as exc:
            raise _Stop(f"checkpoints/frontier.json: {exc}") from None
        if start_range.root() != start_root:
            raise _Stop("checkpoints/frontier.json: does not give the start checkpoint's root")
        proof = _load(files, "proofs/consistency.json")
        try:
            merkle.verify_consistency(
                s1, s2, _hashes("proofs/consistency.json", proof["proof"]), start_root, end_root
            )
        except merkle.ProofError as exc:
            raise _Stop(f"proofs/consistency.json: {exc}") from None
    if _LEDGER not in digests:
        raise _Stop(f"{_LEDGER}: missing from the pack")
    if unzipped.bad_row is not None:
        raise unzipped.bad_row
    for offset, e in enumerate(entries):
        if e.index != s1 + offset:
            raise _Stop(
                f"entries/ledger.jsonl: ledger entry {s1 + offset} is missing "
                f"(found {e.index} in its place)"
            )
    if s1 + len(entries) != s2:
        raise _Stop(
            f"entries/ledger.jsonl: holds entries up to {s1 + len(entries)}, the end "
            f"checkpoint signs {s2}: ledger entry {s1 + len(entries)} is missing"
        )
    leaf_hashes = [merkle.leaf_hash(e.body) for e in entries]
    consistency = _hashes(
        "proofs/consistency.json", _load(files, "proofs/consistency.json").get("proof", [])
    )
    inputs = PackInputs(
        framework, period, key.name, s1, start.get("note"), s2, str(end["note"]), frontier,
        entries, _anchors(files, s1, s2, end_root, report), {}, consistency, leaf_hashes,
    )  # fmt: skip
    try:
        tree = merkle.SpanTree(s1, frontier, leaf_hashes)
    except merkle.MerkleError as exc:
        raise _Stop(f"checkpoints/frontier.json: {exc}") from None
    anchors = [a for a, _ in inputs.anchors]
    try:
        derived = derive(
            period, evidence, entries, anchors, leaf_hashes, proofs=tree, into="sha256"
        )
    except ValueError as exc:
        raise _Stop(f"entries/ledger.jsonl: {exc}") from None
    found = derived.found
    inclusion = "proofs/inclusion.jsonl"
    if tree.root() != end_root:
        _inclusion(
            _inflate(data, inclusion), found.decisions, leaf_hashes, s1, s2, end_root, report
        )
        raise _Stop(
            f"entries/ledger.jsonl: entries [{s1}, {s2}) do not give the end "
            "checkpoint's root: an entry was changed, removed or added"
        )
    # The entries give the signed root, so the tree built from them is the signed tree and
    # its proofs are the only valid ones: the file must hold exactly them, byte for byte.
    inputs.inclusion = SpanProofs(tree, found.decisions)
    rebuilt = pack_files(build_files(inputs, derived), deflate=False)
    names = sorted(rebuilt)
    expected = {name: rebuilt[name].sha256 for name in names}
    if digests.get(inclusion) != expected[inclusion]:  # name what is wrong
        _inclusion(
            _inflate(data, inclusion), found.decisions, leaf_hashes, s1, s2, end_root, report
        )
    _coverage(entries, inputs.anchors, s1, period.to_dict(), report)
    for name in names:
        if digests.get(name) != expected[name]:
            report.problems.append(f"{name}: differs from what the pack's ledger entries give")
    report.facts = {
        "framework": framework,
        "period": doc["period"],
        "ledger_range": [s1, s2],
        "decisions_in_period": len(found.decisions),
        "entries_in_period": found.entries_in_period,
        "failed_checks": {k: len(v) for k, v in sorted(found.failures.items())},
    }


def _entries(data: bytes, names: list[str]) -> tuple[list[StoredEntry], str | None, _Stop | None]:
    """`entries/ledger.jsonl` as entries (index, kind and time as the rows say: deriving the
    pack's files checks them against each entry's own bytes), its SHA-256, and what is wrong
    with a row (the rest is still hashed); ([], None, None) if the pack lacks it."""
    if _LEDGER not in names:
        return [], None, None
    out: list[StoredEntry] = []
    digest, rest, number, bad = hashlib.sha256(), b"", 0, None
    with zipfile.ZipFile(io.BytesIO(data)) as z, z.open(_LEDGER) as member:
        while True:
            piece = member.read(_PIECE)
            digest.update(piece)
            if bad is None:
                text = rest + piece if rest else piece
                cut = len(text) if not piece else text.rfind(b"\n") + 1
                try:
                    number = _rows(memoryview(text)[:cut], number, out)
                except _Stop as stop:
                    bad = stop
                rest = text[cut:]
            if not piece:
                return out, digest.hexdigest(), bad


def _rows(text: memoryview, number: int, out: list[StoredEntry]) -> int:
    """Append the entries of the whole lines in `text` (the first is line `number + 1`);
    the number of the last line read."""
    pos, end = 0, len(text)
    raw = text.obj
    assert isinstance(raw, bytes)
    while pos < end:
        stop = raw.find(b"\n", pos, end)
        stop = end if stop < 0 else stop
        number += 1
        try:
            row = orjson.loads(text[pos:stop])
        except orjson.JSONDecodeError as exc:
            raise _Stop(f"{_LEDGER} line {number}: not valid JSON ({exc})") from None
        try:
            index, kind, ts = row["index"], row["kind"], row["ts"]
            body = base64.b64decode(row["leaf"], validate=True)
            if type(index) is not int or not isinstance(kind, str) or not isinstance(ts, str):
                raise TypeError("index, kind or ts has the wrong type")
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise _Stop(f"{_LEDGER} line {number}: malformed entry row ({exc})") from None
        out.append(StoredEntry(index, kind, ts, body))
        pos = stop + 1
    return number


def _inclusion(
    files: dict[str, bytes],
    decisions: Sequence[int],
    leaf_hashes: list[bytes],
    s1: int,
    s2: int,
    root: bytes,
    report: PackReport,
) -> None:
    """Each decision's proof from `proofs/inclusion.jsonl`, checked against the signed root
    one by one (to name what is wrong once the fast comparison has failed)."""
    inclusion = {
        int(r["index"]): _hashes("proofs/inclusion.jsonl", r["proof"])
        for r in _lines(files, "proofs/inclusion.jsonl")
    }
    for i in decisions:
        if i not in inclusion:
            report.problems.append(f"proofs/inclusion.jsonl: no proof for decision at index {i}")
            continue
        try:
            merkle.verify_inclusion(leaf_hashes[i - s1], i, s2, inclusion[i], root)
        except merkle.ProofError as exc:
            report.problems.append(
                f"entries/ledger.jsonl: ledger entry {i} is not in the signed log ({exc})"
            )


def _anchors(
    files: dict[str, bytes], s1: int, s2: int, root: bytes, report: PackReport
) -> list[tuple[StoredEntry, list[bytes]]]:
    out = []
    for row in _lines(files, "entries/anchors.jsonl"):
        e = _stored("entries/anchors.jsonl", row)
        proof = _hashes("entries/anchors.jsonl", row.get("proof", []))
        try:
            merkle.verify_inclusion(merkle.leaf_hash(e.body), e.index, s2, proof, root)
        except merkle.ProofError as exc:
            report.problems.append(f"entries/anchors.jsonl: ledger entry {e.index}: {exc}")
        out.append((e, proof))
    return out


def _coverage(
    entries: list[StoredEntry],
    anchors: list[tuple[StoredEntry, list[bytes]]],
    s1: int,
    period: dict[str, str],
    report: PackReport,
) -> None:
    """The pack must reach back before the period and on past its end."""
    if s1:
        before = {e.index: e for e, _ in anchors}.get(s1 - 1)
        if before is None:
            report.problems.append(
                f"entries/anchors.jsonl: ledger entry {s1 - 1} (the last "
                "before the pack's range) is missing"
            )
        elif before.ts >= period["since"]:
            report.problems.append(
                f"incomplete: ledger entry {s1 - 1} ({before.ts}) is in the period but not in "
                "the pack: decisions of the period may be missing"
            )
    last = entries[-1].ts if entries else None
    if last is None or last < period["until"]:
        report.problems.append(
            f"incomplete: the pack's newest entry ({last}) is before the period ends "
            f"({period['until']}): decisions of the period may be missing"
        )
