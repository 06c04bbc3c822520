"""One pass over a pack's entries: each entry read and parsed once, in ledger order, giving
the assessment, the lines of `entries/ledger.jsonl` and `entries/ocsf.jsonl`, the envelope
versions in force and the sign-offs. Large spans are cut into consecutive chunks derived in
forked worker processes (the work is CPU-bound Python) and joined in order, so the result
is the same bytes whatever the number of workers. It makes none of the pack's files: its
only I/O is the private temporary folder through which the chunks' parts come back (the
large ones written line by line and mapped back, not held in memory and copied)."""

from __future__ import annotations

import base64
import contextlib
import gc
import io
import mmap
import multiprocessing
import os
import pickle
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, cast

import orjson

from remit.evidence.archive import FileBody, FilePart, MemberWriter, Packed
from remit.evidence.assess import Assessment, Assessor, Evidence, context
from remit.evidence.jsonl import proof_lines
from remit.evidence.ocsf import OcsfLines, load_models
from remit.ledger.kinds import DecisionRecord, EntryFormatError, SignoffRecord
from remit.ledger.records import Recorded, StoredEntry
from remit.report.period import Period
from remit.tlog import merkle

PARALLEL_FROM = 50_000
"""From this many entries on, the pass is split over the machine's cores (up to two per
chunk of work: forking and joining cost about a second)."""
MAX_WORKERS = 4
CHUNK = 25_000
"""Entries per chunk of a split pass: small enough that the parts waiting to be packed
stay small, large enough that handing one back costs little."""

Into = Literal["bytes", "sha256", "zip"]


class ScratchError(OSError):
    """The pass could not run its workers or keep their parts in the temporary folder (full,
    missing or not writable); the message names the folder and what to do."""


@dataclass
class Derived:
    """What one pass over the entries gives."""

    found: Assessment
    ledger: FileBody
    ocsf: FileBody
    """`ledger` and `ocsf`: the files' consecutive parts, one per chunk of the pass (joining
    them would copy gigabytes for a large pack; hashing and compressing take them as they
    are), or the files packed as the parts came (see `derive`'s `into`)."""
    versions: dict[str, Any]
    signoffs: list[dict[str, Any]]
    inclusion: FileBody | None = None
    """The lines of `proofs/inclusion.jsonl` for the period's decisions (in parts, or
    packed), when a tree to prove them in was given."""


@dataclass
class _Part:
    """What one chunk of consecutive entries gives (joined in ledger order)."""

    found: Assessment
    ledger: FilePart = b""
    ocsf: FilePart = b""
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)
    signoffs: list[dict[str, Any]] = field(default_factory=list)
    inclusion: FilePart | None = None


def signoff_row(got: Recorded[SignoffRecord]) -> dict[str, Any]:
    """A sign-off as `envelope/signoffs.json` lists it."""
    doc = dict(got.record.signoff)
    return {
        "index": got.index, "recorded_at": got.ts, "id": got.record.id,
        "valid_when_recorded": got.record.valid, "problem": got.record.problem,
        "signer": doc.get("signer"), "role": doc.get("role"), "at": doc.get("at"),
        "envelope": doc.get("envelope"),
    }  # fmt: skip


