"""Trust creep in `remit reconcile`: first-seen services and actions against the window
before, calls outside declared steps, decisions passing data to undeclared services."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from tests.cloudtrail.ctkit import ok, remit
from tests.cloudtrail.servedkit import (
    event,
)
from tests.support.aws_world import ACCOUNT, PROVENANCE, REASONING, AwsWorld

from remit.ledger.open import open_store


def test_trust_creep_new_calls_outside_steps_and_undeclared_flows(
    served: dict[str, Any], layered: dict[str, Any]
) -> None:
    """Against the window before: what is first seen; a call joined to a decision of the
    revoke-stale step that the step does not declare; a decision on a parent decision's
    output for a service the workflow does not declare."""
    world: AwsWorld = served["world"]
    folder = served["folder"] / "creep"
    folder.mkdir()
    d1 = layered["d1"]
    exec_role = layered["exec_role"]
    exec_name = exec_role.rsplit("/", 1)[-1]
    t0 = datetime.now(UTC).replace(microsecond=0)
    manual = f"arn:aws:sts::{ACCOUNT}:assumed-role/{exec_name}/manual"
    remit1 = f"arn:aws:sts::{ACCOUNT}:assumed-role/{exec_name}/{d1['session_name']}"
    evs = [
        event(101, t0 - timedelta(minutes=1), "s3:ListBuckets", manual, {}, issuer=exec_role),
        event(102, t0 + timedelta(seconds=1), "s3:ListBuckets", manual, {}, issuer=exec_role),
        event(103, t0 + timedelta(seconds=2), "iam:ListRoles", remit1, {},
              source_identity=d1["id"], issuer=exec_role),
        event(104, t0 + timedelta(seconds=3), "ec2:DescribeInstances", manual, {},
              issuer=exec_role),
    ]  # fmt: skip
    (folder / "trail.json").write_text(json.dumps({"Records": evs}))
    ok(remit("cloudtrail", "ingest", "trail.json", "--trail-db", "t.duckdb", cwd=folder))
    headers = {"Authorization": f"Bearer {served['keys']['bot']}"}
    body = {
        "agent": "remediator", "action": "s3:PutObject",
        "resources": [{"arn": "arn:aws:s3:::exfil/report.csv"}], "environment": "prod",
        "reasoning": REASONING,
        "provenance": {**PROVENANCE, "parent_decision": d1["id"]},
    }  # fmt: skip
    flow = httpx.post(f"{served['url']}/v1/decisions", json=body, headers=headers, timeout=30)
    assert flow.status_code == 200, flow.text
    since = t0.strftime("%Y-%m-%dT%H:%M:%SZ")
    until = (t0 + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    proc = ok(remit("reconcile", "--envelope", world.folder / "envelope.yaml", "--db",
                    served["db"], "--trail-db", "t.duckdb", "--since", since, "--until",
                    until, "--format", "json", cwd=folder, env=served["env"]), 1)  # fmt: skip
    creep = json.loads(proc.stdout)["trust_creep"]
    assert creep["previous"] == {
        "since": (t0 - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
        "until": t0.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
    }
    # s3 was used in the window before (event 101): only iam and ec2 are new.
    new = {"services": ["ec2", "iam"], "actions": ["ec2:DescribeInstances", "iam:ListRoles"]}
    assert creep["new"] == {"remediator": new}
    (outside,) = creep["outside_declared_steps"]
    assert (outside["event_id"], outside["decision_id"], outside["step"]) == (
        "synthetic-103",
        d1["id"],
        "revoke-stale",
    )
    (undeclared,) = creep["undeclared_data_flows"]
    assert undeclared["decision_id"] == flow.json()["id"]
    assert (undeclared["parent_decision"], undeclared["service"]) == (d1["id"], "s3")
    store = open_store(served["db"], create=False)
    try:
        doc = json.loads(store.entry(store.size() - 1).body)
    finally:
        store.close()
    assert doc["kind"] == "reconciliation" and doc["data"]["trust_creep"] == creep
