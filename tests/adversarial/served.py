"""A real `remit serve` (HTTP process plus decision writer) for the robustness tests:
started on a given ledger with extra flags, with an agent key, its processes' ids and
memory, and always stopped."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import httpx
from tests.server.srvkit import bearer, cli_env, ok, read_request, write_envelope

import remit as remit_package
from remit.aws.moto_server import free_port
from remit.signing.keys import generate_signing_key, write_key_pair

SRC = Path(remit_package.__file__).resolve().parents[1]
"""The source tree under test (the shared venv's `remit` script may import another)."""


def run_env() -> dict[str, str]:
    return {**cli_env(), "PYTHONPATH": str(SRC)}


def remit_cmd(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "remit.cli", *map(str, args)]


def remit(*args: str | Path, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        remit_cmd(*args), cwd=cwd, env=run_env(), capture_output=True, text=True, timeout=timeout
    )


@dataclass
class Served:
    url: str
    proc: subprocess.Popen[bytes]
    db: Path
    agent: str
    log: Path
    log_fh: IO[bytes]

    def logs(self) -> str:
        self.log_fh.flush()
        return self.log.read_text(errors="replace")

    def decide(self, timeout: float = 30) -> httpx.Response:
        return httpx.post(
            f"{self.url}/v1/decisions",
            json=read_request(),
            headers=bearer(self.agent),
            timeout=timeout,
        )

    def ready(self, timeout: float = 30) -> httpx.Response:
        return httpx.get(f"{self.url}/readyz", timeout=timeout)

    def writer_pid(self) -> int | None:
        """The decision writer: the process whose parent is the forkserver under us."""
        for pid in _descendants(self.proc.pid):
            parent = _ppid(pid)
            if parent is not None and b"forkserver" in _cmdline(parent):
                return pid
        return None

    def rss_kb(self) -> int:
        """Resident memory of the HTTP process, in KiB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def alive(self) -> bool:
        return self.proc.poll() is None


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            parent = _ppid(int(entry))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def decision(resp: httpx.Response) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def is_unrecorded_deny(d: dict[str, Any]) -> bool:
    codes = [r["code"] for r in d["reasons"]]
    return d["tier"] == "deny" and not d["recorded"] and "LEDGER_UNAVAILABLE" in codes


def wait_for(check: Any, timeout: float, what: str, step: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(step)
    raise AssertionError(f"{what}: not within {timeout}s (last: {last!r})")


def prepare(folder: Path, db: Path, key: bool = True) -> tuple[Path, Path, str]:
    """An envelope signed for the real clock, its trusted key, and (with `key`) an agent
    key on `db`."""
    folder.mkdir(parents=True, exist_ok=True)
    ciso = generate_signing_key("example.com/ciso")
    write_key_pair(folder / "ciso", ciso)
    now = datetime.now(UTC)
    envelope = write_envelope(
        folder, ciso, signed_at=now - timedelta(days=1), expires_at=now + timedelta(days=365)
    )
    if not key:
        return envelope, folder / "ciso.pub", ""
    out = ok(
        remit("keys", "create", "--init", "--role", "agent", "--agent", "remediator",
              "--name", "bot", "--db", db, cwd=folder)
    ).stdout  # fmt: skip
    return envelope, folder / "ciso.pub", out.rstrip("\n").splitlines()[-1]


@contextmanager
def served(
    folder: Path, db: Path, *flags: str, nofile: int | None = None, wait: bool = True
) -> Iterator[Served]:
    """`remit serve` on `db` with `flags` (and an fd limit of `nofile`); stopped after.
    With `wait`, an agent key is created first and it is waited for until ready."""
    envelope, trusted, agent = prepare(folder, db, key=wait)
    port = free_port()
    log = folder / "serve.log"
    fh = log.open("wb")

    def limit() -> None:
        if nofile is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    proc = subprocess.Popen(
        remit_cmd("serve", "--envelope", envelope, "--trusted-keys", trusted,
                  "--db", db, "--port", str(port), *flags),
        cwd=folder, env=run_env(), stdout=fh, stderr=subprocess.STDOUT, preexec_fn=limit,
    )  # fmt: skip
    s = Served(f"http://127.0.0.1:{port}", proc, db, agent, log, fh)
    try:
        if wait:
            wait_for(lambda: _ready_or_dead(s), 60, "remit serve ready")
        yield s
    finally:
        for pid in [s.writer_pid()]:
            if pid is not None:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGCONT)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        fh.close()


def _ready_or_dead(s: Served) -> bool:
    if s.proc.poll() is not None:
        raise AssertionError(f"remit serve exited {s.proc.returncode}:\n{s.logs()}")
    try:
        return s.ready(timeout=5).status_code == 200
    except httpx.HTTPError:
        return False
