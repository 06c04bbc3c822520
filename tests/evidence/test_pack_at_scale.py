"""Evidence packs past the in-memory threshold (proofs from the span tree, OCSF through the
fast path): byte-for-byte deterministic; every OCSF line equals the event pydantic-ocsf
validates; the proofs and the entries file equal the store's and the JSONL export's; and
tampering with a proof, a proof line or an entry row's time fails naming the index."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.server.conftest import Pki

from remit.domain.clock import ts_text
from remit.evidence.archive import MANIFEST, to_zip, zipfile_archive
from remit.evidence.controls import controls_of
from remit.evidence.jsonl import json_line
from remit.evidence.pack import IN_MEMORY_FROM, SpanProofs, gather, make_pack
from remit.evidence.verify import verify_pack
from remit.ledger.export import ocsf_event, write_jsonl
from remit.ledger.kinds import ApprovalResolution, ApprovalTerms, DecisionRecord
from remit.ledger.log import Ledger
from remit.ledger.records import NewEntry, make_entry
from remit.ledger.sqlite_store import SqliteStore
from remit.report.period import parse_period
from remit.tlog.merkle import CompactRange, SpanTree, leaf_hash

OCT = datetime(2026, 10, 25, tzinfo=UTC)
TIERS = ("autonomous", "notify", "approve", "deny")


def _decision(i: int, at: datetime) -> DecisionRecord:
    """Decisions of every tier and of varied shapes: tags or not, several resources, on
    behalf of someone, no workflow, no reasoning, non-ASCII text."""
    tier = TIERS[i % 4]
    d = {
        "id": f"dec_{i:05d}", "tier": tier, "allowed": tier in ("autonomous", "notify"),
        "reasons": [{"code": "RULE_MATCHED", "message": "Matched R1"}] * (1 + i % 2),
        "rules": ["R1"], "envelope": {"name": "env", "version": 1 + i % 2, "digest": "sha256:0"},
        "decided_at": ts_text(at), "agent": f"agent-{i % 3}", "action": "iam:GetRole",
    }  # fmt: skip
    resources = [{"arn": f"arn:aws:iam::1:role/r{i}", "tags": {"team": "é"} if i % 5 else {}}]
    resources += [{"arn": "arn:aws:iam::1:role/x", "tags": {}}] * (i % 7 == 0)
    request: dict[str, Any] = {"agent": d["agent"], "action": d["action"], "resources": resources,
                               "origin": "ai" if i % 6 else "human"}  # fmt: skip
    if i % 3:
        request["reasoning"] = {"summary": f"résumé {i} <script>", "confidence": 0.5 + i % 5 / 10}
    if i % 4 != 1:
        request["provenance"] = {"workflow": {"name": "w", "run": f"r{i}", "step": "s"}}
    if i % 9 == 0:
        request["on_behalf_of"] = "alice@example.com"
    terms = ApprovalTerms("sha256:" + "0" * 64, at + timedelta(hours=1))
    return DecisionRecord(d, request, terms if tier == "approve" else None)


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> SqliteStore:
    """October (40 decisions, then a signed checkpoint), November (300), December (3)."""
    store = SqliteStore(tmp_path_factory.mktemp("scale") / "remit.db")
    at = OCT
    for i in range(343):
        if i == 40:
            Ledger(store, pki.log).checkpoint(datetime(2026, 10, 31, tzinfo=UTC))
            at = datetime(2026, 11, 1, tzinfo=UTC)
        if i == 340:
            at = datetime(2026, 12, 1, 1, tzinfo=UTC)
        rec = _decision(i, at)
        batch: list[NewEntry] = [make_entry(rec, at, f"agent:{rec.agent}#k")]
        if rec.approval is not None:
            answer = ApprovalResolution(rec.id, "approved", "ok", rec.approval.request_digest,
                                        rec.agent, rec.action, rec.rules)  # fmt: skip
            batch.append(make_entry(answer, at + timedelta(seconds=5), "approver:bob#k"))
        store.append(batch)
        at += timedelta(minutes=90)
    Ledger(store, pki.log).checkpoint(datetime(2026, 12, 2, tzinfo=UTC))
    return store


@pytest.fixture(scope="module")
def pack(ledger: SqliteStore, pki: Pki) -> bytes:
    end = ledger.latest_checkpoint()
    assert end is not None
    return make_pack(gather(ledger, "soc2", parse_period("2026-11"), pki.log.name, end))


def _files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def _repack(files: dict[str, bytes]) -> bytes:
    doc = json.loads(files[MANIFEST])
    for name, body in files.items():
        if name != MANIFEST:
            doc["files"][name] = {"sha256": hashlib.sha256(body).hexdigest(), "size": len(body)}
    return to_zip({**files, MANIFEST: (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()})


def test_the_pack_is_deterministic_and_verifies(ledger: SqliteStore, pki: Pki, pack: bytes) -> None:
    end = ledger.latest_checkpoint()
    assert end is not None
    inputs = gather(ledger, "soc2", parse_period("2026-11"), pki.log.name, end)
    assert isinstance(inputs.inclusion, SpanProofs) and len(inputs.inclusion) >= IN_MEMORY_FROM
    assert make_pack(inputs) == pack
    report = verify_pack(pack, pki.log.verifier())
    assert report.ok, report.problems
    assert report.facts["decisions_in_period"] == 300
    assert inputs.start_size > 0  # it starts at October's checkpoint


def test_proofs_and_entries_equal_the_stores_and_the_export(
    ledger: SqliteStore, pack: bytes
) -> None:
    files = _files(pack)
    lines = files["proofs/inclusion.jsonl"].splitlines(keepends=True)
    size = ledger.size()
    assert len(lines) == 300
    for line in lines:
        i = json.loads(line)["index"]
        assert line == json_line(
            {"index": i, "proof": [h.hex() for h in ledger.inclusion_proof(i, size)]}
        )
    start = json.loads(files["checkpoints/start.json"])["size"]
    out = io.StringIO()
    write_jsonl(ledger.entries(start, size), out)
    assert files["entries/ledger.jsonl"] == out.getvalue().encode()


def test_every_ocsf_line_is_the_event_pydantic_ocsf_validates(
    ledger: SqliteStore, pack: bytes
) -> None:
    files = _files(pack)
    start = json.loads(files["checkpoints/start.json"])["size"]
    cited = [json.loads(line)["index"] for line in files["proofs/inclusion.jsonl"].splitlines()]
    expected = [json_line(ocsf_event(e, e.document())) for e in map(ledger.entry, cited)]
    got = files["entries/ocsf.jsonl"].splitlines(keepends=True)
    assert got == expected
    assert start <= cited[0]
    assert {json.loads(line)["severity_id"] for line in got} == {1, 2, 3, 4}


def test_a_wrong_or_missing_proof_fails_naming_the_index(pack: bytes, pki: Pki) -> None:
    files = _files(pack)
    lines = files["proofs/inclusion.jsonl"].splitlines(keepends=True)
    gone = json.loads(lines[5])["index"]
    row = json.loads(lines[9])
    row["proof"][0] = "00" * 32
    bad = dict(files)
    bad["proofs/inclusion.jsonl"] = b"".join([*lines[:5], *lines[6:9], json_line(row), *lines[10:]])
    problems = verify_pack(_repack(bad), pki.log.verifier()).problems
    assert f"proofs/inclusion.jsonl: no proof for decision at index {gone}" in problems
    assert any(p.startswith(f"entries/ledger.jsonl: ledger entry {row['index']} is not in the "
                            "signed log") for p in problems), problems  # fmt: skip
    extra = dict(files)
    extra["proofs/inclusion.jsonl"] = files["proofs/inclusion.jsonl"] + lines[0]
    problems = verify_pack(_repack(extra), pki.log.verifier()).problems
    assert problems == [
        "proofs/inclusion.jsonl: differs from what the pack's ledger entries give"
    ], problems


def test_an_entry_row_whose_time_is_not_its_entrys_fails(pack: bytes, pki: Pki) -> None:
    files = _files(pack)
    lines = files["entries/ledger.jsonl"].splitlines(keepends=True)
    row = json.loads(lines[-1])
    row["ts"] = "2027-01-01T00:00:00.000000Z"  # to pass for coverage past the period's end
    files["entries/ledger.jsonl"] = b"".join(
        [*lines[:-1], json.dumps(row, separators=(",", ":")).encode() + b"\n"]
    )
    problems = verify_pack(_repack(files), pki.log.verifier()).problems
    assert any(f"ledger entry {row['index']}: its kind or time differ" in p for p in problems), (
        problems
    )


def test_pydantic_ocsf_sees_one_event_per_shape_and_the_rest_match_it(ledger: SqliteStore) -> None:
    from remit.evidence.ocsf import OcsfLines
    from remit.ledger.kinds import DecisionRecord as D
    from remit.tlog.merkle import leaf_hash

    lines = OcsfLines()
    decisions = [e for e in ledger.entries(0, ledger.size()) if e.kind == "decision"]
    for e in decisions:
        got = e.read_as(D)
        line = lines.line(e, got, leaf_hash(e.body).hex())
        assert line == json_line(ocsf_event(e, e.document()))
    assert 4 <= lines.validated < len(decisions) / 4  # one per shape, far fewer than events


def _assessed(d: Any) -> tuple[Any, ...]:
    """A pass's assessment (CSV parts joined), envelope versions and sign-offs."""
    f = d.found
    rows = {ev: b"".join(parts) for ev, parts in f.csv_rows.items()}
    found = (rows, f.cited, f.failures, f.decisions, f.entries_in_period)
    return found, d.versions, d.signoffs


