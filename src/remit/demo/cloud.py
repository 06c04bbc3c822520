"""The demo's AWS: a real moto server process in the example envelope's account, with the
remediator's execution role (which Remit assumes per step), the Remit broker user, and
two stale roles carrying an over-broad managed policy — the ones the agent cleans up."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from remit.aws import MotoServer, bootstrap_agent_role
from remit.demo.scenario import ACCOUNT, POLICY

EXECUTION_ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["iam:Get*", "iam:List*", "iam:DetachRolePolicy", "iam:AttachRolePolicy"],
            "Resource": "*",
        }
    ],
}
STALE_ROLES = ("legacy-batch", "legacy-etl")


@dataclass(frozen=True)
class DemoCloud:
    moto: MotoServer
    execution_role: str
    remit_env: dict[str, str]

    def attached(self, role: str) -> list[str]:
        iam = self.moto.client("iam")
        return [
            p["PolicyArn"]
            for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
        ]


def build(moto: MotoServer) -> DemoCloud:
    iam = moto.client("iam")
    boot = bootstrap_agent_role(iam, account=ACCOUNT, role_policy=EXECUTION_ROLE_POLICY)
    doc: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"], "Resource": "*"}
        ],
    }
    iam.create_policy(PolicyName=POLICY.rsplit("/", 1)[1], PolicyDocument=json.dumps(doc))
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "batch.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    for name in STALE_ROLES:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust)
        iam.attach_role_policy(RoleName=name, PolicyArn=POLICY)
    env = {
        "AWS_ACCESS_KEY_ID": boot["remit_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": boot["remit_secret_access_key"],
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    return DemoCloud(moto, boot["role_arn"], env)


def demo_envelope(example: str, execution_role: str) -> str:
    """The example envelope, with the remediator's execution role named (so Remit knows
    which role to assume) and one rule letting humans roll its changes back with approval."""
    text = example.replace(
        f"service_account: arn:aws:iam::{ACCOUNT}:role/ai-remediator",
        f"service_account: arn:aws:iam::{ACCOUNT}:role/ai-remediator\n"
        f"    execution_role: {execution_role}",
    )
    rollback_rule = (
        "  - id: R20-rollback-by-humans\n"
        "    agents: [remediator]\n"
        '    actions: ["iam:AttachRolePolicy"]\n'
        f'    resources: ["arn:aws:iam::{ACCOUNT}:role/*"]\n'
        "    tier: approve\n"
    )
    return text.replace("\nprotected:", "\n" + rollback_rule + "protected:", 1)
