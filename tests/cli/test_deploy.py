"""The deployment artifacts that can be checked here: the systemd unit passes
`systemd-analyze verify` with no warning (a broken copy of it does not), and the example
production config loads as `remit serve` would load it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from tests.cli.clikit import REMIT, REPO

from remit.server.config import load_config

UNIT = REPO / "deploy" / "remit.service"


def _verify(unit: Path) -> str:
    proc = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    return "\n".join(line for line in proc.stderr.splitlines() if unit.name in line)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_unit_verifies(tmp_path: Path) -> None:
    text = UNIT.read_text().replace("/opt/remit/bin/remit", str(REMIT))
    good = tmp_path / "remit.service"
    good.write_text(text)
    assert _verify(good) == ""
    bad = tmp_path / "broken.service"  # the check can fail: a typo in the unit is reported
    bad.write_text(text.replace("Type=exec", "Type=exce"))
    assert "Failed to parse service type" in _verify(bad)
    assert "RestartPreventExitStatus=2" in text  # a configuration error is not restarted into


def test_production_config_loads() -> None:
    cfg = load_config(REPO / "deploy" / "remit.production.yaml", {})
    assert cfg.db.startswith("postgresql://") and cfg.aws.backend == "sts"
    assert cfg.log_key and cfg.trusted_keys and cfg.log_key not in cfg.trusted_keys
    assert cfg.host == "127.0.0.1" and cfg.notify is not None