def _joined(d: Any) -> tuple[Any, ...]:
    """A pass's result with its parts joined (the cuts differ with the number of workers)."""
    proofs = None if d.inclusion is None else b"".join(d.inclusion)
    return b"".join(d.ledger), b"".join(d.ocsf), *_assessed(d), proofs


@pytest.mark.parametrize("workers", [2, 3])
def test_the_pass_split_over_processes_gives_the_same_result(
    ledger: SqliteStore, workers: int
) -> None:
    from remit.evidence.derive import derive

    entries = list(ledger.entries(0, ledger.size()))
    anchors = entries[:30]
    period = parse_period("2026-11")
    evidence = [c.evidence for c in controls_of("soc2")]
    frontier = list(CompactRange.from_reader(30, ledger).hashes)
    tree = SpanTree(30, frontier, [leaf_hash(e.body) for e in entries[30:]])
    one = derive(period, evidence, entries[30:], anchors, workers=1, proofs=tree)
    split = derive(period, evidence, entries[30:], anchors, workers=workers, proofs=tree)
    assert _joined(split) == _joined(one)
    assert one.found.decisions and one.found.failures == {} and one.signoffs == []
    assert split.inclusion is not None and len(split.inclusion) == workers
    proven = [json.loads(line) for line in b"".join(split.inclusion).splitlines()]
    assert [p["index"] for p in proven] == list(one.found.decisions)
    for p in proven:  # each line is the proof the store gives for that decision
        assert p["proof"] == [h.hex() for h in ledger.inclusion_proof(p["index"], ledger.size())]
    assert len(b"".join(one.ledger).splitlines()) == len(entries) - 30
    assert len(split.ledger) == workers  # one part per chunk, never joined


