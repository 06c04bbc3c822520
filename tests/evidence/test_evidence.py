"""Evidence packs over a ledger made through the real API: written by `remit evidence`,
verified offline by `remit evidence verify`; byte-for-byte deterministic; OSCAL
observations carry ledger indexes and findings appear only where a check failed; every
tampering (a CSV byte, a removed entry, a changed decision, a swapped checkpoint, another
key) fails verification naming the file and index; bad input is refused."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.server.conftest import Pki
from tests.server.srvkit import (
    ApiKeys,
    bearer,
    entries_of,
    example_request,
    held_request,
    read_request,
    remit,
)

from remit.evidence.archive import MANIFEST, to_zip
from remit.evidence.controls import FRAMEWORKS
from remit.evidence.pack import gather, make_pack
from remit.evidence.verify import verify_pack
from remit.report.period import parse_period
from remit.server.runtime import Runtime

OCT = datetime(2026, 10, 30, 9, 0, tzinfo=UTC)
NOV = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
AFTER = "2026-12-02T00:00:00Z"


def _decide(client: TestClient, key: str, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/v1/decisions", json=body, headers=bearer(key))
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


@pytest.fixture
def history(client: TestClient, rt: Runtime, api_keys: ApiKeys, clock: Any) -> dict[str, Any]:
    """October: two reads and a signed checkpoint. November: reads, an approval, a denied
    action reported as done anyway (a control failure), and a note after the month."""
    clock.now = OCT
    for _ in range(2):
        _decide(client, api_keys.agent, read_request())
    rt.ledger.checkpoint(clock())
    clock.now = NOV
    made: dict[str, Any] = {"reads": [_decide(client, api_keys.agent, read_request())]}
    held = _decide(client, api_keys.agent, held_request())
    r = client.post(f"/v1/approvals/{held['id']}/approve", json={"comment": "ok"},
                    headers=bearer(api_keys.alice))  # fmt: skip
    assert r.status_code == 200
    denied_role = [{"arn": "arn:aws:iam::111122223333:role/OrganizationAccountAccessRole"}]
    denied = _decide(client, api_keys.agent, example_request(resources=denied_role))
    r = client.post(f"/v1/decisions/{denied['id']}/outcome", json={"status": "succeeded"},
                    headers=bearer(api_keys.agent))  # fmt: skip
    assert r.json()["ran_without_allow"] is True
    made["held"], made["denied"] = held, denied
    return made


def _export(tmp_path: Path, cfg: Any, pki: Pki, *args: str, code: int = 0) -> tuple[str, str]:
    r = remit("evidence", "--db", cfg.db, "--log-key", pki.log_key, "--now", AFTER,
              "--actor", "auditor:test", *args, cwd=tmp_path)  # fmt: skip
    assert r.returncode == code, r.stdout + r.stderr
    return r.stdout, r.stderr


def _verify(tmp_path: Path, pack: Path, pki: Pki, code: int = 0) -> dict[str, Any]:
    r = remit("evidence", "verify", pack, "--public-key", pki.log_pub, "--format", "json",
              cwd=tmp_path)  # fmt: skip
    assert r.returncode == code, r.stdout + r.stderr
    out: dict[str, Any] = json.loads(r.stdout)
    return out


def _files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def _repack(files: dict[str, bytes], *, fix_manifest: bool) -> bytes:
    files = dict(files)
    if fix_manifest:
        doc = json.loads(files[MANIFEST])
        for name, body in files.items():
            if name != MANIFEST:
                doc["files"][name] = {"sha256": hashlib.sha256(body).hexdigest(),
                                      "size": len(body)}  # fmt: skip
        files[MANIFEST] = (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()
    return to_zip(files)


def test_export_then_verify_offline(
    tmp_path: Path, rt: Runtime, server_config: Any, pki: Pki, history: dict[str, Any]
) -> None:
    pack = tmp_path / "soc2.zip"
    _, err = _export(tmp_path, server_config, pki, "--framework", "soc2", "--period", "2026-11",
                     "--out", str(pack))  # fmt: skip
    assert "wrote" in err
    got = _verify(tmp_path, pack, pki)
    assert got["ok"] is True, got["problems"]
    assert got["decisions_in_period"] == 3
    start, end = got["ledger_range"]
    assert 0 < start < end  # it starts at October's checkpoint, with the boundary proven
    assert got["failed_checks"] == {"ran_without_allow": 1}
    files = _files(pack.read_bytes())
    assert {"controls/CC6.1.csv", "controls/CC8.1.csv", "oscal/assessment-results.json",
            "entries/ocsf.jsonl", "proofs/consistency.json", "envelope/signoffs.json",
            "checkpoints/start.json", "checkpoints/end.json"} <= set(files)  # fmt: skip
    assert len(files["entries/ocsf.jsonl"].splitlines()) == 3
    (export,) = entries_of(rt.store, "access")  # the auditor is audited
    assert export["data"]["action"] == "evidence" and export["actor"] == "auditor:test"
    assert export["data"]["detail"]["framework"] == "soc2"
    signoffs = json.loads(files["envelope/signoffs.json"])
    assert signoffs and signoffs[0]["signer"] == "ciso@example.com"


def test_oscal_observations_carry_indexes_and_findings_only_where_a_check_failed(
    rt: Runtime, history: dict[str, Any], clock: Any
) -> None:
    end = rt.ledger.checkpoint(clock())
    inputs = gather(rt.store, "soc2", parse_period("2026-11"), "origin", end)
    doc = json.loads(_files(make_pack(inputs))["oscal/assessment-results.json"])
    ar = doc["assessment-results"]
    assert ar["metadata"]["oscal-version"] == "1.1.2"
    (result,) = ar["results"]
    reviewed = result["reviewed-controls"]["control-selections"][0]["include-controls"]
    assert [c["control-id"] for c in reviewed] == [
        "soc2_cc6.1", "soc2_cc6.2", "soc2_cc6.3", "soc2_cc7.2", "soc2_cc7.3", "soc2_cc8.1"
    ]  # fmt: skip
    assert len(result["observations"]) == 6
    by_control = {o["props"][2]["value"]: o for o in result["observations"]}
    cc61 = by_control["CC6.1"]
    indexes = cc61["props"][0]["value"]
    assert str(history["denied"]["ledger_index"]) in indexes.replace("-", ",")
    assert cc61["relevant-evidence"][0]["href"] == "controls/CC6.1.csv"
    failed = {f["target"]["target-id"]: f for f in result["findings"]}
    assert set(failed) == {"soc2_cc6.1", "soc2_cc7.2"}  # ran_without_allow, nothing more
    assert failed["soc2_cc6.1"]["target"]["status"]["state"] == "not-satisfied"
    assert "satisfied" not in json.dumps(result["observations"])


def test_no_finding_without_a_failed_check(
    client: TestClient, rt: Runtime, api_keys: ApiKeys, clock: Any
) -> None:
    _decide(client, api_keys.agent, read_request())
    end = rt.ledger.checkpoint(clock())
    for framework in FRAMEWORKS:
        inputs = gather(rt.store, framework, parse_period("2026-11"), "o", end)
        result = json.loads(_files(make_pack(inputs))["oscal/assessment-results.json"])
        assert "findings" not in result["assessment-results"]["results"][0], framework


def test_packs_are_byte_for_byte_deterministic(
    rt: Runtime, history: dict[str, Any], clock: Any, pki: Pki
) -> None:
    end = rt.ledger.checkpoint(clock())
    period = parse_period("2026-11")
    one = make_pack(gather(rt.store, "iso27001", period, pki.log.name, end))
    two = make_pack(gather(rt.store, "iso27001", period, pki.log.name, end))
    assert one == two
    assert hashlib.sha256(one).hexdigest() == hashlib.sha256(two).hexdigest()
    with zipfile.ZipFile(io.BytesIO(one)) as z:
        assert z.namelist()[0] == MANIFEST
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
def test_every_framework_verifies(
    rt: Runtime, history: dict[str, Any], clock: Any, pki: Pki, framework: str
) -> None:
    clock.now = datetime(2026, 12, 2, tzinfo=UTC)
    rt.store.append([])  # nothing; the closing entry below is the export's own
    from remit.ledger.kinds import AccessRecord
    from remit.ledger.records import make_entry

    rt.store.append([make_entry(AccessRecord("evidence", "t", "cli"), clock(), "t")])
    end = rt.ledger.checkpoint(clock())
    data = make_pack(gather(rt.store, framework, parse_period("2026-11"), pki.log.name, end))
    report = verify_pack(data, pki.log.verifier())
    assert report.ok, report.problems
    names = set(_files(data))
    assert len([n for n in names if n.startswith("controls/")]) == len(FRAMEWORKS[framework])


# -- tampering ----------------------------------------------------------------------------


@pytest.fixture
def pack(tmp_path: Path, server_config: Any, pki: Pki, history: dict[str, Any]) -> bytes:
    target = tmp_path / "pack.zip"
    _export(tmp_path, server_config, pki, "--framework", "soc2", "--period", "2026-11",
            "--out", str(target))  # fmt: skip
    return target.read_bytes()


def _problems(data: bytes, pki: Pki) -> list[str]:
    report = verify_pack(data, pki.log.verifier())
    assert not report.ok
    return report.problems


def test_a_changed_csv_byte_fails_naming_the_file(pack: bytes, pki: Pki) -> None:
    files = _files(pack)
    body = bytearray(files["controls/CC6.1.csv"])
    body[-2] = ord("X") if body[-2] != ord("X") else ord("Y")
    files["controls/CC6.1.csv"] = bytes(body)
    problems = _problems(_repack(files, fix_manifest=False), pki)
    assert "controls/CC6.1.csv: SHA-256 differs from the manifest (file changed)" in problems
    problems = _problems(_repack(files, fix_manifest=True), pki)  # a forger fixes the digest
    assert "controls/CC6.1.csv: differs from what the pack's ledger entries give" in problems


def test_a_removed_entry_fails_naming_its_index(pack: bytes, pki: Pki) -> None:
    files = _files(pack)
    lines = files["entries/ledger.jsonl"].splitlines(keepends=True)
    gone = json.loads(lines[3])["index"]
    files["entries/ledger.jsonl"] = b"".join(lines[:3] + lines[4:])
    problems = _problems(_repack(files, fix_manifest=True), pki)
    assert any(f"ledger entry {gone} is missing" in p for p in problems), problems


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (b"{not json\n", "line 4: not valid JSON"),
        (b'{"index":3,"kind":"decision","ts":"x"}\n', "line 4: malformed entry row ('leaf')"),
        (b'{"index":"3","kind":"decision","ts":"x","leaf":""}\n', "line 4: malformed entry row"),
    ],
)
def test_a_broken_ledger_row_is_named_by_line_after_the_manifest_findings(
    pack: bytes, pki: Pki, line: bytes, says: str
) -> None:
    files = _files(pack)
    lines = files["entries/ledger.jsonl"].splitlines(keepends=True)
    files["entries/ledger.jsonl"] = b"".join([*lines[:3], line, *lines[4:]])
    problems = _problems(_repack(files, fix_manifest=False), pki)
    assert problems[0] == "entries/ledger.jsonl: SHA-256 differs from the manifest (file changed)"
    assert problems[-1].startswith(f"entries/ledger.jsonl {says}"), problems


def test_rows_cut_across_the_pieces_inflated_are_read_whole(
    pack: bytes, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    from remit.evidence import verify

    whole = verify_pack(pack, pki.log.verifier())
    assert whole.ok and whole.facts["entries_in_period"] > 3
    for piece in (1, 97, 4096):  # a row is cut at every position by some piece size
        monkeypatch.setattr(verify, "_PIECE", piece)
        report = verify_pack(pack, pki.log.verifier())
        assert report.ok and report.facts == whole.facts, (piece, report.problems)


def test_a_changed_decision_fails_naming_its_index(
    pack: bytes, pki: Pki, history: dict[str, Any]
) -> None:
    import base64

    files = _files(pack)
    target = history["denied"]["ledger_index"]
    out = []
    for line in files["entries/ledger.jsonl"].splitlines(keepends=True):
        row = json.loads(line)
        if row["index"] == target:
            body = base64.b64decode(row["leaf"]).replace(b'"deny"', b'"autonomous"')
            row["leaf"] = base64.b64encode(body).decode()
            line = (json.dumps(row, separators=(",", ":")) + "\n").encode()
        out.append(line)
    files["entries/ledger.jsonl"] = b"".join(out)
    problems = _problems(_repack(files, fix_manifest=True), pki)
    assert any(f"ledger entry {target} is not in the signed log" in p for p in problems), problems


def test_a_swapped_checkpoint_fails(pack: bytes, pki: Pki) -> None:
    files = _files(pack)
    start, end = files["checkpoints/start.json"], files["checkpoints/end.json"]
    files["checkpoints/end.json"] = start
    problems = _problems(_repack(files, fix_manifest=True), pki)
    named = {p.split(":")[0] for p in problems}
    assert named & {"proofs/consistency.json", "entries/ledger.jsonl"}, problems
    end_doc = json.loads(end)
    end_doc["size"] = json.loads(start)["size"]  # a note that signs another size
    files["checkpoints/end.json"] = json.dumps(end_doc).encode()
    problems = _problems(_repack(files, fix_manifest=True), pki)
    assert any("checkpoints/end.json: the note signs size" in p for p in problems), problems


def test_another_key_and_a_non_zip_fail(pack: bytes, pki: Pki) -> None:
    from remit.signing.keys import generate_signing_key

    other = generate_signing_key(pki.log.name).verifier()
    problems = verify_pack(pack, other).problems
    assert any(p.startswith("checkpoints/end.json: checkpoint signature check failed")
               for p in problems), problems  # fmt: skip
    assert verify_pack(b"not a zip", pki.log.verifier()).problems[0].startswith("not a readable")


def test_cli_verify_fails_with_exit_1_on_a_tampered_pack(
    tmp_path: Path, pack: bytes, pki: Pki
) -> None:
    files = _files(pack)
    files["summary.json"] = files["summary.json"].replace(b"soc2", b"soc3")
    bad = tmp_path / "bad.zip"
    bad.write_bytes(_repack(files, fix_manifest=False))
    got = _verify(tmp_path, bad, pki, code=1)
    assert got["ok"] is False and "summary.json" in got["problems"][0]


# -- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--framework", "hipaa", "--period", "2026-11"], "choose one of"),
        (["--framework", "soc2", "--period", "2026-12"], "has not ended"),
        (["--framework", "soc2", "--period", "2025-01"], "no decisions were recorded in 2025-01"),
        (["--framework", "soc2", "--period", "2026-Q9"], "expected a quarter"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_written(
    tmp_path: Path, rt: Runtime, server_config: Any, pki: Pki, history: dict[str, Any],
    args: list[str], message: str,
) -> None:  # fmt: skip
    before = rt.store.size()
    target = tmp_path / "x.zip"
    _, err = _export(tmp_path, server_config, pki, *args, "--out", str(target), code=2)
    assert message in err
    assert not target.exists()
    assert rt.store.size() == before


def test_proofs_from_memory_equal_the_stores(
    client: TestClient, rt: Runtime, api_keys: ApiKeys, clock: Any
) -> None:
    from remit.evidence.pack import IN_MEMORY_FROM, _proofs

    for _ in range(5):
        _decide(client, api_keys.agent, read_request())
    size = rt.store.size()
    indexes = list(range(size)) * (IN_MEMORY_FROM // size + 1)
    fast = _proofs(rt.store, indexes, size)
    assert fast == {i: rt.store.inclusion_proof(i, size) for i in range(size)}


# The OSCAL datatypes and required fields the assessment-results model defines (written
# from the NIST model's definitions; the schema file itself is not part of this repository).
_UUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[45][0-9A-Fa-f]{3}-[89ABab][0-9A-Fa-f]{3}-"
                   r"[0-9A-Fa-f]{12}$")  # fmt: skip
_TOKEN = re.compile(r"^[^\W\d]([^\W]|[.\-])*$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_STRING = re.compile(r"^\S(.*\S)?$")
_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+\-.]+:.+$")


def _check(obj: dict[str, Any], required: set[str], allowed: set[str], where: str) -> None:
    assert required <= set(obj), (where, required - set(obj))
    assert set(obj) <= allowed, (where, set(obj) - allowed)


def _props(props: list[dict[str, Any]], where: str) -> None:
    for p in props:
        _check(p, {"name", "value"}, {"name", "value", "ns", "class", "uuid", "remarks"}, where)
        assert _TOKEN.match(p["name"]) and _STRING.match(p["value"]), (where, p)
        assert _URI.match(p.get("ns", "x:y")), (where, p)


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
def test_the_oscal_document_has_the_fields_and_datatypes_oscal_requires(
    rt: Runtime, history: dict[str, Any], clock: Any, framework: str
) -> None:
    end = rt.ledger.checkpoint(clock())
    data = make_pack(gather(rt.store, framework, parse_period("2026-11"), "o.example/log", end))
    doc = json.loads(_files(data)["oscal/assessment-results.json"])
    assert set(doc) == {"assessment-results"}
    ar = doc["assessment-results"]
    _check(ar, {"uuid", "metadata", "import-ap", "results"},
           {"uuid", "metadata", "import-ap", "local-definitions", "results", "back-matter"},
           "assessment-results")  # fmt: skip
    assert _UUID.match(ar["uuid"])
    meta = ar["metadata"]
    _check(meta, {"title", "last-modified", "version", "oscal-version"},
           {"title", "published", "last-modified", "version", "oscal-version", "props",
            "links", "roles", "parties", "remarks"}, "metadata")  # fmt: skip
    assert _DATETIME.match(meta["last-modified"]) and meta["oscal-version"] >= "1.1"
    _props(meta["props"], "metadata")
    assert set(ar["import-ap"]) == {"href"}
    uuids = set()
    for result in ar["results"]:
        _check(result, {"uuid", "title", "description", "start", "reviewed-controls"},
               {"uuid", "title", "description", "start", "end", "props", "links",
                "reviewed-controls", "observations", "findings", "remarks"}, "result")  # fmt: skip
        assert _DATETIME.match(result["start"]) and _DATETIME.match(result["end"])
        (selection,) = result["reviewed-controls"]["control-selections"]
        for c in selection["include-controls"]:
            assert set(c) == {"control-id"} and _TOKEN.match(c["control-id"]), c
        for o in result["observations"]:
            _check(o, {"uuid", "description", "methods", "collected"},
                   {"uuid", "title", "description", "props", "links", "methods", "types",
                    "origins", "subjects", "relevant-evidence", "collected", "expires",
                    "remarks"}, "observation")  # fmt: skip
            assert _UUID.match(o["uuid"]) and _DATETIME.match(o["collected"])
            assert all(_STRING.match(m) for m in o["methods"])
            assert all(_TOKEN.match(t) for t in o["types"])
            assert all("description" in e for e in o["relevant-evidence"])
            _props(o["props"], "observation")
            uuids.add(o["uuid"])
        for f in result.get("findings", []):
            _check(f, {"uuid", "title", "description", "target"},
                   {"uuid", "title", "description", "props", "links", "origins", "target",
                    "related-observations", "remarks"}, "finding")  # fmt: skip
            target = f["target"]
            assert target["type"] in ("statement-id", "objective-id")
            assert _TOKEN.match(target["target-id"])
            assert target["status"]["state"] in ("satisfied", "not-satisfied")
            assert {r["observation-uuid"] for r in f["related-observations"]} <= uuids
    assert len(uuids) == len(FRAMEWORKS[framework])  # one observation per control, distinct
