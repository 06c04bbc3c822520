"""One pass over a pack's entries: each entry read and parsed once, in ledger order, giving
the assessment, the lines of `entries/ledger.jsonl` and `entries/ocsf.jsonl`, the envelope
versions in force and the sign-offs. Large spans are cut into consecutive chunks derived in
forked worker processes (the work is CPU-bound Python) and joined in order, so the result
is the same bytes whatever the number of workers. It makes no file and does no I/O."""

from __future__ import annotations

import base64
import io
import multiprocessing
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import orjson

from remit.evidence.assess import Assessment, Assessor, context
from remit.evidence.ocsf import OcsfLines, load_models
from remit.ledger.kinds import DecisionRecord, EntryFormatError, SignoffRecord
from remit.ledger.records import Recorded, StoredEntry
from remit.report.period import Period
from remit.tlog import merkle

PARALLEL_FROM = 50_000
"""From this many entries on, the pass is split over the machine's cores (up to two per
chunk of work: forking and joining cost about a second)."""
MAX_WORKERS = 4


@dataclass
class Derived:
    """What one pass over the entries gives."""

    found: Assessment
    ledger: bytes
    ocsf: bytes
    versions: dict[str, Any]
    signoffs: list[dict[str, Any]]


@dataclass
class _Part:
    """What one chunk of consecutive entries gives (joined in ledger order)."""

    found: Assessment
    ledger: bytes = b""
    ocsf: bytes = b""
    versions: dict[str, dict[str, Any]] = field(default_factory=dict)
    signoffs: list[dict[str, Any]] = field(default_factory=list)


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
    entries: Sequence[StoredEntry],
    hashes: Sequence[bytes],
) -> _Part:
    assessor = Assessor(period, approvals, applied)
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
    out.ledger, out.ocsf = ledger.getvalue(), ocsf_lines.getvalue()
    return out


_JOB: tuple[Period, dict[str, str], set[str], Sequence[StoredEntry], Sequence[bytes]] | None = None
"""The pass's inputs, inherited by forked workers (nothing is pickled on the way in)."""


def _chunk(bounds: tuple[int, int]) -> _Part | str:
    assert _JOB is not None
    period, approvals, applied, entries, hashes = _JOB
    lo, hi = bounds
    try:
        return _part(period, approvals, applied, entries[lo:hi], hashes[lo:hi])
    except ValueError as exc:  # an entry that does not parse: the parent raises it
        return str(exc)


def workers_for(count: int) -> int:
    """How many processes a pass over `count` entries uses."""
    if count < PARALLEL_FROM or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(MAX_WORKERS, os.cpu_count() or 1))


def derive(
    period: Period,
    entries: Sequence[StoredEntry],
    anchors: Sequence[StoredEntry],
    hashes: Sequence[bytes] | None = None,
    workers: int | None = None,
) -> Derived:
    """Everything the entries give for `period` (`anchors`: entries before them that the
    pack holds, for their sign-offs). EntryFormatError (a ValueError) names a bad entry."""
    global _JOB
    hashes = hashes if hashes is not None else [merkle.leaf_hash(e.body) for e in entries]
    approvals, applied = context(entries)
    n = workers_for(len(entries)) if workers is None else max(1, workers)
    if n == 1:
        parts = [_part(period, approvals, applied, entries, hashes)]
    else:
        load_models()  # once, before forking, rather than in every worker
        step = -(-len(entries) // n)
        bounds = [(lo, min(lo + step, len(entries))) for lo in range(0, len(entries), step)]
        _JOB = (period, approvals, applied, entries, hashes)
        try:
            with multiprocessing.get_context("fork").Pool(len(bounds) - 1) as pool:
                pending = pool.map_async(_chunk, bounds[1:])
                first = _chunk(bounds[0])  # the parent does a share too
                got = [first, *pending.get()]
        finally:
            _JOB = None
        for g in got:
            if isinstance(g, str):
                raise EntryFormatError(g)
        parts = cast(list[_Part], got)
    return _join(parts, [a for a in anchors if a.kind == "signoff"])


def _join(parts: list[_Part], anchor_signoffs: list[StoredEntry]) -> Derived:
    found = Assessment()
    versions: dict[str, dict[str, Any]] = {}
    signoffs = [signoff_row(a.read_as(SignoffRecord)) for a in anchor_signoffs]
    for p in parts:
        f = p.found
        for c, rows in f.rows.items():
            found.rows.setdefault(c, []).extend(rows)
        for check, items in f.failures.items():
            found.failures.setdefault(check, []).extend(items)
        found.decisions.extend(f.decisions)
        found.entries_in_period += f.entries_in_period
        found.ordered.extend(f.ordered)
        for key, v in p.versions.items():
            have = versions.get(key)
            if have is None:
                versions[key] = dict(v)
            else:
                have["decisions"] += v["decisions"]
                have["last"] = v["last"]
        signoffs.extend(p.signoffs)
    return Derived(
        found,
        parts[0].ledger if len(parts) == 1 else b"".join([p.ledger for p in parts]),
        parts[0].ocsf if len(parts) == 1 else b"".join([p.ocsf for p in parts]),
        {"versions_in_force": sorted(versions.values(), key=lambda v: str(v["first"]))},
        sorted(signoffs, key=lambda s: int(s["index"])),
    )
