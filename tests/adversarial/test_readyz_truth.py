"""Item 4 of issue 12: `/readyz` is ready only when a decision could be recorded now, and
the service heals by itself. Against a real `remit serve`: a ledger made immutable, a
file system that fills up, a removed ledger file. Neither process may die (no SIGBUS)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from tests.adversarial.rootfs import fill, immutable, ledger_files, need_root_tool, tiny_tmpfs
from tests.adversarial.served import decision, is_unrecorded_deny, remit, served, wait_for
from tests.server.srvkit import ok


def _recorded(s: object) -> bool:
    d = decision(s.decide())  # type: ignore[attr-defined]
    return bool(d["recorded"])


def test_an_immutable_ledger_while_serving_denies_then_recovers(tmp_path: Path) -> None:
    need_root_tool("chattr")
    db = tmp_path / "ledger" / "remit.db"
    with served(tmp_path, db) as s:
        assert decision(s.decide())["recorded"]
        writer = s.writer_pid()
        with immutable(ledger_files(db)):
            for _ in range(3):
                d = decision(s.decide())
                assert is_unrecorded_deny(d), d
            r = s.ready()
            assert r.status_code == 503, r.text
            assert "not writable" in r.text and str(db) in r.text
            time.sleep(1.0)
            assert s.alive() and s.writer_pid() is not None, s.logs()
            # the commands that only read still open it
            out = ok(remit("ledger", "export", "--db", db, cwd=tmp_path)).stdout
            assert out.strip()
        wait_for(lambda: _recorded(s), 10, "decisions recorded again")
        assert s.ready().status_code == 200
        assert s.alive() and s.writer_pid() == writer, s.logs()  # healed, not restarted
        assert "SIGBUS" not in s.logs() and "Fatal Python error" not in s.logs()


def test_serve_refuses_to_start_on_an_immutable_ledger(tmp_path: Path) -> None:
    need_root_tool("chattr")
    db = tmp_path / "ledger" / "remit.db"
    with served(tmp_path, db):
        pass
    with immutable(ledger_files(db)), served(tmp_path / "again", db, wait=False) as s:
        s.proc.wait(timeout=60)
        assert s.proc.returncode == 3  # the ledger is a dependency it cannot use
        assert "cannot be written" in s.logs() and str(db) in s.logs()


def test_a_full_file_system_denies_then_recovers(tmp_path: Path) -> None:
    with tiny_tmpfs(tmp_path / "fs", size="2m") as fs:
        db = fs / "remit.db"
        with served(tmp_path / "run", db) as s:
            assert decision(s.decide())["recorded"]
            filler = fill(fs)
            try:
                r = s.ready()
                assert r.status_code == 503 and "disk full" in r.text, r.text
                for _ in range(3):
                    d = decision(s.decide())
                    assert is_unrecorded_deny(d) or d["recorded"], d  # small may still fit
                wait_for(lambda: is_unrecorded_deny(decision(s.decide())), 10, "denied")
            finally:
                filler.unlink()
            wait_for(lambda: _recorded(s), 10, "decisions recorded again")
            assert s.ready().status_code == 200
            assert s.alive(), s.logs()


def test_a_removed_ledger_is_not_silently_started_again(tmp_path: Path) -> None:
    db = tmp_path / "ledger" / "remit.db"
    with served(tmp_path, db) as s:
        assert decision(s.decide())["recorded"]
        moved = tmp_path / "moved"
        shutil.move(str(db.parent), moved)
        db.parent.mkdir()
        for _ in range(3):
            assert is_unrecorded_deny(decision(s.decide()))
        r = s.ready()
        assert r.status_code == 503 and "does not exist" in r.text, r.text
        time.sleep(1.5)  # a writer restart in between must not create a ledger either
        assert is_unrecorded_deny(decision(s.decide()))
        assert not db.exists()
        assert s.alive(), s.logs()
