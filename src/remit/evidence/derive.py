"""One pass over a pack's entries: each entry read and parsed once, in ledger order, giving
the assessment, the lines of `entries/ledger.jsonl` and `entries/ocsf.jsonl`, the envelope
versions in force and the sign-offs. Large spans are cut into consecutive chunks derived in
forked worker processes (the work is CPU-bound Python) and joined in order, so the result
is the same bytes whatever the number of workers. It makes none of the pack's files: its
only I/O is the private temporary folder through which workers hand their parts back."""

from __future__ import annotations

import base64
import io
import multiprocessing
import os
import pickle
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import orjson

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


class ScratchError(OSError):
    """The pass could not run its workers or keep their parts in the temporary folder (full,
    missing or not writable); the message names the folder and what to do."""


@dataclass
class Derived:
    """What one pass over the entries gives."""

    found: Assessment
    ledger: tuple[bytes, ...]
    ocsf: tuple[bytes, ...]
    """`ledger` and `ocsf`: the files' consecutive parts, one per chunk of the pass (joining
    them would copy gigabytes for a large pack; hashing and compressing take them as they are)."""
    versions: dict[str, Any]
    signoffs: list[dict[str, Any]]
    inclusion: tuple[bytes, ...] | None = None
    """The lines of `proofs/inclusion.jsonl` for the period's decisions, in parts, when a
    tree to prove them in was given."""


@dataclass
class _Part:
    """What one chunk of consecutive entries gives (joined in ledger order)."""

    found: Assessment
    ledger: bytes = b""
    ocsf: bytes = b""
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)
    signoffs: list[dict[str, Any]] = field(default_factory=list)
    inclusion: bytes | None = None


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
) -> _Part:
    assessor = Assessor(period, approvals, applied, evidence)
    ocsf = OcsfLines()
    out = _Part(assessor.result)
    versions = out.versions
    ledger, ocsf_lines = io.BytesIO(), io.BytesIO()  # no list of a million lines to join
    dumps, b64, line = orjson.dumps, base64.b64encode, orjson.OPT_APPEND_NEWLINE
    for e, h in zip(entries, hashes, strict=True):
        leaf_hex = h.hex()
        row = {"index": e.index, "kind": e.kind, "ts": e.ts, "leaf": b64(e.body).decode(),
               "leaf_hash": leaf_hex}  # fmt: skip
        ledger.write(dumps(row, option=line))
        got = e.read()
        if got.ts != e.ts or e.kind != got.record.KIND:
            raise EntryFormatError(
                f"ledger entry {e.index}: its kind or time differ from the entry's own"
            )
        in_period = assessor.add(got)
        rec = got.record
        if isinstance(rec, DecisionRecord) and in_period:
            ocsf_lines.write(ocsf.line(e, cast(Recorded[DecisionRecord], got), leaf_hex))
            env = rec.decision.get("envelope") or {}
            key = str(env.get("digest"))
            v = versions.setdefault(
                key, {"name": env.get("name"), "version": env.get("version"), "digest": key,
                      "decisions": 0, "first": got.ts, "last": got.ts},
            )  # fmt: skip
            v["decisions"] += 1
            v["last"] = got.ts
        elif isinstance(rec, SignoffRecord):
            out.signoffs.append(signoff_row(cast(Recorded[SignoffRecord], got)))
    out.found = assessor.finish()
    out.ledger, out.ocsf = ledger.getvalue(), ocsf_lines.getvalue()
    if proofs is not None:  # the chunk's share of the proofs, beside its share of the rest
        out.inclusion = proof_lines(proofs, out.found.decisions)
    return out


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

    def part(self, lo: int, hi: int) -> _Part:
        return _part(self.period, self.approvals, self.applied, self.evidence,
                     self.entries[lo:hi], self.hashes[lo:hi], self.proofs)  # fmt: skip


_JOB: tuple[_Job, Path] | None = None
"""The job and the private folder where each worker leaves what its chunk gives."""