@pytest.mark.parametrize(("workers", "chunk"), [(2, 7), (3, 1000)])
def test_packed_as_made_the_files_hash_and_deflate_as_their_bytes_do(
    ledger: SqliteStore, monkeypatch: pytest.MonkeyPatch, workers: int, chunk: int
) -> None:
    """Split over workers, the three large files are hashed (and deflated) as the chunks
    come back, in ledger order, chunk by chunk (7 entries a chunk: dozens of chunks)."""
    import zlib

    from remit.evidence import derive as pass_
    from remit.evidence.archive import COMPRESS_LEVEL, Packed

    monkeypatch.setattr(pass_, "CHUNK", chunk)
    entries = list(ledger.entries(30, ledger.size()))
    frontier = list(CompactRange.from_reader(30, ledger).hashes)
    tree = SpanTree(30, frontier, [leaf_hash(e.body) for e in entries])
    args = (parse_period("2026-11"), [c.evidence for c in controls_of("soc2")], entries, [])
    raw = pass_.derive(*args, workers=1, proofs=tree)
    for into in ("sha256", "zip"):
        got = pass_.derive(*args, workers=workers, proofs=tree, into=into)  # type: ignore[arg-type]
        assert _assessed(got) == _assessed(raw)
        for parts, packed in ((raw.ledger, got.ledger), (raw.ocsf, got.ocsf),
                              (raw.inclusion, got.inclusion)):  # fmt: skip
            body = b"".join(parts)
            assert isinstance(packed, Packed) and body
            assert (packed.sha256, packed.size) == (hashlib.sha256(body).hexdigest(), len(body))
            if into == "zip":
                z = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, -15)
                assert packed.deflated == z.compress(body) + z.flush()
                assert packed.crc == zlib.crc32(body)
            else:
                assert packed.deflated is None


