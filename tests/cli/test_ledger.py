"""`remit ledger checkpoint|prove|consistency|export|verify|bundle`, checked against an
independent RFC 6962 / C2SP implementation in clikit."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.cli.clikit import (
    LOG_NAME,
    cli_env,
    consistency_holds,
    copy_examples,
    decide,
    example_request,
    jsonl,
    ok,
    open_checkpoint,
    remit,
    root_from_inclusion,
    tree_files,
    write_json,
)
from tests.cli.conftest import Keys


@dataclass(frozen=True)
class Log:
    folder: Path
    decisions: list[dict[str, Any]]  # notify 12:00, autonomous 12:10, deny 13:00, notify 13:30
    checkpoint4: str  # signed with --log-key after four entries
    checkpoint5: str  # signed with REMIT_LOG_KEY after five


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory, keys: Keys, signoffs: Path) -> Log:
    folder = copy_examples(tmp_path_factory.mktemp("ledger"), signoffs)
    write_json(folder / "list.json", example_request(action="iam:ListRoles", step="find-stale"))
    d = [
        decide(folder, trusted=keys.ciso_pub, now="2026-11-10T12:00:00Z"),  # entries 0, 1
        decide(folder, request="list.json", trusted=keys.ciso_pub, now="2026-11-10T12:10:00Z"),
        decide(folder, trusted=keys.other_pub, now="2026-11-10T13:00:00Z"),
    ]
    cp4 = ok(remit("ledger", "checkpoint", "--db", "ledger.db", "--log-key", keys.log_key,
                   cwd=folder)).stdout  # fmt: skip
    d.append(decide(folder, trusted=keys.ciso_pub, now="2026-11-10T13:30:00Z"))
    env = cli_env(REMIT_LOG_KEY=str(keys.log_key))
    cp5 = ok(remit("ledger", "checkpoint", "--db", "ledger.db", cwd=folder, env=env)).stdout
    assert [x["tier"] for x in d] == ["notify", "autonomous", "deny", "notify"]
    assert [x["ledger_index"] for x in d] == [1, 2, 3, 4]
    return Log(folder, d, cp4, cp5)


def run(log: Log, *args: str | Path, code: int = 0) -> Any:
    return ok(remit(*args, cwd=log.folder), code)


def as_json(log: Log, *args: str | Path) -> Any:
    return json.loads(run(log, *args).stdout)


# --- checkpoint


def test_checkpoint_is_a_signed_note_by_the_log_key(log: Log, keys: Keys) -> None:
    lines = log.checkpoint4.splitlines()
    assert lines[0] == LOG_NAME
    assert lines[1] == "4"
    origin, size, root = open_checkpoint(log.checkpoint4, keys.log_vkey)
    assert (origin, size, len(root)) == (LOG_NAME, 4, 32)
    # Via REMIT_LOG_KEY, after one more entry.
    origin, size, _ = open_checkpoint(log.checkpoint5, keys.log_vkey)
    assert (origin, size) == (LOG_NAME, 5)
    assert log.checkpoint5.splitlines()[0] == LOG_NAME


def test_checkpoint_without_a_key_is_a_clear_error(log: Log, tmp_path: Path) -> None:
    before = tree_files(log.folder)
    proc = run(log, "ledger", "checkpoint", "--db", "ledger.db", code=2)
    assert "no log signing key" in proc.stderr and "--log-key" in proc.stderr
    assert "REMIT_LOG_KEY" in proc.stderr
    assert proc.stdout == ""
    assert tree_files(log.folder) == before
    # …and does not create a ledger where there was none.
    ok(remit("ledger", "checkpoint", "--db", "typo.db", cwd=tmp_path), 2)
    assert list(tmp_path.iterdir()) == []


def test_checkpoint_with_a_bad_key(tmp_path: Path, keys: Keys) -> None:
    proc = ok(
        remit("ledger", "checkpoint", "--db", "l.db", "--log-key", "nope.key", cwd=tmp_path), 2
    )
    assert "--log-key" in proc.stderr
    # A public key is not a signing key.
    proc = ok(
        remit("ledger", "checkpoint", "--db", "l.db", "--log-key", keys.log_pub, cwd=tmp_path), 2
    )
    assert "--log-key" in proc.stderr
    assert list(tmp_path.iterdir()) == []


# --- prove and consistency


def test_prove_inclusion_against_the_signed_checkpoint(log: Log, keys: Keys) -> None:
    p = as_json(log, "ledger", "prove", "--index", "2", "--db", "ledger.db")
    assert p["index"] == 2 and p["tree_size"] == 5
    leaf = base64.b64decode(p["leaf"])
    assert hashlib.sha256(b"\x00" + leaf).hexdigest() == p["leaf_hash"]
    assert json.loads(leaf)["data"]["decision"]["id"] == log.decisions[1]["id"]
    proof = [bytes.fromhex(h) for h in p["inclusion_proof"]]
    root = root_from_inclusion(2, 5, bytes.fromhex(p["leaf_hash"]), proof)
    assert root.hex() == p["root_hash"]
    assert p["checkpoint"] == log.checkpoint5
    _, size, signed_root = open_checkpoint(p["checkpoint"], keys.log_vkey)
    assert (size, signed_root) == (5, root)


def test_prove_at_an_older_size(log: Log, keys: Keys) -> None:
    p = as_json(log, "ledger", "prove", "--index", "0", "--size", "4", "--db", "ledger.db")
    assert p["tree_size"] == 4 and p["checkpoint"] == log.checkpoint4
    proof = [bytes.fromhex(h) for h in p["inclusion_proof"]]
    root = root_from_inclusion(0, 4, bytes.fromhex(p["leaf_hash"]), proof)
    assert root == open_checkpoint(log.checkpoint4, keys.log_vkey)[2]
    assert json.loads(base64.b64decode(p["leaf"]))["kind"] == "signoff"


def test_prove_bad_index(log: Log) -> None:
    proc = run(log, "ledger", "prove", "--index", "5", "--db", "ledger.db", code=2)
    assert "--index 5" in proc.stderr
    proc = run(log, "ledger", "prove", "--index", "0", "--size", "9", "--db", "ledger.db", code=2)
    assert "--size" in proc.stderr


def test_consistency_between_the_two_checkpoints(log: Log, keys: Keys) -> None:
    c = as_json(log, "ledger", "consistency", "--from", "4", "--to", "5", "--db", "ledger.db")
    assert (c["from"], c["to"]) == (4, 5)
    r4 = open_checkpoint(log.checkpoint4, keys.log_vkey)[2]
    r5 = open_checkpoint(log.checkpoint5, keys.log_vkey)[2]
    assert (c["from_root"], c["to_root"]) == (r4.hex(), r5.hex())
    proof = [bytes.fromhex(h) for h in c["consistency_proof"]]
    assert consistency_holds(4, 5, r4, r5, proof)
    assert not consistency_holds(4, 5, r5, r4, proof)
    assert (c["from_checkpoint"], c["to_checkpoint"]) == (log.checkpoint4, log.checkpoint5)


def test_consistency_from_an_unsigned_size(log: Log) -> None:
    c = as_json(log, "ledger", "consistency", "--from", "3", "--to", "5", "--db", "ledger.db")
    proof = [bytes.fromhex(h) for h in c["consistency_proof"]]
    first, second = bytes.fromhex(c["from_root"]), bytes.fromhex(c["to_root"])
    assert consistency_holds(3, 5, first, second, proof)
    assert c["from_checkpoint"] is None


def test_consistency_bad_sizes(log: Log) -> None:
    proc = run(
        log, "ledger", "consistency", "--from", "5", "--to", "4", "--db", "ledger.db", code=2
    )
    assert "--from" in proc.stderr
    proc = run(
        log, "ledger", "consistency", "--from", "1", "--to", "6", "--db", "ledger.db", code=2
    )
    assert "ledger size (5)" in proc.stderr


def test_read_commands_do_not_create_a_ledger(tmp_path: Path, keys: Keys) -> None:
    for args in (
        ["ledger", "prove", "--index", "0"],
        ["ledger", "consistency", "--from", "1", "--to", "1"],
        ["ledger", "export"],
        ["ledger", "verify", "--public-key", str(keys.log_pub)],
    ):
        proc = ok(remit(*args, "--db", "missing.db", cwd=tmp_path), 2)
        assert "--db missing.db: no ledger there" in proc.stderr
    assert list(tmp_path.iterdir()) == []


# --- export


def test_export_jsonl_leaves_rehash(log: Log) -> None:
    rows = jsonl(run(log, "ledger", "export", "--format", "jsonl", "--db", "ledger.db").stdout)
    assert [r["index"] for r in rows] == [0, 1, 2, 3, 4]
    assert [r["kind"] for r in rows] == ["signoff", *["decision"] * 4]
    for r in rows:
        leaf = base64.b64decode(r["leaf"], validate=True)
        assert hashlib.sha256(b"\x00" + leaf).hexdigest() == r["leaf_hash"]
    ids = [json.loads(base64.b64decode(r["leaf"]))["data"]["decision"]["id"] for r in rows[1:]]
    assert ids == [d["id"] for d in log.decisions]


def test_export_since_and_out(log: Log, tmp_path: Path) -> None:
    out = tmp_path / "recent.jsonl"
    proc = run(
        log,
        "ledger",
        "export",
        "--since",
        "2026-11-10T12:30:00Z",
        "--out",
        out,
        "--db",
        "ledger.db",
    )
    assert "wrote 2 jsonl record(s)" in proc.stdout
    rows = jsonl(out.read_text())
    assert [r["index"] for r in rows] == [3, 4]


def test_export_ocsf(log: Log) -> None:
    records = jsonl(run(log, "ledger", "export", "--format", "ocsf", "--db", "ledger.db").stdout)
    assert len(records) == 4  # decisions only
    for rec, d in zip(records, log.decisions, strict=True):
        assert rec["class_uid"] == 6003
        assert rec["metadata"]["uid"] == d["id"]
        (auth,) = rec["actor"]["authorizations"]
        assert auth["policy"]["uid"] == d["envelope"]["digest"]
        assert rec["api"]["operation"] == d["action"].split(":")[1]
    verdicts = [r["actor"]["authorizations"][0]["decision"] for r in records]
    assert verdicts[0] == "Allowed (notify)"
    assert verdicts[1].startswith("Allowed") and "notify" not in verdicts[1]
    assert verdicts[2] == "Denied"


def test_export_otel(log: Log) -> None:
    spans = jsonl(run(log, "ledger", "export", "--format", "otel", "--db", "ledger.db").stdout)
    assert len(spans) == 4
    for span, d in zip(spans, log.decisions, strict=True):
        a = span["attributes"]
        assert a["gen_ai.operation.name"] == "execute_tool"
        assert a["gen_ai.agent.id"] == "remediator"
        assert a["gen_ai.request.model"].startswith("claude-sonnet")
        assert "2026-10-01" in a["gen_ai.request.model"]
        assert a["remit.tier"] == d["tier"]
        assert a["remit.decision.id"] == d["id"]
        assert a["remit.envelope.digest"] == d["envelope"]["digest"]
    assert spans[2]["status"]["status_code"] == "ERROR"  # the deny


def test_export_bad_format(log: Log) -> None:
    proc = run(log, "ledger", "export", "--format", "xml", "--db", "ledger.db", code=2)
    assert "--format" in proc.stderr and "xml" in proc.stderr


# --- verify and bundles


def test_verify_honest_log(log: Log, keys: Keys) -> None:
    proc = run(log, "ledger", "verify", "--db", "ledger.db", "--public-key", keys.log_pub)
    assert proc.stdout.startswith("OK: 5 entries")
    assert "2 checkpoint(s) verified" in proc.stdout
    root = open_checkpoint(log.checkpoint5, keys.log_vkey)[2]
    assert root.hex() in proc.stdout
    proc = run(log, "ledger", "verify", "--db", "ledger.db", "--public-key", keys.log_vkey)
    assert proc.stdout.startswith("OK: 5 entries")


def test_verify_with_the_wrong_key_fails_and_says_why(log: Log, keys: Keys) -> None:
    proc = run(log, "ledger", "verify", "--db", "ledger.db", "--public-key", keys.ciso_pub, code=1)
    assert "FAILED" in proc.stderr
    # The message names the key that did sign (not swallowed as console markup).
    assert LOG_NAME in proc.stderr, proc.stderr


def _tampered_copy(log: Log, dest: Path, index: int) -> Path:
    db = dest / "ledger.db"
    shutil.copy(log.folder / "ledger.db", db)
    with sqlite3.connect(db) as conn:
        (body,) = conn.execute("SELECT body FROM entries WHERE idx = ?", (index,)).fetchone()
        flipped = bytearray(body)
        flipped[len(flipped) // 2] ^= 0x01
        conn.execute("UPDATE entries SET body = ? WHERE idx = ?", (bytes(flipped), index))
    conn.close()
    return db


def test_verify_names_the_tampered_entry(log: Log, keys: Keys, tmp_path: Path) -> None:
    _tampered_copy(log, tmp_path, 2)
    proc = ok(
        remit("ledger", "verify", "--db", "ledger.db", "--public-key", keys.log_pub, cwd=tmp_path),
        1,
    )
    assert "FAILED" in proc.stderr
    assert "entry 2" in proc.stderr, proc.stderr
    assert "OK" not in proc.stdout


def test_verify_first_bad_index_is_the_tampered_entry(log: Log, keys: Keys, tmp_path: Path) -> None:
    _tampered_copy(log, tmp_path, 2)
    proc = ok(
        remit("ledger", "verify", "--db", "ledger.db", "--public-key", keys.log_pub, cwd=tmp_path),
        1,
    )
    assert "first bad index: 2" in proc.stderr, proc.stderr


def test_bundle_verifies_elsewhere_without_a_database(log: Log, keys: Keys, tmp_path: Path) -> None:
    bundle = tmp_path / "audit" / "b.json"
    bundle.parent.mkdir()
    proc = run(
        log, "ledger", "bundle", "--out", bundle, "--db", "ledger.db", "--log-key", keys.log_key
    )
    assert "wrote 5 entries and 2 checkpoint(s)" in proc.stdout
    data = json.loads(bundle.read_text())
    assert data["public_key"].strip() == keys.log_vkey
    assert len(data["entries"]) == 5 and len(data["checkpoints"]) == 2

    elsewhere = tmp_path / "auditor"
    elsewhere.mkdir()
    shutil.copy(keys.log_pub, elsewhere / "log.pub")
    proc = ok(
        remit("ledger", "verify", "--bundle", bundle, "--public-key", "log.pub", cwd=elsewhere)
    )
    assert proc.stdout.startswith("OK: 5 entries")
    proc = ok(
        remit("ledger", "verify", "--bundle", bundle, "--public-key", keys.log_vkey, cwd=elsewhere)
    )
    assert proc.stdout.startswith("OK: 5 entries")
    assert sorted(p.name for p in elsewhere.iterdir()) == ["log.pub"]  # no database, no .remit

    # One changed entry in the bundle is caught.
    leaf = bytearray(base64.b64decode(data["entries"][3]["leaf"]))
    leaf[10] ^= 0x01
    data["entries"][3]["leaf"] = base64.b64encode(bytes(leaf)).decode()
    bad = write_json(elsewhere / "bad.json", data)
    proc = ok(
        remit("ledger", "verify", "--bundle", bad, "--public-key", "log.pub", cwd=elsewhere), 1
    )
    assert "FAILED" in proc.stderr


def test_bundle_with_public_key_and_without_any_key(log: Log, keys: Keys, tmp_path: Path) -> None:
    out = tmp_path / "b.json"
    run(log, "ledger", "bundle", "--out", out, "--db", "ledger.db", "--public-key", keys.log_vkey)
    assert json.loads(out.read_text())["public_key"].strip() == keys.log_vkey

    proc = run(
        log, "ledger", "bundle", "--out", tmp_path / "none.json", "--db", "ledger.db", code=2
    )
    assert "--public-key" in proc.stderr and "--log-key" in proc.stderr
    assert not (tmp_path / "none.json").exists()


def test_verify_missing_or_broken_bundle(tmp_path: Path, keys: Keys) -> None:
    proc = ok(remit("ledger", "verify", "--bundle", "nope.json", "--public-key", keys.log_pub,
                    cwd=tmp_path), 2)  # fmt: skip
    assert "nope.json" in proc.stderr
    (tmp_path / "broken.json").write_text('{"format": ')
    proc = ok(remit("ledger", "verify", "--bundle", "broken.json", "--public-key", keys.log_pub,
                    cwd=tmp_path), 2)  # fmt: skip
    assert "broken.json" in proc.stderr or "bundle" in proc.stderr
