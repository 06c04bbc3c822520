"""The world the reconciliation tests share: a moto server, `remit serve` as a child
process with the STS backend against it (its own SQLite ledger, API keys made with
`remit keys create`), decisions made and granted through it over HTTP, and synthetic
CloudTrail events carrying those decisions' ids, keys and session names (one per class),
layered on the real invictus trail."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from tests.cloudtrail.ctkit import ok, remit
from tests.support.aws_world import ACCOUNT, PROVENANCE, REASONING, AwsWorld, build_world
from tests.support.testdata import shared_testdata

from remit.aws.moto_server import free_port

REMIT = Path(sys.executable).with_name("remit")
SERVICE_ACCOUNT = f"arn:aws:iam::{ACCOUNT}:role/ai-remediator"
HUMAN = f"arn:aws:iam::{ACCOUNT}:user/alice"


def serve_env(world: AwsWorld) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REMIT_", "AWS_"))}
    env.update(
        COLUMNS="250", NO_COLOR="1", TERM="dumb",
        AWS_ACCESS_KEY_ID=world.boot["remit_access_key_id"],
        AWS_SECRET_ACCESS_KEY=world.boot["remit_secret_access_key"],
        AWS_DEFAULT_REGION="us-east-1",
    )  # fmt: skip
    return env


def served_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A moto world and `remit serve` as a child process over its own SQLite ledger."""
    with pytest.MonkeyPatch.context() as mp:
        recording = tmp_path_factory.mktemp("moto") / "recording.ndjson"
        mp.setenv("MOTO_RECORDER_FILEPATH", str(recording))  # read by the moto child
        gen = build_world(tmp_path_factory.mktemp("world"), mp)
        world = next(gen)
        mp.delenv("MOTO_RECORDER_FILEPATH")  # read by the moto child at its start only
        try:
            yield from serve(world, tmp_path_factory.mktemp("served"))
        finally:
            gen.close()