def test_a_pack_split_over_workers_is_the_same_archive_and_verifies(
    ledger: SqliteStore, pki: Pki, pack: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from remit.evidence import derive as pass_

    monkeypatch.setattr(pass_, "PARALLEL_FROM", 1)  # written and verified by the split pass
    monkeypatch.setattr(pass_, "CHUNK", 11)
    end = ledger.latest_checkpoint()
    assert end is not None
    split = make_pack(gather(ledger, "soc2", parse_period("2026-11"), pki.log.name, end))
    assert split == pack
    report = verify_pack(split, pki.log.verifier())
    assert report.ok and report.facts["decisions_in_period"] == 300, report.problems
    files = _files(split)
    files["controls/CC6.1.csv"] += b"1,x,decision,,,,,\n"  # a forged row the entries do not give
    problems = verify_pack(_repack(files), pki.log.verifier()).problems
    assert problems == ["controls/CC6.1.csv: differs from what the pack's ledger entries give"]


def test_a_bad_entry_in_a_worker_is_named(ledger: SqliteStore) -> None:
    from remit.evidence.derive import derive
    from remit.ledger.kinds import EntryFormatError
    from remit.ledger.records import StoredEntry

    entries = list(ledger.entries(0, ledger.size()))
    e = entries[-3]
    entries[-3] = StoredEntry(e.index, e.kind, e.ts, e.body.replace(b'"tier":"', b'"tier":"x'))
    with pytest.raises(EntryFormatError, match=f"ledger entry {e.index}"):
        derive(parse_period("2026-11"), [("all",)], entries, [], workers=2)


def test_the_archive_is_what_zipfile_writes(ledger: SqliteStore) -> None:
    """The archive (members deflated on two threads, the container written by Remit) is
    byte for byte what `ZipFile.writestr` makes of each file's joined bytes, whether a file
    comes whole or in parts cut anywhere (deflate's output does not depend on it)."""
    from remit.evidence.archive import COMPRESS_LEVEL

    body = b"".join(e.body for e in ledger.entries(0, ledger.size()))
    cuts = [0, 1, 4096, len(body) // 3, len(body) - 7, len(body)]
    parts = tuple(body[a:b] for a, b in itertools.pairwise(cuts))
    files = {MANIFEST: b"{}\n", "b/parts.jsonl": parts, "a/whole.csv": b"x,y\n" * 1000,
             "a/\u00e9t\u00e9.txt": b"", "c/empty.json": b""}  # fmt: skip
    expected = io.BytesIO()
    with zipfile.ZipFile(expected, "w") as z:
        for name in (
            MANIFEST,
            "a/whole.csv",
            "a/\u00e9t\u00e9.txt",
            "b/parts.jsonl",
            "c/empty.json",
        ):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            data = body if name == "b/parts.jsonl" else files[name]
            z.writestr(info, data, compresslevel=COMPRESS_LEVEL)  # type: ignore[arg-type]
    got = to_zip(files)
    assert got == expected.getvalue()
    assert to_zip({**files, "b/parts.jsonl": body}) == got
    assert zipfile_archive(files) == got  # what an archive too large for the fast path gets
    with zipfile.ZipFile(io.BytesIO(got)) as z:
        assert z.read("b/parts.jsonl") == body and z.testzip() is None


def test_a_temporary_folder_that_cannot_hold_the_parts_is_named(
    ledger: SqliteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tempfile

    from remit.evidence.derive import ScratchError, derive

    gone = tmp_path / "no-such-folder"
    monkeypatch.setenv("TMPDIR", str(gone))  # the user's choice wins over /dev/shm
    monkeypatch.setattr(tempfile, "tempdir", str(gone))
    entries = list(ledger.entries(0, ledger.size()))
    with pytest.raises(ScratchError, match=f"keep their parts in {gone} .*set TMPDIR"):
        derive(parse_period("2026-11"), [("all",)], entries, [], workers=2)
    one = derive(parse_period("2026-11"), [("all",)], entries, [], workers=1)  # no folder
    assert one.found.decisions


def test_the_parts_go_to_memory_backed_dev_shm_only_when_it_has_room(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    from remit.evidence.derive import scratch_folder

    monkeypatch.delenv("TMPDIR", raising=False)
    if not os.access("/dev/shm", os.W_OK):
        assert scratch_folder(1) is None
        return
    room = os.statvfs("/dev/shm")
    assert scratch_folder(1) == "/dev/shm"
    assert scratch_folder(room.f_bavail * room.f_frsize + 1) is None  # too little room
    monkeypatch.setenv("TMPDIR", "/somewhere/chosen")
    assert scratch_folder(1) is None  # the user's TMPDIR, through tempfile
