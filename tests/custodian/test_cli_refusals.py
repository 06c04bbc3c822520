"""`remit custodian run` refuses bad settings before anything runs: exit 2 naming the flag or
variable (no Remit is reachable at the URL, so a run that went further would exit 3)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from remit.aws.moto_server import free_port
from remit.cli.app import app

POLICY = "policies:\n  - name: p\n    resource: ec2\n    actions: [stop]\n"


@pytest.mark.parametrize(
    ("args", "env", "said"),
    [
        ([], {"REMIT_URL": ""}, "REMIT_URL"),
        ([], {"REMIT_API_KEY": ""}, "REMIT_API_KEY"),
        ([], {"REMIT_AGENT": ""}, "REMIT_AGENT"),
        (["--wait", "-1"], {}, "--wait"),
        (["--batch-size", "0"], {}, "--batch-size"),
        (["--confidence", "2"], {}, "--confidence"),
        (["--provenance", "{not json"], {}, "--provenance"),
        (["--provenance", "/no/such/file.json"], {}, "--provenance"),
        (["--envelope", "/no/such/envelope.yaml"], {}, "--envelope"),
    ],
)
def test_bad_settings_exit_2_naming_them(
    tmp_path: Path, args: list[str], env: dict[str, str], said: str
) -> None:
    policy = tmp_path / "p.yml"
    policy.write_text(POLICY)
    base = {
        "REMIT_URL": f"http://127.0.0.1:{free_port()}",
        "REMIT_API_KEY": "rk_x",
        "REMIT_AGENT": "remediator",
    }
    result = CliRunner().invoke(app, ["custodian", "run", str(policy), *args], env={**base, **env})
    assert result.exit_code == 2, result.output
    assert said in result.output
