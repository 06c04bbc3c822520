"""Item 4 of issue 12: every request to the decision writer has a deadline. A writer that
stops answering (SIGSTOP) means deny LEDGER_UNAVAILABLE within the deadline, /readyz 503,
and a new writer that records decisions again."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from tests.adversarial.served import decision, is_unrecorded_deny, served, wait_for

DEADLINE = 1.5


def test_a_stopped_writer_means_deny_within_the_deadline_then_a_new_writer(
    tmp_path: Path,
) -> None:
    db = tmp_path / "ledger" / "remit.db"
    with served(tmp_path, db, "--writer-deadline", str(DEADLINE)) as s:
        assert decision(s.decide())["recorded"]
        stuck = s.writer_pid()
        assert stuck is not None
        os.kill(stuck, signal.SIGSTOP)
        try:
            started = time.monotonic()
            d = decision(s.decide(timeout=30))
            took = time.monotonic() - started
            assert is_unrecorded_deny(d), d
            assert took < DEADLINE + 1.0, f"held {took:.1f}s"
        finally:
            with contextlib.suppress(ProcessLookupError):  # killed and reaped already
                os.kill(stuck, signal.SIGCONT)
        wait_for(lambda: s.writer_pid() not in (None, stuck), 15, "a new writer")
        wait_for(lambda: decision(s.decide())["recorded"], 15, "recorded again")
        assert s.ready().status_code == 200


def test_readyz_is_503_while_the_writer_does_not_answer(tmp_path: Path) -> None:
    db = tmp_path / "ledger" / "remit.db"
    with served(tmp_path, db, "--writer-deadline", str(DEADLINE)) as s:
        stuck = s.writer_pid()
        assert stuck is not None
        os.kill(stuck, signal.SIGSTOP)
        try:
            started = time.monotonic()
            r = s.ready()
            assert r.status_code == 503, r.text
            assert "decision writer" in r.text
            assert time.monotonic() - started < DEADLINE + 2.0
        finally:
            with contextlib.suppress(ProcessLookupError):  # killed and reaped already
                os.kill(stuck, signal.SIGCONT)
        wait_for(lambda: s.ready().status_code == 200, 15, "ready again")