def _chunk(bounds: tuple[int, int]) -> tuple[str, str]:
    """In a worker: derive one chunk and leave its part in a file of the job's folder;
    (that file, "") or ("", why an entry does not parse). A part is hundreds of megabytes
    for a large pack: handed back through the pool's pipe it was pickled, sent in pieces and
    unpickled by a thread of the parent while the parent derived its own chunk (measured:
    3.5 s of a 9 s pass over 210,000 entries); a file costs a write and a read."""
    assert _JOB is not None
    job, folder = _JOB
    try:
        part = job.part(*bounds)
    except ValueError as exc:
        return "", str(exc)
    path = folder / f"{bounds[0]}.part"
    with path.open("wb") as fh:
        pickle.dump(part, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return str(path), ""


def _load_part(path: str) -> _Part:
    with Path(path).open("rb") as fh:
        part: _Part = pickle.load(fh)  # noqa: S301 - our own worker wrote it, in our private folder
    return part


def workers_for(count: int) -> int:
    """How many processes a pass over `count` entries uses."""
    if count < PARALLEL_FROM or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


def derive(
    period: Period,
    evidence: Sequence[Evidence],
    entries: Sequence[StoredEntry],
    anchors: Sequence[StoredEntry],
    hashes: Sequence[bytes] | None = None,
    workers: int | None = None,
    proofs: merkle.SpanTree | None = None,
) -> Derived:
    """Everything the entries give for `period` (`evidence`: each control's evidence
    classes, whose CSV rows are wanted; `anchors`: entries before them that the pack holds,
    for their sign-offs; `proofs`: the tree in which to prove the period's decisions, if
    their proofs are wanted). EntryFormatError (a ValueError) names a bad entry."""
    hashes = hashes if hashes is not None else [merkle.leaf_hash(e.body) for e in entries]
    approvals, applied = context(entries)
    n = workers_for(len(entries)) if workers is None else max(1, workers)
    if n == 1:
        parts = [_part(period, approvals, applied, evidence, entries, hashes, proofs)]
    else:
        load_models()  # once, before forking, rather than in every worker
        if proofs is not None:
            proofs.hex_levels()  # likewise
        step = -(-len(entries) // n)
        bounds = [(lo, min(lo + step, len(entries))) for lo in range(0, len(entries), step)]
        job = _Job(period, approvals, applied, evidence, entries, hashes, proofs)
        try:
            parts = _split(job, bounds)
        except OSError as exc:
            raise ScratchError(
                f"the pass over {len(entries):,} entries could not run its workers or keep "
                f"their parts in {tempfile.gettempdir()} ({exc.strerror or exc}): free space "
                "there or set TMPDIR to a folder with room for about three times the entries"
            ) from None
    return _join(parts, [a for a in anchors if a.kind == "signoff"])


def _split(job: _Job, bounds: list[tuple[int, int]]) -> list[_Part]:
    """The parts of `bounds`' chunks: the first derived here, the rest by forked workers
    that leave theirs in a private temporary folder."""
    global _JOB
    with tempfile.TemporaryDirectory(prefix="remit-pack-") as folder:
        _JOB = (job, Path(folder))
        try:
            with multiprocessing.get_context("fork").Pool(len(bounds) - 1) as pool:
                pending = pool.map_async(_chunk, bounds[1:])
                try:  # the parent does the first chunk itself
                    first: _Part | str = job.part(*bounds[0])
                except ValueError as exc:
                    first = str(exc)
                done = pending.get()
        finally:
            _JOB = None
        problems = [first] if isinstance(first, str) else []
        problems += [why for _, why in done if why]
        if problems:
            raise EntryFormatError(problems[0])
        return [cast(_Part, first), *(_load_part(path) for path, _ in done)]


def _join(parts: list[_Part], anchor_signoffs: list[StoredEntry]) -> Derived:
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
    return Derived(
        Assessment.join([p.found for p in parts]),
        tuple(p.ledger for p in parts),
        tuple(p.ocsf for p in parts),
        {"versions_in_force": sorted(versions.values(), key=lambda v: str(v["first"]))},
        sorted(signoffs, key=lambda s: int(s["index"])),
        None if parts[0].inclusion is None else tuple(p.inclusion or b"" for p in parts),
    )
