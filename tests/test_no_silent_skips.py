"""Tests that need the shared test data skip without it locally, but fail under CI: a CI
run must not pass by silently skipping them. Proved by running pytest on one such file in
a subprocess with the data pointed at an empty folder (`REMIT_TESTDATA`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.testdata import REPO

NEEDS_DATA = "tests/signing/test_keys.py"  # its vector tests read rfc6962_vectors.json


def _pytest(tmp_path: Path, ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["REMIT_TESTDATA"] = str(tmp_path)
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", NEEDS_DATA, "-q", "-rs", "-p", "no:cacheprovider"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_missing_testdata_fails_under_ci(tmp_path: Path) -> None:
    r = _pytest(tmp_path, ci=True)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"signed-note vectors not found at {tmp_path / 'rfc6962_vectors.json'}" in r.stdout, (
        r.stdout
    )
    assert "(CI is set, so this is a failure, not a skip)" in r.stdout
    assert "skipped" not in r.stdout.splitlines()[-1]


def test_missing_testdata_skips_locally(tmp_path: Path) -> None:
    r = _pytest(tmp_path, ci=False)
    assert r.returncode == 0, r.stdout + r.stderr
    summary = r.stdout.splitlines()[-1]
    assert "skipped" in summary and "failed" not in summary and "error" not in summary
    assert f"signed-note vectors not found at {tmp_path / 'rfc6962_vectors.json'}" in r.stdout
