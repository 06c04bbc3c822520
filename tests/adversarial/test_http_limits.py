"""Item 6 of issue 12: bounded request heads and connections, against a real `remit
serve`. Oversized heads are refused (431), unfinished ones do not grow the HTTP process,
slow (slowloris) and idle connections are timed out or evicted, and legitimate requests
are served throughout, with the file descriptor limit at 256."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.adversarial.served import Served, served


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Served]:
    db = tmp_path / "ledger" / "remit.db"
    with served(tmp_path, db, "--request-read-timeout", "2", nofile=256) as s:
        yield s


def _connect(s: Served) -> socket.socket:
    host, port = s.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    return sock


def _legit(s: Served) -> None:
    r = httpx.get(f"{s.url}/healthz", timeout=10)
    assert r.status_code == 200, r.text


def _answer(sock: socket.socket, wait: float = 10) -> bytes:
    """What the server sent before closing (b"" if it closed without a word)."""
    sock.settimeout(wait)
    out = b""
    with contextlib.suppress(OSError):
        while chunk := sock.recv(65536):
            out += chunk
    return out


def test_an_oversized_head_is_refused(server: Served) -> None:
    r = httpx.get(f"{server.url}/healthz", headers={"x-big": "a" * 8_000_000}, timeout=30)
    assert r.status_code == 431
    r = httpx.get(f"{server.url}/healthz", headers={"x-big": "a" * 20_000}, timeout=30)
    assert r.status_code == 431
    _legit(server)


def test_unfinished_huge_header_lines_do_not_grow_the_process(server: Served) -> None:
    _legit(server)
    before = server.rss_kb()
    socks = []
    for _ in range(40):
        sock = _connect(server)
        sock.settimeout(2)
        with contextlib.suppress(OSError):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-long: " + b"a" * 4_000_000)
        socks.append(sock)
    _legit(server)
    grown = server.rss_kb() - before
    for sock in socks:
        answer = _answer(sock)  # 431, or reset while the client was still sending
        assert answer == b"" or answer.startswith(b"HTTP/1.1 431"), answer[:80]
        sock.close()
    assert grown < 32_000, f"the HTTP process grew {grown} KiB"


def test_slow_heads_are_cut_off_and_others_served(server: Served) -> None:
    socks = [_connect(server) for _ in range(30)]
    for sock in socks:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
    started = time.monotonic()
    while time.monotonic() - started < 4:  # one header byte at a time: never finishes
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.sendall(b"x")
        _legit(server)
        time.sleep(0.3)
    for sock in socks:
        assert _answer(sock, wait=5).startswith(b"HTTP/1.1 408"), "slow head not cut off"
        sock.close()


def test_idle_connections_neither_stay_nor_starve_others(server: Served) -> None:
    idle = [_connect(server) for _ in range(300)]  # more than the fd limit of 256
    try:
        for _ in range(5):
            _legit(server)
        # a connection that never sends anything is closed after the read timeout
        quiet = _connect(server)
        started = time.monotonic()
        assert _answer(quiet, wait=10).startswith(b"HTTP/1.1 408")
        assert time.monotonic() - started < 5
        quiet.close()
    finally:
        for sock in idle:
            sock.close()
    _legit(server)
