"""docs/getting-started.md works as written: scripts/getting-started.sh (the page's
commands, in order) goes from nothing to an approved, credentialed, recorded and verified
action against a local moto cloud."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from tests.cli.clikit import REMIT, REPO, cli_env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_getting_started_runs_as_written(tmp_path: Path) -> None:
    env = cli_env(
        PATH=f"{REMIT.parent}{os.pathsep}{os.environ['PATH']}",
        MOTO_PORT=str(_free_port()),
        REMIT_PORT=str(_free_port()),
    )
    proc = subprocess.run(
        [str(REPO / "scripts" / "getting-started.sh"), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert "remit: serving on http://127.0.0.1:" in out
    assert "done under decision dec_" in out
    assert "state: approved" in out and "comment: checked: unused for 90 days" in out
    assert "this credential can do exactly: iam:DetachRolePolicy on" in out
    assert "status: succeeded" in out and "revoked: True" in out
    assert "OK: " in out and "1 checkpoint(s) verified" in out
    doc = (REPO / "docs" / "getting-started.md").read_text()
    assert "scripts/getting-started.sh" in doc
