"""Issue 12, item 9: the entries after the last signed checkpoint can be rewritten (with
their hashes and nodes recomputed) without any check noticing: that is inherent. `verify`
therefore says how many entries and which span of time no checkpoint covers, and the
window closes as soon as a checkpoint is signed."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from tests.adversarial._signed_ledger import build, recompute_nodes, rows
from tests.conftest import NOW

from remit.domain.clock import ts_text
from remit.ledger.log import Ledger
from remit.ledger.sqlite_store import SqliteStore
from remit.ledger.verify import VerifyReport, verify_store
from remit.signing.keys import SigningKey, generate_signing_key, write_key_pair
from remit.tlog import merkle

SIZE = 40
LAST_CHECKPOINT = 30


@pytest.fixture
def ledger(tmp_path: Path) -> tuple[Path, SigningKey]:
    key = generate_signing_key("example.com/remit-log")
    path = tmp_path / "remit.db"
    build(path, key, SIZE, {10, LAST_CHECKPOINT})
    return path, key


def verify(path: Path, key: SigningKey) -> VerifyReport:
    store = SqliteStore(path, create=False)
    try:
        return verify_store(store, key.verifier(), workers=1)
    finally:
        store.close()


def rewrite_note_quietly(path: Path, index: int) -> None:
    """Change a note entry and recompute its leaf hash and every stored node."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        _, _, kind, body, _ = rows(conn)[index]
        assert kind == "note", kind
        new = body.replace(b'"pad":"', b'"pad":"X', 1)
        assert new != body
        conn.execute(
            "UPDATE entries SET body = ?, leaf_hash = ? WHERE idx = ?",
            (new, merkle.leaf_hash(new), index),
        )
        recompute_nodes(conn)
    finally:
        conn.close()


def _note_at_or_after(path: Path, start: int) -> int:
    conn = sqlite3.connect(path)
    try:
        return next(i for i, _, k, _, _ in rows(conn) if k == "note" and i >= start)
    finally:
        conn.close()


def test_verify_reports_the_window(ledger: tuple[Path, SigningKey]) -> None:
    path, key = ledger
    report = verify(path, key)
    assert report.ok, report.problems
    assert report.uncovered == SIZE - LAST_CHECKPOINT
    # Entry i was made at NOW + i minutes.
    assert report.uncovered_since == ts_text(NOW + timedelta(minutes=LAST_CHECKPOINT))
    assert report.uncovered_until == ts_text(NOW + timedelta(minutes=SIZE - 1))
    assert report.last_checkpoint_at == ts_text(NOW + timedelta(minutes=LAST_CHECKPOINT - 1))
    out = report.to_json()
    assert out["uncovered_entries"] == SIZE - LAST_CHECKPOINT
    assert out["uncovered_since"] == report.uncovered_since


def test_a_rewrite_inside_the_window_is_not_seen(ledger: tuple[Path, SigningKey]) -> None:
    """The inherent limit the window measures (this is why it must be kept short)."""
    path, key = ledger
    rewrite_note_quietly(path, _note_at_or_after(path, LAST_CHECKPOINT))
    assert verify(path, key).ok


def test_the_same_rewrite_is_seen_once_a_checkpoint_covers_it(
    ledger: tuple[Path, SigningKey], tmp_path: Path
) -> None:
    path, key = ledger
    store = SqliteStore(path, create=False)
    try:
        Ledger(store, key).checkpoint(NOW + timedelta(minutes=SIZE))
    finally:
        store.close()
    report = verify(path, key)
    assert report.ok and report.uncovered == 0 and report.uncovered_since is None
    target = _note_at_or_after(path, LAST_CHECKPOINT)
    rewrite_note_quietly(path, target)
    report = verify(path, key)
    assert not report.ok
    found = report.first_bad_range
    assert found is not None and found[0] <= target <= found[1]
    assert report.proven_intact == LAST_CHECKPOINT  # the older checkpoint still holds


def test_cli_says_how_long_the_window_is(ledger: tuple[Path, SigningKey], tmp_path: Path) -> None:
    path, key = ledger
    pub = tmp_path / "log.pub"
    pub.write_text(key.verifier().to_vkey() + "\n")
    base = [sys.executable, "-m", "remit.cli", "ledger", "verify", "--db", str(path),
            "--public-key", str(pub)]  # fmt: skip
    human = subprocess.run(base, capture_output=True, text=True, check=False, timeout=120)
    assert human.returncode == 0, human.stderr
    since = ts_text(NOW + timedelta(minutes=LAST_CHECKPOINT))
    assert f"the last {SIZE - LAST_CHECKPOINT} entries, made from {since}" in human.stdout
    js = subprocess.run(
        [*base, "--format", "json"], capture_output=True, text=True, check=False, timeout=120
    )
    out = json.loads(js.stdout)
    assert (out["ok"], out["uncovered_entries"], out["uncovered_since"]) == (
        True,
        SIZE - LAST_CHECKPOINT,
        since,
    )


# -- the bound, in the service ----------------------------------------------------------


def test_readyz_reports_the_window_and_checkpoint_after_commit_closes_it(tmp_path: Path) -> None:
    """Without `--checkpoint-after-commit` the decisions wait for the periodic checkpoint
    (an hour here): /readyz counts them as uncovered. With it, every answered decision is
    already under a signed checkpoint, which `verify` confirms."""
    from tests.adversarial.served import decision, remit, served
    from tests.server.srvkit import ok

    log_key, pub = write_key_pair(tmp_path / "log", generate_signing_key("example.com/remit-log"))
    common = ("--log-key", str(log_key), "--checkpoint-every", "3600")

    lazy = tmp_path / "lazy"
    with served(lazy, lazy / "remit.db", *common) as s:
        for _ in range(3):
            assert decision(s.decide())["recorded"]
        body = s.ready().json()
        assert body["ready"] is True
        assert body["uncovered_entries"] >= 3, body
        assert body["checkpoint_every_seconds"] == 3600
        assert body["checkpoint_after_commit"] is False

    eager = tmp_path / "eager"
    with served(eager, eager / "remit.db", *common, "--checkpoint-after-commit") as s:
        for _ in range(3):
            assert decision(s.decide())["recorded"]
        body = s.ready().json()
        assert body["checkpoint_after_commit"] is True
        assert body["uncovered_entries"] == 0, body
        assert body["last_checkpoint_at"] is not None
        db = s.db
    out = ok(
        remit("ledger", "verify", "--db", db, "--public-key", pub, "--format", "json", cwd=eager)
    ).stdout
    report = json.loads(out)
    assert report["ok"] is True and report["uncovered_entries"] == 0, report


def test_checkpoint_after_commit_needs_a_log_key(tmp_path: Path) -> None:
    from tests.adversarial.served import remit

    r = remit(
        "serve", "--envelope", "x.yaml", "--insecure-unsigned", "--checkpoint-after-commit",
        "--db", tmp_path / "remit.db", cwd=tmp_path,
    )  # fmt: skip
    assert r.returncode == 2, r.stderr
    assert "checkpoint_after_commit needs log_key" in r.stderr
    assert not (tmp_path / "remit.db").exists()
