"""Several OS processes appending to one ledger at once (the same SQLite file, the same
PostgreSQL database) still get one gap-free order: exactly the expected number of entries,
every process's entries present with its own bytes and in its own order, and the log
verifies after a checkpoint. And the rate window is counted atomically with the decision it
admits: of 30 concurrent requests under rule R7 (20 per hour) exactly 20 run (notify).
"""

from __future__ import annotations

import itertools
import json
import subprocess
from collections import Counter
from typing import Any

from tests.conftest import NOW
from tests.ledger_store import _workers
from tests.ledger_store.conftest import open_target

from remit.ledger.log import Ledger
from remit.ledger.verify import CheckpointIn, verify_log
from remit.signing.keys import SigningKey
from remit.tlog.checkpoint import open_checkpoint

PROCESSES = 4
PER_PROCESS = 200


def run_together(argvs: list[list[str]], timeout: float = 120) -> list[Any]:
    """Start every worker, wait until all are ready, release them at once, collect JSON."""
    procs = [_workers.start(*argv) for argv in argvs]
    try:
        for p in procs:
            assert p.stdout is not None
            line = p.stdout.readline()
            if line.strip() != "ready":
                _, err = p.communicate(timeout=timeout)
                raise AssertionError(f"worker did not start: {line!r}\n{err}")
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        results = []
        for p in procs:
            out, err = p.communicate(timeout=timeout)
            assert p.returncode == 0, err
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_concurrent_appends_stay_gap_free_and_complete(db_target: str, log_key: SigningKey) -> None:
    open_target(db_target).close()  # create the schema once, before the race
    results = run_together(
        [["append", db_target, str(w), str(PER_PROCESS), str(1000 + w)] for w in range(PROCESSES)]
    )
    total = PROCESSES * PER_PROCESS
    acked: dict[int, tuple[int, int]] = {}
    for r in results:
        indexes = [i for _, i in r["acked"]]
        assert [s for s, _ in r["acked"]] == list(range(PER_PROCESS))
        assert indexes == sorted(indexes), "one process's appends must keep their order"
        for seq, index in r["acked"]:
            assert index not in acked, f"index {index} acknowledged twice"
            acked[index] = (r["worker"], seq)
    assert sorted(acked) == list(range(total))

    store = open_target(db_target)
    try:
        assert store.size() == total
        entries = list(store.entries())
        assert [e.index for e in entries] == list(range(total))
        per_worker: Counter[int] = Counter()
        for e in entries:
            worker, seq = acked[e.index]
            assert e.body == _workers.worker_entry(worker, seq).body
            per_worker[worker] += 1
        assert per_worker == dict.fromkeys(range(PROCESSES), PER_PROCESS)
        # Batches from several processes interleaved (otherwise this tested nothing).
        owners = [acked[i][0] for i in range(total)]
        assert sum(a != b for a, b in itertools.pairwise(owners)) > PROCESSES

        cp = Ledger(store, log_key).checkpoint(NOW)
        assert cp.size == total
        parsed = open_checkpoint(cp.note, [log_key.verifier()], expected_origin=log_key.name)
        assert parsed.root == store.root()
        cps = [CheckpointIn(c.size, c.note) for c in store.checkpoints()]
        report = verify_log(store.raw_rows(), cps, log_key.verifier(), store.stored_nodes(), store)
        assert report.ok, report.problems
        assert (report.size, report.root, report.uncovered) == (total, cp.root, 0)
    finally:
        store.close()


def test_rate_window_is_counted_atomically_across_processes(db_target: str) -> None:
    """Rule R7 lets 20 actions per hour run; 30 requests race from 5 processes."""
    open_target(db_target).close()
    results = run_together([["decide", db_target, "6"] for _ in range(5)])
    decisions = [d for r in results for d in r]
    assert len(decisions) == 30
    tiers = Counter(d["tier"] for d in decisions)
    assert tiers == {"notify": 20, "approve": 10}, tiers
    for d in decisions:
        assert d["extra"]["ledger_index"] is not None
        assert ("RATE_LIMIT_EXCEEDED" in d["codes"]) == (d["tier"] == "approve"), d
    store = open_target(db_target)
    try:
        # The ledger order is the serialisation order: the first 20 ran, the rest did not.
        recorded = [json.loads(e.body)["data"]["decision"] for e in store.entries()]
        assert [d["tier"] for d in recorded] == ["notify"] * 20 + ["approve"] * 10
        by_index = {d["extra"]["ledger_index"]: d for d in decisions}
        assert sorted(by_index) == list(range(30))
        for index, d in enumerate(recorded):
            assert by_index[index]["id"] == d["id"]
        assert store.actions_in_window("remediator", "R7-revoke-stale", NOW) == 20
    finally:
        store.close()


def test_workers_start_and_fail_loudly() -> None:
    """The harness itself: a worker given a bad command exits non-zero (so a broken worker
    can never look like an empty, passing run)."""
    p = _workers.start("nonsense", "nowhere")
    _, err = p.communicate(timeout=60)
    assert p.returncode != 0
    assert "unknown command" in err
    assert isinstance(p, subprocess.Popen)