def _part(
    period: Period,
    approvals: dict[str, str],
    applied: set[str],
    evidence: Sequence[Evidence],
    entries: Sequence[StoredEntry],
    hashes: Sequence[bytes],
    proofs: merkle.SpanTree | None,
    out: _Sinks,
) -> _Part:
    """The chunk's part; its lines of the three large files are written to `out` (the part
    holds them empty)."""
    assessor = Assessor(period, approvals, applied, evidence)
    ocsf = OcsfLines()
    got_part = _Part(assessor.result)
    versions = got_part.versions
    ledger, ocsf_lines = out.ledger.write, out.ocsf.write
    dumps, b64, line = orjson.dumps, base64.b64encode, orjson.OPT_APPEND_NEWLINE
    for e, h in zip(entries, hashes, strict=True):
        leaf_hex = h.hex()
        row = {"index": e.index, "kind": e.kind, "ts": e.ts, "leaf": b64(e.body).decode(),
               "leaf_hash": leaf_hex}  # fmt: skip
        ledger(dumps(row, option=line))
        got = e.read()
        if got.ts != e.ts or e.kind != got.record.KIND:
            raise EntryFormatError(
                f"ledger entry {e.index}: its kind or time differ from the entry's own"
            )
        in_period = assessor.add(got)
        rec = got.record
        if isinstance(rec, DecisionRecord) and in_period:
            ocsf_lines(ocsf.line(e, cast(Recorded[DecisionRecord], got), leaf_hex))
            env = rec.decision.get("envelope") or {}
            key = str(env.get("digest"))
            v = versions.setdefault(
                key, {"name": env.get("name"), "version": env.get("version"), "digest": key,
                      "decisions": 0, "first": got.ts, "last": got.ts},
            )  # fmt: skip
            v["decisions"] += 1
            v["last"] = got.ts
        elif isinstance(rec, SignoffRecord):
            got_part.signoffs.append(signoff_row(cast(Recorded[SignoffRecord], got)))
    got_part.found = assessor.finish()
    if proofs is not None and out.proofs is not None:  # the chunk's share of the proofs
        decisions = got_part.found.decisions
        for lo in range(0, len(decisions), _PROOF_BATCH):
            out.proofs.write(proof_lines(proofs, decisions[lo : lo + _PROOF_BATCH]))
    return got_part


_PROOF_BATCH = 20_000
"""Proof lines are made and written this many at a time (a chunk's, made at once, were
a gigabyte of text and its copy as bytes)."""


@dataclass
class _Sinks:
    """Where a chunk's lines of `entries/ledger.jsonl`, `entries/ocsf.jsonl` and
    `proofs/inclusion.jsonl` go (None: no proofs wanted)."""

    ledger: IO[bytes]
    ocsf: IO[bytes]
    proofs: IO[bytes] | None


@dataclass
class _Job:
    """The pass's inputs, inherited by forked workers (nothing is pickled on the way in)."""

    period: Period
    approvals: dict[str, str]
    applied: set[str]
    evidence: Sequence[Evidence]
    entries: Sequence[StoredEntry]
    hashes: Sequence[bytes]
    proofs: merkle.SpanTree | None

    def part(self, lo: int, hi: int, out: _Sinks) -> _Part:
        return _part(self.period, self.approvals, self.applied, self.evidence,
                     self.entries[lo:hi], self.hashes[lo:hi], self.proofs, out)  # fmt: skip

    def in_memory(self) -> _Part:
        """The whole pass in this process, its files held in memory."""
        ledger, ocsf = io.BytesIO(), io.BytesIO()
        proofs = io.BytesIO() if self.proofs is not None else None
        got = self.part(0, len(self.entries), _Sinks(ledger, ocsf, proofs))
        got.ledger, got.ocsf = ledger.getvalue(), ocsf.getvalue()
        got.inclusion = proofs.getvalue() if proofs is not None else None
        return got


_JOB: tuple[_Job, Path] | None = None
"""The job and the private folder where each chunk's part is left."""

_FILES = ("ledger", "ocsf", "proofs")
_BUFFER = 1 << 20