def serve(world: AwsWorld, folder: Path) -> Iterator[dict[str, Any]]:
    db = str(folder / "serve.db")
    env = serve_env(world)
    keys = {}
    for name, role, agent in (
        ("bot", "agent", "remediator"),
        ("audit", "auditor", None),
        ("ops", "admin", None),
    ):
        args = ["keys", "create", "--init", "--role", role, "--name", name, "--db", db]
        if agent:
            args += ["--agent", agent]
        r = ok(remit(*args, cwd=folder, env=env))
        keys[name] = r.stdout.rstrip("\n").splitlines()[-1]
    port = free_port()
    config = folder / "remit.yaml"
    config.write_text(yaml.safe_dump({
        "envelope": str(world.folder / "envelope.yaml"),
        "trusted_keys": [str(world.folder / "ciso.pub")],
        "db": db, "port": port,
        "aws": {"backend": "sts", "endpoint_url": world.moto.endpoint_url},
    }))  # fmt: skip
    log = (folder / "serve.log").open("wb")
    proc = subprocess.Popen([str(REMIT), "serve", "--config", str(config)], cwd=folder,
                            env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 40
        while True:
            if proc.poll() is not None:
                pytest.fail(f"remit serve exited: {(folder / 'serve.log').read_text()}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"remit serve not ready: {(folder / 'serve.log').read_text()}")
            time.sleep(0.2)
        yield {"url": url, "keys": keys, "db": db, "env": env, "folder": folder,
               "world": world}  # fmt: skip
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def decide_and_grant(served: dict[str, Any], role: str) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {served['keys']['bot']}"}
    arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
    body = {
        "agent": "remediator", "action": "iam:DetachRolePolicy",
        "resources": [{"arn": arn}], "environment": "prod",
        "reasoning": REASONING, "provenance": PROVENANCE,
        "parameters": {"RoleName": role, "PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/p"},
    }  # fmt: skip
    d = httpx.post(f"{served['url']}/v1/decisions", json=body, headers=headers, timeout=30)
    assert d.status_code == 200, d.text
    decision = d.json()
    assert decision["tier"] in ("autonomous", "notify"), decision
    g = httpx.post(f"{served['url']}/v1/decisions/{decision['id']}/grant", headers=headers,
                   timeout=30)  # fmt: skip
    assert g.status_code == 200, g.text
    return {"id": decision["id"], "arn": arn, **g.json()}


def revoke(served: dict[str, Any], decision_id: str) -> None:
    headers = {"Authorization": f"Bearer {served['keys']['bot']}"}
    r = httpx.post(f"{served['url']}/v1/decisions/{decision_id}/revoke", headers=headers,
                   timeout=30)  # fmt: skip
    assert r.status_code == 200, r.text


def event(
    n: int, at: datetime, action: str, arn: str, params: dict[str, Any], *,
    source_identity: str | None = None, key: str | None = None, issuer: str | None = None,
    error: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    service, name = action.split(":")
    kind = "AssumedRole" if ":assumed-role/" in arn else "IAMUser"
    ident: dict[str, Any] = {"arn": arn, "accountId": ACCOUNT, "principalId": f"P{n}", "type": kind}
    if key:
        ident["accessKeyId"] = key
    if issuer or source_identity:
        ident["sessionContext"] = {
            "sessionIssuer": {"type": "Role", "arn": issuer} if issuer else {},
            **({"sourceIdentity": source_identity} if source_identity else {}),
        }
    out: dict[str, Any] = {
        "eventVersion": "1.09", "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": f"{service}.amazonaws.com", "eventName": name,
        "eventID": f"synthetic-{n}", "awsRegion": "us-east-1", "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT, "userIdentity": ident, "requestParameters": params,
    }  # fmt: skip
    if error:
        out["errorCode"] = error
    return out


def build_layered(served: dict[str, Any]) -> dict[str, Any]:
    """Decisions through the server, then a trail of synthetic events about them."""
    world: AwsWorld = served["world"]
    exec_role = world.boot["role_arn"]
    exec_name = exec_role.rsplit("/", 1)[-1]
    d1 = decide_and_grant(served, "target-a")
    d2 = decide_and_grant(served, "target-c")
    revoke(served, d2["id"])
    t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)

    def sess(name: str, role: str = exec_name) -> str:
        return f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{name}"

    remit1 = sess(d1["session_name"])
    detach_a = {"roleName": "target-a", "policyArn": f"arn:aws:iam::{ACCOUNT}:policy/p"}
    s = timedelta(seconds=1)
    evs = [
        # explained: sourceIdentity, the grant's key and session, the decided action/resource
        event(1, t0, "iam:DetachRolePolicy", remit1, detach_a, source_identity=d1["id"],
              key=d1["access_key_id"], issuer=exec_role),
        # out_of_scope by the access key alone: another action
        event(2, t0 + s, "iam:DeleteRolePolicy", sess("renamed"), {"roleName": "target-a",
              "policyName": "x"}, key=d1["access_key_id"], issuer=exec_role),
        # out_of_scope by the session name alone: another resource
        event(3, t0 + 2 * s, "iam:DetachRolePolicy", remit1, {"roleName": "target-b"},
              issuer=exec_role),
        # after_revocation: d2's credentials used after its revocation
        event(4, t0 + 3 * s, "iam:DetachRolePolicy", sess(d2["session_name"]),
              {"roleName": "target-c"}, source_identity=d2["id"], issuer=exec_role),
        # unexplained: the AI role used outside Remit
        event(5, t0 + 4 * s, "s3:ListBuckets", sess("manual-run"), {}, issuer=exec_role),
        # denied, then the service account retries broader without a fallback decision
        event(6, t0 + 5 * s, "iam:AttachRolePolicy", sess("orchestrator", "ai-remediator"),
              {"roleName": "target-a"}, issuer=SERVICE_ACCOUNT, error="AccessDenied"),
        event(7, t0 + 35 * s, "iam:PutRolePolicy", sess("orchestrator-admin", "ai-remediator"),
              {"roleName": "target-a", "policyName": "broad"}, issuer=SERVICE_ACCOUNT),
        # governance tampering by a human
        event(8, t0 + 40 * s, "cloudtrail:StopLogging", HUMAN, {"name": "org-trail"}),
        event(9, t0 + 41 * s, "iam:DeleteRolePolicy", HUMAN,
              {"roleName": exec_name, "policyName": "RemitRevokedSessions"}),
        event(10, t0 + 42 * s, "iam:UpdateAssumeRolePolicy", HUMAN,
              {"roleName": "ai-remediator", "policyDocument": "{}"}),
        # not AI: Remit's own deny-list write at the revocation, and a human's read
        event(11, t0 - 2 * s, "iam:PutRolePolicy", HUMAN,
              {"roleName": exec_name, "policyName": "RemitRevokedSessions"}),
        event(12, t0 + 43 * s, "ec2:DescribeInstances", HUMAN, {}),
    ]  # fmt: skip
    return {"events": evs, "d1": d1, "d2": d2, "t0": t0, "exec_role": exec_role}


def ingest_layered(folder: Path, layered: dict[str, Any]) -> Path:
    trail = folder / "synthetic.json.gz"
    trail.write_bytes(gzip.compress(json.dumps({"Records": layered["events"]}).encode()))
    real = shared_testdata("cloudtrail", "invictus-aws_dataset", what="CloudTrail test data")
    ok(remit("cloudtrail", "ingest", trail, real, "--trail-db", "t.duckdb", cwd=folder))
    return trail


def reconcile_json(served: dict[str, Any], *args: str, code: int = 1) -> tuple[Any, str]:
    world: AwsWorld = served["world"]
    proc = ok(remit("reconcile", "--envelope", world.folder / "envelope.yaml", "--db",
                    served["db"], "--trail-db", "t.duckdb", "--format", "json", *args,
                    cwd=served["folder"], env=served["env"]), code)  # fmt: skip
    return json.loads(proc.stdout), proc.stderr


EXPECTED = {
    "explained": 1, "out_of_scope": 2, "after_revocation": 1, "unexplained": 1,
    "unauthorized_escalation": 1, "governance_tampering": 3, "denied": 1, "not_ai": 2,
}  # fmt: skip
BY_EVENT = {
    "synthetic-2": "out_of_scope", "synthetic-3": "out_of_scope",
    "synthetic-4": "after_revocation", "synthetic-5": "unexplained",
    "synthetic-7": "unauthorized_escalation", "synthetic-8": "governance_tampering",
    "synthetic-9": "governance_tampering", "synthetic-10": "governance_tampering",
}  # fmt: skip
