"""`python -m remit.demo.mcp` (named in README.md) runs end to end: the real
awslabs.iam-mcp-server behind the proxy, driven by the `mcp` SDK's client, with the
ledger's evidence printed and verified. Slow (it starts moto, `remit serve`, the proxy and
the IAM server): `pytest -m slow tests/mcp/test_demo_mcp.py`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_mcp_demo_runs_and_shows_each_tier(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REMIT_", "AWS_"))}
    env.update(PYTHONPATH=str(REPO / "src"), COLUMNS="200", NO_COLOR="1", TERM="dumb")
    work = tmp_path / "demo"
    r = subprocess.run([sys.executable, "-m", "remit.demo.mcp", "--workdir", str(work)],
                       env=env, capture_output=True, text=True, timeout=240)  # fmt: skip
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "list roles under /ci/: autonomous → forwarded" in out
    assert "Remit holds iam:DeleteRolePolicy for approval" in out  # the progress message
    assert "delete prod-batch's inline policy: approve → forwarded" in out
    assert "break-glass role's inline policy: deny → refused" in out
    assert "R9-break-glass-role" in out and "none (never forwarded)" in out
    assert "Ledger verified offline" in out
    assert "prod-batch inline policies [], OrganizationAccountAccessRole ['s3-all']" in out
    # a folder the demo did not make is refused, not deleted
    other = tmp_path / "mine"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    r = subprocess.run([sys.executable, "-m", "remit.demo.mcp", "--workdir", str(other)],
                       env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 2 and (other / "keep.txt").exists()
