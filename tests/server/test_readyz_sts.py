"""/readyz with `--aws-backend sts` reflects whether a grant could be issued: the broker
has credentials and can assume each agent's execution role, checked on the project's
local moto server (IAM enforced: the broker may assume only the role it was given) by
the same code `remit doctor` runs, and remembered briefly so probes do not call STS
every time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.support.aws_world import ACCOUNT, AwsWorld, build_world, envelope_changed

from remit.aws.moto_server import BROKER_USER
from remit.grants.readiness import CachedBrokerCheck
from remit.server.app import create_app
from remit.server.config import ServerConfig
from remit.server.runtime import Runtime


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsWorld]:
    with pytest.MonkeyPatch.context() as mp:
        gen = build_world(tmp_path_factory.mktemp("world"), mp, enforce_iam=True)
        w = next(gen)
        # the documented broker policy reads roles named remit-exec-* (docs/aws-setup.md)
        w.iam().put_user_policy(
            UserName=BROKER_USER,
            PolicyName="read-execution-roles",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "iam:GetRole",
                            "Resource": f"arn:aws:iam::{ACCOUNT}:role/remit-exec-*",
                        }
                    ],
                }
            ),
        )
        w.moto.set_no_auth_requests(0)  # from here on, every AWS request is authorized
        try:
            yield w
        finally:
            gen.close()


def _aws(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["check"]: c for c in body["aws"]}


def test_ready_when_the_broker_can_assume_each_agents_role(world: AwsWorld) -> None:
    check = world.runtime.broker_check
    assert check is not None
    r = world.http.get("/readyz")
    assert r.status_code == 200, r.text
    aws = _aws(r.json())
    assert aws["aws credentials"]["ok"] is True
    assert aws["agent remediator"] == {
        "check": "agent remediator",
        "ok": True,
        "detail": f"can assume {world.boot['role_arn']}",
        "agent": "remediator",
    }
    runs = check.runs
    for _ in range(5):
        assert world.http.get("/readyz").status_code == 200
    assert check.runs == runs  # remembered: STS is not asked on every probe


def test_503_names_the_agent_whose_execution_role_does_not_exist(world: AwsWorld) -> None:
    missing = f"arn:aws:iam::{ACCOUNT}:role/remit-exec-missing"

    def point_at_missing_role(data: dict[str, Any]) -> None:
        data["agents"]["remediator"]["execution_role"] = missing

    with envelope_changed(world, point_at_missing_role):
        r = world.http.get("/readyz")
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["ready"] is False
        agent = _aws(body)["agent remediator"]
        assert agent["ok"] is False and agent["agent"] == "remediator"
        assert f"execution role {missing} does not exist" in agent["detail"]
        assert any(
            p.startswith("aws agent remediator:") and missing in p for p in body["problems"]
        ), body["problems"]
    # the envelope restored: a new set of roles is checked again at once, and passes
    assert world.http.get("/readyz").status_code == 200


def test_503_names_the_role_the_broker_may_not_assume(world: AwsWorld) -> None:
    # exists, but neither its trust nor the broker's policy lets Remit assume it
    with world.moto.without_enforcement():
        other = world.role("not-for-remit")

    def point_at_other_role(data: dict[str, Any]) -> None:
        data["agents"]["remediator"]["execution_role"] = other

    with envelope_changed(world, point_at_other_role):
        r = world.http.get("/readyz")
        assert r.status_code == 503, r.text
        agent = _aws(r.json())["agent remediator"]
        assert agent["ok"] is False
        assert f"cannot assume {other}" in agent["detail"] and "AccessDenied" in agent["detail"]
        assert "sts:SetSourceIdentity" in agent["fix"]


def test_503_when_the_broker_has_no_credentials(
    world: AwsWorld, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    cfg = ServerConfig(
        envelope=world.folder / "envelope.yaml",
        trusted_keys=[str(world.folder / "ciso.pub")],
        db=str(tmp_path / "remit.db"),
        aws={"backend": "sts", "endpoint_url": world.moto.endpoint_url},
    )
    rt = Runtime(cfg)
    with TestClient(create_app(rt), base_url="http://testserver") as http:
        r = http.get("/readyz")
    assert r.status_code == 503, r.text
    body = r.json()
    creds = _aws(body)["aws credentials"]
    assert creds["ok"] is False and "credentials" in creds["detail"].lower()
    assert "broker AWS credentials" in creds["fix"]
    assert any(p.startswith("aws aws credentials:") for p in body["problems"])


class _Agent:
    def __init__(self, role: str | None) -> None:
        self.execution_role = role


def test_the_cache_keeps_a_pass_30s_a_failure_5s_and_rechecks_new_roles(
    world: AwsWorld,
) -> None:
    import boto3

    t = [0.0]
    cache = CachedBrokerCheck(
        boto3.Session(region_name="us-east-1"),
        "us-east-1",
        world.moto.endpoint_url,
        monotonic=lambda: t[0],
    )
    good = {"remediator": _Agent(world.boot["role_arn"])}
    assert all(c.ok for c in cache.current(good)) and cache.runs == 1
    t[0] = 29.0
    cache.current(good)
    assert cache.runs == 1
    t[0] = 30.5
    cache.current(good)
    assert cache.runs == 2
    bad = {"remediator": _Agent(None)}  # new roles: checked at once
    failed = cache.current(bad)
    assert cache.runs == 3 and [c.name for c in failed if not c.ok] == ["agent remediator"]
    t[0] = 34.0
    cache.current(bad)
    assert cache.runs == 3
    t[0] = 36.0
    cache.current(bad)
    assert cache.runs == 4  # a failure is asked again after 5 s
