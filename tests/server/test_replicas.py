"""Two real `remit serve` processes over one PostgreSQL database: one approval queue
(an approval given on B releases an agent long-polling on A), one set of rate windows
(the 21st action in a 20-per-hour window is held whichever replica gets it), and one
gap-free ledger that `remit ledger verify` accepts."""

from __future__ import annotations

import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
import psycopg
import pytest
from tests.server.conftest import Pki
from tests.server.srvkit import (
    REMIT,
    bearer,
    cli_env,
    example_request,
    held_request,
    ok,
    reason_codes,
    remit,
    write_envelope,
)

from remit.aws.moto_server import free_port

pytestmark = pytest.mark.postgres


@dataclass
class Replica:
    name: str
    url: str
    proc: subprocess.Popen[bytes]
    log: Path
    log_fh: IO[bytes]

    def logs(self) -> str:
        self.log_fh.flush()
        return self.log.read_text(errors="replace")


@dataclass
class Cluster:
    a: Replica
    b: Replica
    db: str
    folder: Path
    agent: str
    alice: str
    auditor: str


def _create_key(db: str, cwd: Path, *args: str) -> str:
    out = ok(remit("keys", "create", *args, "--db", db, cwd=cwd)).stdout
    return out.rstrip("\n").splitlines()[-1]


