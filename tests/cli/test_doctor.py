"""`remit doctor`: the checks `remit serve` needs, from the command line, each failure
with what to fix; exit 0 when all pass, 1 when any fails. AWS checks run against the
local moto server: credentials, and each agent's execution role assumed as grants do."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.cli.clikit import cli_env, edit, ok, remit

from remit.aws import MotoServer


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


def _checks(stdout: str) -> dict[str, dict[str, object]]:
    data = json.loads(stdout)
    return {c["check"]: c for c in data["checks"]}


def test_doctor_passes_on_a_fresh_init_and_says_what_to_fix(tmp_path: Path) -> None:
    ok(remit("init", "p", cwd=tmp_path))
    d = tmp_path / "p"
    unsigned = ok(remit("doctor", "--config", "remit.yaml", "--format", "json", cwd=d), 1)
    checks = _checks(unsigned.stdout)
    assert checks["authority"]["ok"] is False
    assert "remit envelope sign" in str(checks["authority"]["fix"])
    assert checks["ledger"]["ok"] is True and checks["log key"]["ok"] is True
    ok(
        remit(
            "envelope",
            "sign",
            "envelope.yaml",
            "--key",
            "keys/signoff.key",
            "--signer",
            "me@example.com",
            "--role",
            "CISO",
            cwd=d,
        )
    )
    passed = ok(remit("doctor", "--config", "remit.yaml", "--format", "json", cwd=d))
    assert json.loads(passed.stdout)["ok"] is True
    table = ok(remit("doctor", "--config", "remit.yaml", cwd=d)).stdout
    assert "authority" in table and "signed off by me@example.com (CISO)" in table
    # a typo in the ledger path, and the log key trusted for envelopes: both named
    bad = ok(
        remit(
            "doctor",
            "--config",
            "remit.yaml",
            "--db",
            "typo.db",
            "--trusted-keys",
            "keys/log.pub",
            "--format",
            "json",
            cwd=d,
        ),
        1,
    )
    checks = _checks(bad.stdout)
    assert "no ledger at typo.db" in str(checks["ledger"]["detail"])
    assert "also a trusted envelope key" in str(checks["log key"]["detail"])
    assert not (d / "typo.db").exists()


def test_doctor_checks_each_agents_execution_role_with_sts(
    tmp_path: Path, moto: MotoServer
) -> None:
    ok(remit("init", "p", cwd=tmp_path))
    d = tmp_path / "p"
    ok(
        remit(
            "envelope",
            "sign",
            "envelope.yaml",
            "--key",
            "keys/signoff.key",
            "--signer",
            "me@example.com",
            "--role",
            "CISO",
            cwd=d,
        )
    )
    env = cli_env(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    args = [
        "doctor",
        "--config",
        "remit.yaml",
        "--aws-backend",
        "sts",
        "--aws-endpoint-url",
        moto.endpoint_url,
        "--format",
        "json",
    ]
    checks = _checks(ok(remit(*args, cwd=d, env=env), 1).stdout)
    assert checks["aws credentials"]["ok"] is True
    assert checks["agent my-agent"]["ok"] is False
    assert "execution_role" in str(checks["agent my-agent"]["fix"])
    edit(
        d / "envelope.yaml",
        "    models:",
        "    execution_role: arn:aws:iam::111122223333:role/exec\n    models:",
    )
    ok(
        remit(
            "envelope",
            "sign",
            "envelope.yaml",
            "--key",
            "keys/signoff.key",
            "--signer",
            "me@example.com",
            "--role",
            "CISO",
            cwd=d,
        )
    )
    checks = _checks(ok(remit(*args, cwd=d, env=env)).stdout)
    assert checks["agent my-agent"]["ok"] is True
    assert "can assume arn:aws:iam::111122223333:role/exec" in str(
        checks["agent my-agent"]["detail"]
    )
    # a role in the broker's own account that does not exist: named, as /readyz names it
    edit(
        d / "envelope.yaml",
        "execution_role: arn:aws:iam::111122223333:role/exec",
        "execution_role: arn:aws:iam::123456789012:role/remit-exec-missing",
    )
    ok(
        remit(
            "envelope",
            "sign",
            "envelope.yaml",
            "--key",
            "keys/signoff.key",
            "--signer",
            "me@example.com",
            "--role",
            "CISO",
            cwd=d,
        )
    )
    checks = _checks(ok(remit(*args, cwd=d, env=env), 1).stdout)
    assert "execution role arn:aws:iam::123456789012:role/remit-exec-missing does not exist" in (
        str(checks["agent my-agent"]["detail"])
    )
