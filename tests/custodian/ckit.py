"""The governed-Custodian test world: a moto server (recording requests), `remit serve`
with the STS backend against it and keys made with `remit keys create --init` (the MCP
kit's world, shared), an envelope that declares what a Custodian run may do, and
`remit custodian run` as a child process with the real c7n, pointed at moto through
AWS_ENDPOINT_URL."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.mcp.mcpkit import (
    Served,
    _cli_env,
    _serve,
    ledger,
    recorded_requests,
    remit_cmd,
)
from tests.support.aws_world import PROVENANCE, build_world, envelope_changed

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/"
CUSTODIAN_PROVENANCE = {
    "model": PROVENANCE["model"],
    "workflow": {"name": "custodian", "run": "r-c7n", "step": "remediate"},
}
STEPS = [
    "iam:DeleteRole", "iam:ListAttachedRolePolicies", "iam:DetachRolePolicy",
    "iam:ListRolePolicies", "iam:DeleteRolePolicy", "iam:ListInstanceProfilesForRole",
    "iam:RemoveRoleFromInstanceProfile", "iam:DeleteInstanceProfile",
]  # fmt: skip


def custodian_envelope(envelope: dict[str, Any]) -> None:
    """Stale roles (role/stale-*) may be deleted autonomously, except the protected ones
    (role/stale-keep-*: deny); EC2 instances may be stopped two at a time; terminating
    needs a human; S3 buckets named c7n-* may get a public access block."""
    envelope["workflows"]["custodian"] = {
        "steps": {
            "remediate": {
                "actions": [*STEPS, "ec2:StopInstances", "ec2:TerminateInstances",
                            "s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock"]
            }
        }
    }  # fmt: skip
    envelope["agents"]["remediator"]["workflows"].append("custodian")
    envelope["rules"][:0] = [
        {"id": "C1-stale-roles", "agents": ["remediator"], "actions": STEPS,
         "resources": [f"{ROLE}stale-*", f"arn:aws:iam::{ACCOUNT}:instance-profile/stale-*"],
         "tier": "autonomous"},
        {"id": "C2-stop-two-at-a-time", "agents": ["remediator"],
         "actions": ["ec2:StopInstances"],
         "resources": [f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/*"],
         "tier": "autonomous", "blast_radius": {"max_resources": 2}},
        {"id": "C3-terminate-needs-a-human", "agents": ["remediator"],
         "actions": ["ec2:TerminateInstances"],
         "resources": [f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/*"], "tier": "approve"},
        {"id": "C4-block-public-buckets", "agents": ["remediator"],
         "actions": ["s3:GetBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock"],
         "resources": ["arn:aws:s3:::c7n-*"], "tier": "autonomous"},
    ]  # fmt: skip
    envelope["protected"] = [
        {"id": "crown-jewels", "match": {"resources": [f"{ROLE}stale-keep-*"]},
         "min_tier": "deny"},
    ]  # fmt: skip
    envelope["regulations"] = []
    envelope["inventory"].append(
        {"resources": [f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/*"], "tags": {}}
    )


def serve_custodian_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """For a module-scoped fixture: moto, the envelope above, `remit serve`, keys."""
    folder = tmp_path_factory.mktemp("custodian-world")
    recording = folder / "moto-recording.jsonl"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOTO_RECORDER_FILEPATH", str(recording))
        mp.setenv("MOTO_ENABLE_RECORDING", "true")
        gen = build_world(folder, mp)
        world = next(gen)
        mp.delenv("MOTO_RECORDER_FILEPATH")  # read by the moto child at its start only
        mp.delenv("MOTO_ENABLE_RECORDING")  # read by the moto child at its start only
        try:
            with envelope_changed(world, custodian_envelope):
                yield from _serve(world, folder, recording)
        finally:
            gen.close()


def write_policy(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.yml"
    path.write_text(text)
    return path


def custodian(
    served: Served,
    policy: Path,
    *options: str,
    url: str | None = None,
    aws_endpoint: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """`remit custodian run POLICY --format json …`, configured through the environment;
    c7n's own (dry-run) credentials are the runner's broad ones."""
    env = _cli_env()
    env.update(
        REMIT_URL=url or served.url,
        REMIT_API_KEY=served.keys["bot"],
        REMIT_AGENT="remediator",
        AWS_ENDPOINT_URL=aws_endpoint or served.world.moto.endpoint_url,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ACCESS_KEY_ID=served.world.boot["remit_access_key_id"],
        AWS_SECRET_ACCESS_KEY=served.world.boot["remit_secret_access_key"],
    )
    cmd = remit_cmd(
        "custodian", "run", str(policy), "--format", "json", "--account", ACCOUNT,
        "--provenance", json.dumps(CUSTODIAN_PROVENANCE), *options,
    )  # fmt: skip
    run = subprocess.run(
        cmd, cwd=served.folder, env=env, capture_output=True, text=True, timeout=timeout
    )
    if "answered 5" in run.stderr:  # a server error: its traceback is in the server's log
        log = (served.folder / "serve.log").read_text(errors="replace")[-6000:]
        run.stderr += f"\n--- remit serve's log (its end) ---\n{log}"
    return run


def report_of(run: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert run.stdout.strip(), run.stderr
    out: dict[str, Any] = json.loads(run.stdout)
    return out


def by_arn(report: dict[str, Any], action: str | None = None) -> dict[str, dict[str, Any]]:
    return {r["arn"]: r for r in report["results"] if action is None or r["action"] == action}


def access_key(req: dict[str, Any]) -> str:
    auth = {k.lower(): v for k, v in req["headers"].items()}.get("authorization", "")
    m = re.search(r"Credential=([A-Z0-9]+)/", auth)
    return m.group(1) if m else ""


def aws_requests(served: Served, action: str) -> list[dict[str, Any]]:
    """moto's recorded requests for a Query-API action (IAM, EC2)."""
    exact = re.compile(rf"(^|&)Action={action}(&|$)")
    out = []
    for req in recorded_requests(served):
        if exact.search(req.get("body") or "") or exact.search(str(req.get("qs") or "")):
            out.append(req)
    return out


def grants(served: Served) -> dict[str, dict[str, Any]]:
    return {g["decision_id"]: g for g in ledger(served, "grant")}


def outcomes(served: Served) -> dict[str, dict[str, Any]]:
    return {o["decision_id"]: o for o in ledger(served, "outcome")}


def decisions(served: Served) -> dict[str, dict[str, Any]]:
    return {d["decision"]["id"]: d for d in ledger(served, "decision")}
