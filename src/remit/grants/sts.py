"""The AWS backend: `AssumeRole` with SourceIdentity = decision id, session tags and a
scoped session policy; revocation by an inline Deny policy on the role conditioned on
`aws:SourceIdentity`. See docs/grants.md for the AWS semantics this relies on.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from remit.grants.backend import (
    REVOCATION_POLICY_NAME,
    BackendError,
    Credentials,
    GrantSpec,
    revocation_policy,
)


def role_name(role_arn: str) -> str:
    return role_arn.rsplit("/", 1)[-1]


def _doc(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    return json.loads(urllib.parse.unquote(str(value)))  # type: ignore[no-any-return]


class StsBackend:
    """Scoped credentials from AWS STS (or a moto server at `endpoint_url`)."""

    name = "sts"

    def __init__(
        self, session: boto3.Session, endpoint_url: str | None = None, region: str = "us-east-1"
    ) -> None:
        self._sts = session.client("sts", endpoint_url=endpoint_url, region_name=region)
        self._iam = session.client("iam", endpoint_url=endpoint_url, region_name=region)

    def issue(self, spec: GrantSpec) -> Credentials:
        try:
            out = self._sts.assume_role(
                RoleArn=spec.role_arn,
                RoleSessionName=spec.session_name,
                SourceIdentity=spec.decision_id,
                DurationSeconds=spec.duration_seconds,
                Policy=spec.session_policy_json,
                Tags=[{"Key": k, "Value": v} for k, v in spec.tags.items()],
            )
        except (ClientError, BotoCoreError) as exc:
            raise BackendError(f"sts:AssumeRole on {spec.role_arn} failed: {exc}") from exc
        c = out["Credentials"]
        return Credentials(
            c["AccessKeyId"],
            c["SecretAccessKey"],
            c["SessionToken"],
            c["Expiration"],
            out.get("AssumedRoleUser", {}).get("Arn", ""),
        )

    def set_revoked(
        self,
        role_arn: str,
        source_identities: Sequence[str],
        issued_before: datetime | None = None,
    ) -> None:
        name = role_name(role_arn)
        try:
            if source_identities or issued_before is not None:
                doc = revocation_policy(source_identities, issued_before)
                self._iam.put_role_policy(
                    RoleName=name,
                    PolicyName=REVOCATION_POLICY_NAME,
                    PolicyDocument=json.dumps(doc, separators=(",", ":")),
                )
            else:
                try:
                    self._iam.delete_role_policy(RoleName=name, PolicyName=REVOCATION_POLICY_NAME)
                except ClientError as exc:
                    if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
                        raise
        except (ClientError, BotoCoreError) as exc:
            raise BackendError(
                f"updating {REVOCATION_POLICY_NAME} on {name} failed: {exc}"
            ) from exc

    def identity_policies(self, role_arn: str) -> list[dict[str, Any]]:
        name = role_name(role_arn)
        docs: list[dict[str, Any]] = []
        try:
            for page in self._iam.get_paginator("list_attached_role_policies").paginate(
                RoleName=name
            ):
                for p in page["AttachedPolicies"]:
                    meta = self._iam.get_policy(PolicyArn=p["PolicyArn"])["Policy"]
                    ver = self._iam.get_policy_version(
                        PolicyArn=p["PolicyArn"], VersionId=meta["DefaultVersionId"]
                    )
                    docs.append(_doc(ver["PolicyVersion"]["Document"]))
            for page in self._iam.get_paginator("list_role_policies").paginate(RoleName=name):
                for pname in page["PolicyNames"]:
                    got = self._iam.get_role_policy(RoleName=name, PolicyName=pname)
                    docs.append(_doc(got["PolicyDocument"]))
        except (ClientError, BotoCoreError) as exc:
            raise BackendError(f"reading the policies of role {name} failed: {exc}") from exc
        return docs
