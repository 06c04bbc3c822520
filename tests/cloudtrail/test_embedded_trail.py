"""The embedded stack's own trail: moto's recorded requests as CloudTrail records (the
local stand-in for delivery), reconciled against decisions made through `remit serve`."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from typing import Any

from tests.cloudtrail.ctkit import ok, remit
from tests.cloudtrail.servedkit import (
    decide_and_grant,
)
from tests.support.aws_world import AwsWorld


def test_the_embedded_stacks_own_trail_reconciles(served: dict[str, Any]) -> None:
    """moto's recorded requests as CloudTrail (the local stand-in): the agent's governed
    call is explained through its SourceIdentity; the AI role used outside Remit is
    flagged."""
    import boto3

    world: AwsWorld = served["world"]
    folder, env = served["folder"], served["env"]
    since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    ok(remit("cloudtrail", "moto-trail", "--endpoint-url", world.moto.endpoint_url, "--start",
             cwd=folder, env=env))  # fmt: skip
    policy = world.managed_policy("trail-target-s3")
    world.role("trail-target", policy)
    granted = decide_and_grant(served, "trail-target")
    governed = boto3.client(
        "iam", endpoint_url=world.moto.endpoint_url, region_name="us-east-1",
        aws_access_key_id=granted["access_key_id"],
        aws_secret_access_key=granted["secret_access_key"],
        aws_session_token=granted["session_token"],
    )  # fmt: skip
    governed.detach_role_policy(RoleName="trail-target", PolicyArn=policy)
    sts = world.moto.client("sts", region_name="us-east-1")
    outside = sts.assume_role(RoleArn=world.boot["role_arn"], RoleSessionName="outside")
    c = outside["Credentials"]
    rogue = boto3.client(
        "iam", endpoint_url=world.moto.endpoint_url, region_name="us-east-1",
        aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
    )  # fmt: skip
    rogue.list_roles()
    ok(remit("cloudtrail", "moto-trail", "--endpoint-url", world.moto.endpoint_url, "--out",
             "moto-trail.json.gz", cwd=folder, env=env))  # fmt: skip
    records = json.loads(gzip.decompress((folder / "moto-trail.json.gz").read_bytes()))
    (detach,) = [r for r in records["Records"] if r["eventName"] == "DetachRolePolicy"]
    ctx = detach["userIdentity"]["sessionContext"]
    assert ctx["sourceIdentity"] == granted["id"]
    assert detach["userIdentity"]["accessKeyId"] == granted["access_key_id"]
    args = ("cloudtrail", "ingest", "moto-trail.json.gz", "--trail-db", "moto.duckdb")
    got = json.loads(ok(remit(*args, "--format", "json", cwd=folder, env=env)).stdout)
    assert got["new_events"] >= 6 and not got["rejected_records"]
    proc = ok(remit("reconcile", "--envelope", world.folder / "envelope.yaml", "--db",
                    served["db"], "--trail-db", "moto.duckdb", "--since", since, "--format",
                    "json", cwd=folder, env=env), 1)  # fmt: skip
    out = json.loads(proc.stdout)
    assert out["summary"]["explained"] == 1
    assert out["summary"]["unexplained"] == 1
    # The moto server is shared by the session: earlier tests' requests may be on the
    # recording too, and reconciliation counts only the events since `since`.
    recent = [r for r in records["Records"] if r["eventTime"] >= since]
    assert out["summary"]["not_ai"] == len(recent) - 2
    (finding,) = out["findings"]
    assert finding["class"] == "unexplained" and finding["action"] == "iam:ListRoles"
    assert finding["principal"].endswith(":assumed-role/" + world.boot["role_arn"].rsplit(
        "/", 1)[-1] + "/outside")  # fmt: skip
