"""Subprocess workers for the ledger store tests (run as `python -m tests.ledger_store._workers`).

Not a test module. Each command opens its own store on the target it is given (an SQLite
path or a postgresql:// URL), so several OS processes really share one ledger.

    append   TARGET WORKER COUNT SEED  append COUNT entries of WORKER in batches of 1-5
    decide   TARGET COUNT              decide the example request COUNT times (rule R7)
    crash    TARGET                    sign a checkpoint, then append one entry at a time
                                       forever, printing each acknowledged index
    diskfull TARGET                    decide with no file allowed to grow
                                       (a full disk), then with it lifted

`append` and `decide` print "ready", wait for a line on stdin (so all workers start
together), then print one JSON line with what they did.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from remit.ledger.kinds import NoteRecord
from remit.ledger.records import NewEntry, make_entry

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)
KEY_ENV = "REMIT_TEST_LOG_KEY"


def worker_entry(worker: int, seq: int) -> NewEntry:
    """The entry number `seq` of concurrent writer `worker` (unique per pair)."""
    record = NoteRecord({"worker": worker, "seq": seq})
    return make_entry(record, T0 + timedelta(milliseconds=seq), f"worker-{worker}")


def crash_entry(index: int) -> NewEntry:
    """The entry the crash writer puts at `index`: its bytes follow from the index alone."""
    pad = hashlib.sha256(str(index).encode()).hexdigest() * (1 + index % 7)
    return make_entry(
        NoteRecord({"i": index, "pad": pad}), T0 + timedelta(seconds=index), "crash-writer"
    )


def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start a worker subprocess (stdin/stdout pipes, text mode) from the repository root."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.ledger_store._workers", *args],
        cwd=REPO,
        env=full_env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _open(target: str) -> Any:
    from remit.ledger.open import open_store

    return open_store(target)


def _wait_for_go() -> None:
    print("ready", flush=True)
    sys.stdin.readline()


def _recorder(store: Any) -> tuple[Any, Any]:
    """A DecisionRecorder over the example envelope (signed off) and the example request."""
    from tests.conftest import EXAMPLES, SIGNED_AT

    from remit.decide import Gate
    from remit.domain import ActionRequest
    from remit.domain.trust import EnvelopeTrust
    from remit.envelope import load_envelope
    from remit.ledger.log import Ledger
    from remit.recorder.decisions import DecisionRecorder

    loaded = load_envelope(EXAMPLES / "envelope.yaml")
    gate = Gate(loaded.envelope, loaded.digest, EnvelopeTrust(True, SIGNED_AT, "signed off"))
    request = ActionRequest.model_validate(json.loads((EXAMPLES / "request.json").read_text()))
    return DecisionRecorder(gate, Ledger(store)), request


def _summary(d: Any) -> dict[str, Any]:
    return {
        "id": d.id,
        "tier": d.tier.value,
        "codes": [r.code.value for r in d.reasons],
        "extra": d.extra,
    }


def cmd_append(target: str, worker: int, count: int, seed: int) -> None:
    rng = random.Random(seed)
    store = _open(target)
    _wait_for_go()
    acked: list[tuple[int, int]] = []  # (seq, index)
    seq = 0
    while seq < count:
        n = min(rng.randint(1, 5), count - seq)
        indexes = store.append([worker_entry(worker, s) for s in range(seq, seq + n)])
        acked.extend(zip(range(seq, seq + n), indexes, strict=True))
        seq += n
        time.sleep(0.002)  # yield between batches, so writers really interleave under load
    store.close()
    print(json.dumps({"worker": worker, "acked": acked}), flush=True)


def cmd_decide(target: str, count: int) -> None:
    from tests.conftest import NOW

    store = _open(target)
    recorder, request = _recorder(store)
    _wait_for_go()
    out = [_summary(recorder.decide(request, "concurrency-test", NOW)) for _ in range(count)]
    store.close()
    print(json.dumps(out), flush=True)


def cmd_crash(target: str) -> None:
    from remit.ledger.log import Ledger
    from remit.signing.keys import parse_skey

    key = parse_skey(os.environ[KEY_ENV])
    store = _open(target)
    Ledger(store, key).checkpoint(datetime.now(UTC))
    print("started", flush=True)
    while True:
        _, indexes = store.append_computed(lambda _state, size: [crash_entry(size)])
        print(indexes[0], flush=True)


def cmd_diskfull(target: str) -> None:
    import resource
    import signal

    from tests.conftest import NOW

    store = _open(target)
    recorder, request = _recorder(store)
    for _ in range(5):
        recorder.decide(request, "diskfull-test", NOW)
    before = store.size()
    # No file may grow: neither the WAL nor the database (the store reconnects after a
    # storage error, and closing its last connection checkpoints the WAL into the
    # database and truncates it, which a full disk would not allow either).
    limit = min(Path(target + "-wal").stat().st_size, Path(target).stat().st_size)
    _, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    full = [_summary(recorder.decide(request, "diskfull-test", NOW)) for _ in range(3)]
    resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
    size_while_full = store.size()  # before anything else is written (a read can fail
    # while full: reopening the connection after the storage error writes too)
    after = _summary(recorder.decide(request, "diskfull-test", NOW))
    result = {
        "before": before,
        "full": full,
        "size_while_full": size_while_full,
        "after": after,
        "size_after": store.size(),
    }
    store.close()
    print(json.dumps(result), flush=True)


def main(argv: list[str]) -> None:
    cmd, target, *rest = argv
    if cmd == "append":
        cmd_append(target, int(rest[0]), int(rest[1]), int(rest[2]))
    elif cmd == "decide":
        cmd_decide(target, int(rest[0]))
    elif cmd == "crash":
        cmd_crash(target)
    elif cmd == "diskfull":
        cmd_diskfull(target)
    else:
        raise SystemExit(f"unknown command {cmd!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
