"""Lays out, in the local moto server at 127.0.0.1:$MOTO_PORT, what docs/aws-setup.md
describes for one agent (`my-agent`): the broker user `remit` with its policy, the
execution role `remit-exec-my-agent` trusting only the broker, and a stale role with an
over-broad policy for the agent to clean up. Prints the broker's credentials as shell
`export` lines."""

import json
import os

import boto3

from remit.aws import bootstrap_agent_role

port = os.environ.get("MOTO_PORT", "5000")
iam = boto3.client(
    "iam",
    endpoint_url=f"http://127.0.0.1:{port}",
    region_name="us-east-1",
    aws_access_key_id="admin",
    aws_secret_access_key="admin",  # noqa: S106 - moto accepts any credentials
)
agent_may = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["iam:Get*", "iam:List*", "iam:DetachRolePolicy"],
            "Resource": "*",
        }
    ],
}
out = bootstrap_agent_role(iam, agent="my-agent", role_policy=agent_may)
batch = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "batch.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
iam.create_role(RoleName="legacy-batch", AssumeRolePolicyDocument=json.dumps(batch))
everything = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
policy = iam.create_policy(PolicyName="legacy-admin", PolicyDocument=json.dumps(everything))
iam.attach_role_policy(RoleName="legacy-batch", PolicyArn=policy["Policy"]["Arn"])
print(f"export AWS_ACCESS_KEY_ID={out['remit_access_key_id']}")
print(f"export AWS_SECRET_ACCESS_KEY={out['remit_secret_access_key']}")
print("export AWS_DEFAULT_REGION=us-east-1")
