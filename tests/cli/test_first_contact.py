"""First contact: `remit --version`, `remit init` (a working set-up, keys kept private
and out of git), `remit serve` that says where it listens and logs each request and
decision as a JSON line, a busy port refused before anything is written, and reasons
whose first line is the answer."""

from __future__ import annotations

import json
import re
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.cli.clikit import NOW, REMIT, cli_env, example_request, ok, remit, tree_files, write_json
from tests.cli.conftest import Keys


def test_version() -> None:
    proc = ok(remit("--version", cwd=Path.cwd()))
    assert re.fullmatch(r"remit \S+\n", proc.stdout)


def test_init_scaffolds_a_working_setup(tmp_path: Path) -> None:
    proc = ok(remit("init", "proj", "--org", "acme.test", cwd=tmp_path))
    d = tmp_path / "proj"
    for f in ("envelope.yaml", "remit.yaml", ".gitignore", ".remit/remit.db"):
        assert (d / f).is_file(), f
    assert stat.S_IMODE((d / "keys").stat().st_mode) == 0o700
    for key in ("signoff.key", "log.key"):
        assert stat.S_IMODE((d / "keys" / key).stat().st_mode) == 0o600
    ignored = (d / ".gitignore").read_text()
    assert "keys/*.key" in ignored and ".remit/" in ignored
    # git really ignores the private keys and the ledger, and not the public keys
    subprocess.run(["git", "init", "-q", str(d)], check=True)
    listed = subprocess.run(
        ["git", "-C", str(d), "status", "--porcelain", "--untracked-files=all"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "signoff.pub" in listed and "envelope.yaml" in listed
    assert ".key" not in listed and "remit.db" not in listed
    assert "remit envelope sign envelope.yaml --key keys/signoff.key" in proc.stderr
    # the next commands it prints work as printed
    ok(remit("envelope", "check", "envelope.yaml", cwd=d))
    sign = ["envelope", "sign", "envelope.yaml", "--signer", "me@acme.test", "--role", "CISO"]
    refused = ok(remit(*sign, "--key", "keys/log.key", cwd=d), 2)
    assert "ledger log key" in refused.stderr
    ok(remit(*sign, "--key", "keys/signoff.key", cwd=d))
    created = ok(
        remit(
            "keys",
            "create",
            "--role",
            "agent",
            "--agent",
            "my-agent",
            "--name",
            "bot",
            "--envelope",
            "envelope.yaml",
            cwd=d,
        )
    )
    assert created.stdout.splitlines()[-1].startswith("rk_")
    read = example_request(agent="my-agent", action="iam:ListRoles")
    read["resources"] = [{"arn": "arn:aws:iam::111122223333:role/x", "tags": {}}]
    read["provenance"] = {"model": {"name": "my-model", "version": "1"}}
    write_json(d / "read.json", read)
    dec = json.loads(
        ok(
            remit(
                "decide",
                "--envelope",
                "envelope.yaml",
                "--trusted-keys",
                "keys/signoff.pub",
                "--request",
                "read.json",
                cwd=d,
            )
        ).stdout
    )
    assert dec["tier"] == "autonomous", dec["reasons"]
    assert dec["reasons"][0]["message"].startswith("Autonomous: Matched R1-read")
    # a second init refuses and changes nothing
    before = tree_files(d)
    ok(remit("init", "proj", cwd=tmp_path), 2)
    assert tree_files(d) == before


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def service(ws: Path, keys: Keys) -> Iterator[tuple[str, str, subprocess.Popen[str]]]:
    """`remit serve --port 0 --init` in the signed example; yields URL, agent key, process."""
    out = ok(
        remit(
            "keys",
            "create",
            "--role",
            "agent",
            "--agent",
            "remediator",
            "--name",
            "bot",
            "--db",
            "serve.db",
            "--init",
            cwd=ws,
        )
    ).stdout
    key = out.splitlines()[-1]
    proc = subprocess.Popen(
        [
            str(REMIT),
            "serve",
            "--envelope",
            "envelope.yaml",
            "--trusted-keys",
            str(keys.ciso_pub),
            "--db",
            "serve.db",
            "--port",
            "0",
            "--log-key",
            str(keys.log_key),
        ],
        cwd=ws,
        env=cli_env(),
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stderr is not None
    try:
        banner = [proc.stderr.readline() for _ in range(6)]
        m = re.match(r"remit: serving on (http://127\.0\.0\.1:(\d+))\n", banner[0])
        assert m and int(m.group(2)) > 0, banner
        url = m.group(1)
        text = "".join(banner)
        assert "prod-security-automation v7: signed off by ciso@example.com (CISO)" in text
        assert f"SQLite {ws / 'serve.db'}" in text
        assert "example.com/remit-log" in text and "local (no cloud" in text
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and proc.poll() is None, "not ready"
            time.sleep(0.2)
        yield url, key, proc
    finally:
        proc.terminate()
        proc.wait(10)


def test_serve_prints_its_address_and_logs_json_lines(
    service: tuple[str, str, subprocess.Popen[str]], ws: Path
) -> None:
    url, key, proc = service
    request = json.loads((ws / "request.json").read_text())
    r = httpx.post(f"{url}/v1/decisions", json=request, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    decision = r.json()
    assert proc.stderr is not None
    lines = []
    while not any(line.get("event") == "decision" for line in lines):
        lines.append(json.loads(proc.stderr.readline()))
    (logged,) = [line for line in lines if line.get("event") == "decision"]
    assert logged["id"] == decision["id"] and logged["tier"] == decision["tier"] == "notify"
    assert logged["ledger_index"] == decision["ledger_index"]
    assert logged["method"] == "POST" and logged["status"] == 200 and logged["ms"] > 0
    assert key not in json.dumps(lines)  # never the caller's key
    assert any(line["path"] == "/readyz" and line["event"] == "request" for line in lines)
    # Prometheus metrics: what the ledger holds, and how long deciding took
    metrics = httpx.get(f"{url}/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'remit_decisions_recorded{tier="notify"} 1.0' in text
    assert 'remit_decisions_recorded{tier="deny"} 0.0' in text
    assert "remit_decision_seconds_count 1.0" in text
    assert "remit_approvals_pending 0.0" in text and "remit_writer_restarts 0.0" in text
    size = int(float(re.search(r"^remit_ledger_entries (\S+)$", text, re.M).group(1)))  # type: ignore[union-attr]
    assert size == decision["ledger_index"] + 1


def test_busy_port_exits_2_before_anything_is_written(ws: Path, keys: Keys) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        before = tree_files(ws)
        proc = remit(
            "serve",
            "--envelope",
            "envelope.yaml",
            "--trusted-keys",
            keys.ciso_pub,
            "--db",
            "new.db",
            "--init",
            "--port",
            str(port),
            cwd=ws,
            timeout=60,
        )
    assert proc.returncode == 2, proc.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr and "in use" in proc.stderr
    assert tree_files(ws) == before and not (ws / "new.db").exists()


def test_first_reason_is_the_answer(ws: Path, keys: Keys) -> None:
    """A request denied for missing reasoning: the first reason says deny and why, and no
    reason tells it what an approve (or any other) decision would need."""
    bare = example_request()
    bare["reasoning"] = {"confidence": 0.95}
    write_json(ws / "bare.json", bare)
    d = json.loads(
        ok(
            remit(
                "decide",
                "--envelope",
                "envelope.yaml",
                "--trusted-keys",
                keys.ciso_pub,
                "--request",
                "bare.json",
                "--now",
                NOW,
                "--db",
                "l.db",
                "--init",
                cwd=ws,
            )
        ).stdout
    )
    assert d["tier"] == "deny"
    first = d["reasons"][0]["message"]
    assert first.startswith("Deny, set by REASONING_INCOMPLETE:"), first
    assert "strictest tier is" not in first
    text = " ".join(r["message"] for r in d["reasons"])
    assert "decision needs" not in text and "approve decision" not in text
    # and a request that is allowed says so first
    ok_d = json.loads(
        ok(
            remit(
                "decide",
                "--envelope",
                "envelope.yaml",
                "--trusted-keys",
                keys.ciso_pub,
                "--request",
                "request.json",
                "--now",
                NOW,
                "--db",
                "l.db",
                cwd=ws,
            )
        ).stdout
    )
    assert ok_d["reasons"][0]["message"].startswith(
        "Notify (runs now, people are told), set by SEVERITY_FLOOR:"
    )
