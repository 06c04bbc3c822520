"""Trail files in S3 (`s3://bucket/prefix`), read with boto3: the objects under a prefix
whose names are trail files, and their bytes. A bucket that does not exist is bad input;
an endpoint that does not answer is an unavailable dependency. It does not parse or
store anything (`reader`, `store`).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

from remit.cloudtrail.reader import (
    MAX_FILE_BYTES,
    BadInput,
    Source,
    TrailFile,
    UnreadableFile,
    is_trail_name,
    parse_trail,
)
from remit.errors import Unavailable


def split_url(url: str) -> tuple[str, str]:
    """`s3://bucket/prefix` → (bucket, prefix); BadInput for anything else."""
    rest = url[len("s3://") :] if url.startswith("s3://") else ""
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise BadInput(f"{url}: not an s3://bucket/prefix URL")
    return bucket, prefix


def s3_sources(client: Any, url: str) -> tuple[list[Source], list[str]]:
    """The trail objects under `url` and the keys skipped as not trail files."""
    bucket, prefix = split_url(url)
    files: list[Source] = []
    skipped: list[str] = []
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for page in pages:
            for obj in page.get("Contents", []):
                key = str(obj["Key"])
                name = f"s3://{bucket}/{key}"
                if key.endswith("/"):
                    continue
                if is_trail_name(key.rsplit("/", 1)[-1]):
                    files.append(Source(name, bucket=bucket, key=key))
                else:
                    skipped.append(name)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchBucket", "AccessDenied", "AllAccessDisabled", "InvalidBucketName"):
            raise BadInput(f"{url}: {code}: {exc.response['Error'].get('Message', '')}") from None
        raise Unavailable(f"{url}: S3 said {code}") from None
    except (EndpointConnectionError, BotoCoreError) as exc:
        raise Unavailable(f"{url}: S3 is unreachable: {exc}") from None
    return files, skipped


def read_s3(client: Any, source: Source, limit: int = MAX_FILE_BYTES) -> TrailFile:
    """Read and parse one S3 object."""
    try:
        head = client.head_object(Bucket=source.bucket, Key=source.key)
        if int(head.get("ContentLength", 0)) > limit:
            raise UnreadableFile(f"larger than the {limit:,}-byte limit")
        raw = client.get_object(Bucket=source.bucket, Key=source.key)["Body"].read()
    except ClientError as exc:
        raise UnreadableFile(f"cannot read: {exc}") from None
    except (EndpointConnectionError, BotoCoreError) as exc:
        raise Unavailable(f"{source.path}: S3 is unreachable: {exc}") from None
    return parse_trail(source.path, bytes(raw), limit)