def _chunk(bounds: tuple[int, int]) -> str:
    """In a worker: derive one chunk and leave its part in the job's folder: the lines of
    the three large files each in a file of their own, written as they are made, and the
    rest pickled beside them; "" or why an entry does not parse. A part is gigabytes for a
    large pack: built in memory, pickled and read back, it was copied three times, and on
    this kind of machine touching fresh memory is much of the cost."""
    assert _JOB is not None
    job, folder = _JOB
    lo, hi = bounds
    with contextlib.ExitStack() as stack:
        ledger, ocsf, proofs = (
            stack.enter_context((folder / f"{lo}.{name}").open("wb", buffering=_BUFFER))
            for name in _FILES
        )
        try:
            part = job.part(lo, hi, _Sinks(ledger, ocsf, proofs if job.proofs else None))
        except ValueError as exc:
            return str(exc)
    with (folder / f"{lo}.part").open("wb") as fh:
        pickle.dump(part, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return ""


def _load_part(folder: Path, lo: int, proofs: bool) -> _Part:
    """A chunk's part, its three large files mapped from the folder rather than read (they
    stay mapped after the folder is removed, until the last view of them goes)."""
    with (folder / f"{lo}.part").open("rb") as fh:
        part: _Part = pickle.load(fh)  # noqa: S301 - our own worker wrote it, in our private folder
    part.ledger, part.ocsf = _mapped(folder / f"{lo}.ledger"), _mapped(folder / f"{lo}.ocsf")
    part.inclusion = _mapped(folder / f"{lo}.proofs") if proofs else None
    return part


def _mapped(path: Path) -> FilePart:
    with path.open("rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            return b""
        return memoryview(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ))


def workers_for(count: int) -> int:
    """How many processes a pass over `count` entries uses."""
    if count < PARALLEL_FROM or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


def scratch_folder(need: int) -> str | None:
    """Where the pass keeps its parts: the TMPDIR the user set, else a memory-backed
    /dev/shm with room for `need` bytes (the parts are mapped back at once: on disk they
    would be written out for nothing), else the system's temporary folder (None)."""
    if os.environ.get("TMPDIR"):
        return None
    try:
        shm = os.statvfs(_SHM)
    except OSError:
        return None
    room = shm.f_bavail * shm.f_frsize
    return _SHM if room > need and os.access(_SHM, os.W_OK | os.X_OK) else None


_SHM = "/dev/shm"  # noqa: S108 - only as the parent of a private mkdtemp folder


def derive(
    period: Period,
    evidence: Sequence[Evidence],
    entries: Sequence[StoredEntry],
    anchors: Sequence[StoredEntry],
    hashes: Sequence[bytes] | None = None,
    workers: int | None = None,
    proofs: merkle.SpanTree | None = None,
    into: Into = "bytes",
) -> Derived:
    """Everything the entries give for `period` (`evidence`: each control's evidence
    classes, whose CSV rows are wanted; `anchors`: entries before them that the pack holds,
    for their sign-offs; `proofs`: the tree in which to prove the period's decisions, if
    their proofs are wanted). A pass split over workers gives the three large files as
    `into` says: their bytes, or packed as they are made ("sha256": digests only; "zip":
    deflated too, for an archive without ZIP64 records). EntryFormatError (a ValueError)
    names a bad entry."""
    hashes = hashes if hashes is not None else [merkle.leaf_hash(e.body) for e in entries]
    approvals, applied = context(entries)
    n = workers_for(len(entries)) if workers is None else max(1, workers)
    job = _Job(period, approvals, applied, evidence, entries, hashes, proofs)
    if n == 1:
        got: _Joined = ([job.in_memory()], None)
    else:
        load_models()  # once, before forking, rather than in every worker
        if proofs is not None:
            proofs.hex_levels()  # likewise
        step = min(-(-len(entries) // n), CHUNK)
        bounds = [(lo, min(lo + step, len(entries))) for lo in range(0, len(entries), step)]
        root = scratch_folder(_SCRATCH_PER_BYTE * sum(len(e.body) for e in entries))
        try:
            got = _split(job, bounds, n, root, into)
        except OSError as exc:
            raise ScratchError(
                f"the pass over {len(entries):,} entries could not run its workers or keep "
                f"their parts in {root or tempfile.gettempdir()} ({exc.strerror or exc}): "
                "free space there or set TMPDIR to a folder with room for about "
                f"{_SCRATCH_PER_BYTE} times the entries"
            ) from None
    return _join(got, [a for a in anchors if a.kind == "signoff"])


_SCRATCH_PER_BYTE = 5
"""The parts of a pack hold about four bytes per byte of its entries (the ledger lines in
base64, OCSF events, proofs, CSV rows); packed as they come they are deleted sooner, but
the workers may run ahead of the packing, so room for all of them is asked."""


def _split(
    job: _Job, bounds: list[tuple[int, int]], workers: int, root: str | None, into: Into
) -> _Joined:
    """The parts of `bounds`' chunks, derived by forked workers that leave them in a private
    temporary folder, and (unless `into` is "bytes") the three large files packed by this
    process as the parts come, in order, each part's files deleted once packed (so a large
    pack's files are never held whole). The collector is frozen meanwhile: its full passes
    would visit every object of the parent's heap (the entries), so each process would copy
    pages it only read."""
    global _JOB
    proofs = job.proofs is not None
    with tempfile.TemporaryDirectory(prefix="remit-pack-", dir=root) as name:
        folder = Path(name)
        _JOB = (job, folder)
        gc.freeze()
        try:
            with multiprocessing.get_context("fork").Pool(min(workers, len(bounds))) as pool:
                done = pool.imap(_chunk, bounds)
                if into == "bytes":
                    problems = list(done)
                    if any(problems):
                        raise EntryFormatError(next(p for p in problems if p))
                    return [_load_part(folder, lo, proofs) for lo, _ in bounds], None
                return _packed_parts(folder, bounds, done, proofs, deflate=into == "zip")
        finally:
            _JOB = None
            gc.unfreeze()


def _packed_parts(
    folder: Path, bounds: list[tuple[int, int]], done: Iterator[str], proofs: bool, deflate: bool
) -> _Joined:
    writers = [MemberWriter(deflate) for _ in range(3 if proofs else 2)]
    parts = []
    for (lo, _), problem in zip(bounds, done, strict=True):
        if problem:
            raise EntryFormatError(problem)
        part = _load_part(folder, lo, proofs)
        views = [part.ledger, part.ocsf, part.inclusion][: len(writers)]
        for writer, view in zip(writers, views, strict=True):
            assert view is not None
            writer.write(view)
            _unmap(view)
        part.ledger = part.ocsf = b""
        part.inclusion = None
        for file in folder.glob(f"{lo}.*"):
            file.unlink()
        parts.append(part)
    packed = [w.close() for w in writers]
    return parts, (packed[0], packed[1], packed[2] if proofs else None)


def _unmap(view: FilePart) -> None:
    """Let a mapped part's memory go now (its file is about to be deleted)."""
    if isinstance(view, memoryview):
        mapping = view.obj
        view.release()
        assert isinstance(mapping, mmap.mmap)
        mapping.close()


_Joined = tuple[list[_Part], tuple[Packed, Packed, Packed | None] | None]
"""The chunks' parts, and the three large files packed (None: they are in the parts)."""


def _join(got: _Joined, anchor_signoffs: list[StoredEntry]) -> Derived:
    parts, packed = got
    versions: dict[str, dict[str, Any]] = {}
    signoffs = [signoff_row(a.read_as(SignoffRecord)) for a in anchor_signoffs]
    for p in parts:
        for key, v in p.versions.items():
            have = versions.get(key)
            if have is None:
                versions[key] = dict(v)
            else:
                have["decisions"] += v["decisions"]
                have["last"] = v["last"]
        signoffs.extend(p.signoffs)
    ledger: FileBody
    ocsf: FileBody
    inclusion: FileBody | None
    if packed is not None:
        ledger, ocsf, inclusion = packed
    else:
        ledger, ocsf = tuple(p.ledger for p in parts), tuple(p.ocsf for p in parts)
        inclusion = None if parts[0].inclusion is None else tuple(p.inclusion or b"" for p in parts)
    return Derived(
        Assessment.join([p.found for p in parts]),
        ledger,
        ocsf,
        {"versions_in_force": sorted(versions.values(), key=lambda v: str(v["first"]))},
        sorted(signoffs, key=lambda s: int(s["index"])),
        inclusion,
    )