def _start(name: str, folder: Path, envelope: Path, pki: Pki, db: str) -> Replica:
    port = free_port()
    log = folder / f"replica-{name}.log"
    fh = log.open("wb")
    proc = subprocess.Popen(
        [
            str(REMIT), "serve",
            "--envelope", str(envelope),
            "--trusted-keys", str(pki.ciso_pub),
            "--db", db,
            "--log-key", str(pki.log_key),
            "--port", str(port),
            "--checkpoint-every", "1",
        ],
        cwd=folder,
        env=cli_env(),
        stdout=fh,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    return Replica(name, f"http://127.0.0.1:{port}", proc, log, fh)


def _wait_ready(r: Replica, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if r.proc.poll() is not None:
            pytest.fail(f"replica {r.name} exited {r.proc.returncode}:\n{r.logs()}")
        try:
            resp = httpx.get(f"{r.url}/readyz", timeout=2)
            if resp.status_code == 200:
                return
            last = f"{resp.status_code} {resp.text}"
        except httpx.HTTPError as exc:
            last = repr(exc)
        time.sleep(0.2)
    pytest.fail(f"replica {r.name} not ready after {timeout}s ({last}):\n{r.logs()}")


def _stop(r: Replica) -> None:
    if r.proc.poll() is None:
        r.proc.terminate()
        try:
            r.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            r.proc.kill()
            r.proc.wait(timeout=10)
    r.log_fh.close()


ClusterFactory = Callable[..., Cluster]


@pytest.fixture
def make_cluster(pg_url: str, pki: Pki, tmp_path: Path) -> Iterator[ClusterFactory]:
    """Starts two replicas over the fresh database (once per test); always stops them."""
    replicas: list[Replica] = []

    def make(approval_timeout: str | None = None) -> Cluster:
        now = datetime.now(UTC)  # real processes use the real clock
        envelope = write_envelope(
            tmp_path,
            pki.ciso,
            signed_at=now - timedelta(days=1),
            expires_at=now + timedelta(days=365),
            approval_timeout=approval_timeout,
        )
        db = pg_url
        bot = ("--agent", "remediator", "--name", "bot")
        agent = _create_key(db, tmp_path, "--role", "agent", *bot)
        alice = _create_key(db, tmp_path, "--role", "approver", "--name", "alice")
        auditor = _create_key(db, tmp_path, "--role", "auditor", "--name", "audit")
        for name in ("a", "b"):  # started together: both race to record the sign-off
            replicas.append(_start(name, tmp_path, envelope, pki, db))
        for r in replicas:
            _wait_ready(r)
        return Cluster(replicas[0], replicas[1], db, tmp_path, agent, alice, auditor)

    try:
        yield make
    finally:
        for r in replicas:
            _stop(r)


@pytest.fixture
def cluster(make_cluster: ClusterFactory) -> Cluster:
    return make_cluster()


def _post(url: str, key: str, body: dict[str, Any], timeout: float = 30) -> httpx.Response:
    return httpx.post(url, json=body, headers=bearer(key), timeout=timeout)


def _entry_indexes(db: str) -> list[int]:
    with psycopg.connect(db, connect_timeout=5) as conn:
        return [int(r[0]) for r in conn.execute("SELECT idx FROM entries ORDER BY idx")]


def _verify_ledger(c: Cluster, pki: Pki) -> None:
    ok(remit("ledger", "checkpoint", "--db", c.db, "--log-key", pki.log_key, cwd=c.folder))
    out = ok(
        remit("ledger", "verify", "--db", c.db, "--public-key", pki.log_pub, cwd=c.folder)
    ).stdout
    assert "OK" in out, out
    idx = _entry_indexes(c.db)
    assert idx == list(range(len(idx))), "the shared ledger has gaps or duplicates"
    for r in (c.a, c.b):  # background checkpoints and expiry ran without errors
        assert "Traceback" not in r.logs(), r.logs()


def test_one_approval_queue_across_replicas(cluster: Cluster, pki: Pki) -> None:
    c = cluster
    r = _post(f"{c.a.url}/v1/decisions", c.agent, held_request())
    assert r.status_code == 200, r.text
    d = r.json()
    assert (d["tier"], d["status"]) == ("approve", "pending")
    # listed as pending on the other replica, with the request
    r = httpx.get(f"{c.b.url}/v1/approvals?state=pending", headers=bearer(c.alice), timeout=10)
    assert r.status_code == 200, r.text
    (item,) = r.json()
    assert item["approval"]["decision_id"] == d["id"]
    assert item["request"]["reasoning"]["confidence"] == 0.5

    # an agent long-polls on A; the approval is given on B
    polled: dict[str, Any] = {}

    def poll() -> None:
        resp = httpx.get(
            f"{c.a.url}/v1/decisions/{d['id']}?wait=20", headers=bearer(c.agent), timeout=30
        )
        polled["at"] = time.monotonic()
        polled["response"] = resp

    waiter = threading.Thread(target=poll)
    waiter.start()
    time.sleep(1.5)
    assert waiter.is_alive(), f"the long-poll returned before the approval: {polled}"
    approved_at = time.monotonic()
    r = _post(
        f"{c.b.url}/v1/approvals/{d['id']}/approve",
        c.alice,
        {"comment": "ok from B", "request_digest": d["approval"]["request_digest"]},
    )
    assert r.status_code == 200, r.text
    waiter.join(timeout=25)
    assert not waiter.is_alive()
    resp = polled["response"]
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "allowed"
    assert resp.json()["approval"]["comment"] == "ok from B"
    assert polled["at"] - approved_at < 3, "the waiting agent was not released promptly"

    # the queue is one: A knows it is resolved, and refuses to resolve it again
    r = _post(f"{c.a.url}/v1/approvals/{d['id']}/reject", c.alice, {"comment": "late"})
    assert r.status_code == 409, r.text
    r = httpx.get(f"{c.a.url}/v1/decisions/{d['id']}", headers=bearer(c.auditor), timeout=10)
    assert r.json()["status"] == "allowed"
    _verify_ledger(c, pki)


def test_one_rate_window_across_replicas(cluster: Cluster, pki: Pki) -> None:
    c = cluster
    urls = [f"{(c.a if i % 2 == 0 else c.b).url}/v1/decisions" for i in range(25)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(lambda u: _post(u, c.agent, example_request()), urls))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    decisions = [r.json() for r in responses]
    tiers = Counter(d["tier"] for d in decisions)
    assert tiers == {"notify": 20, "approve": 5}, tiers
    for d in decisions:
        if d["tier"] == "approve":
            assert "RATE_LIMIT_EXCEEDED" in reason_codes(d), d
            assert d["status"] == "pending"
    assert len({d["id"] for d in decisions}) == 25
    assert len({d["ledger_index"] for d in decisions}) == 25
    # the 26th, on either replica, is held too
    for replica in (c.a, c.b):
        r = _post(f"{replica.url}/v1/decisions", c.agent, example_request())
        assert r.json()["tier"] == "approve", r.text
        assert "RATE_LIMIT_EXCEEDED" in reason_codes(r.json())
    # both replicas sign checkpoints of the one log; it verifies as a whole
    r = httpx.get(f"{c.b.url}/v1/ledger/checkpoint", headers=bearer(c.auditor), timeout=10)
    assert r.status_code == 200, r.text
    _verify_ledger(c, pki)
    with psycopg.connect(c.db, connect_timeout=5) as conn:
        (checkpoints,) = conn.execute("SELECT COUNT(*) FROM checkpoints").fetchone()  # type: ignore[misc]
    assert checkpoints >= 1


def test_expiry_is_recorded_once_across_replicas(make_cluster: ClusterFactory, pki: Pki) -> None:
    c = make_cluster(approval_timeout="PT2S")
    r = _post(f"{c.a.url}/v1/decisions", c.agent, held_request())
    d = r.json()
    assert (d["tier"], d["status"]) == ("approve", "pending"), r.text
    # the agent waits on B; the approval times out; both replicas' expiry loops run
    resp = httpx.get(
        f"{c.b.url}/v1/decisions/{d['id']}?wait=15", headers=bearer(c.agent), timeout=30
    )
    assert resp.json()["status"] == "denied", resp.text
    assert resp.json()["approval"]["state"] == "expired"
    deadline = time.monotonic() + 10
    rows: list[tuple[Any, ...]] = []
    while time.monotonic() < deadline and not rows:
        with psycopg.connect(c.db, connect_timeout=5) as conn:
            rows = conn.execute(
                "SELECT state, actor FROM approval_actions WHERE decision_id = %s", (d["id"],)
            ).fetchall()
        time.sleep(0.2)
    assert rows == [("expired", "system:remit")]
    time.sleep(2.5)  # a few more rounds of both loops: still one entry, no errors
    r = _post(f"{c.a.url}/v1/approvals/{d['id']}/approve", c.alice, {"comment": "late"})
    assert r.status_code == 409, r.text
    _verify_ledger(c, pki)
    with psycopg.connect(c.db, connect_timeout=5) as conn:
        (n,) = conn.execute(  # type: ignore[misc]
            "SELECT COUNT(*) FROM entries WHERE kind = 'approval'"
        ).fetchone()
    assert n == 1
