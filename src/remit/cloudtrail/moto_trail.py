"""The embedded stack's trail: the local moto server's requests as CloudTrail records.

moto has no CloudTrail. Its request recorder (`/moto-api/recorder/…`, file set by
`MOTO_RECORDER_FILEPATH`) keeps every request it served; this module turns that
recording into CloudTrail-format records — the local stand-in for CloudTrail delivery,
for the demo and the tests, never for a real account:

- time from the request's `X-Amz-Date`; service from its SigV4 credential scope;
- the operation from `Action=` (query protocols), `X-Amz-Target` (JSON protocols) or the
  S3 REST method and path; request parameters from the form, JSON body or S3 path;
- identity from the request's access key, looked up in moto's own state
  (`/moto-api/data.json`: IAM users' keys, STS assumed-role sessions), and
  `sourceIdentity` from the recorded `AssumeRole` call that opened the session.

The recorder keeps requests, not responses: records carry no `errorCode`, so denied
calls (and the escalations they reveal) need a real trail. Pure conversion plus two HTTP
reads of the local endpoint (`fetch`); it does not store anything.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx

DEFAULT_ACCOUNT: Final = "123456789012"
_CREDENTIAL = re.compile(r"Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")


def start(endpoint: str) -> None:
    """Ask the moto server at `endpoint` to start recording requests."""
    httpx.post(f"{endpoint}/moto-api/recorder/start-recording", timeout=30).raise_for_status()


def fetch(endpoint: str) -> tuple[str, Mapping[str, Any]]:
    """The recording (NDJSON text) and moto's state (`data.json`) from `endpoint`."""
    rec = httpx.get(f"{endpoint}/moto-api/recorder/download-recording", timeout=60)
    rec.raise_for_status()
    data = httpx.get(f"{endpoint}/moto-api/data.json", timeout=60)
    data.raise_for_status()
    return rec.text, data.json()


def _lower_camel(name: str) -> str:
    return name[:1].lower() + name[1:] if name else name


def _identities(state: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Access key id → CloudTrail `userIdentity` (without sessionContext's source id)."""
    out: dict[str, dict[str, Any]] = {}
    for key in state.get("iam", {}).get("AccessKey", []):
        user = key.get("user_name")
        if user and key.get("access_key_id"):
            account = key.get("account_id") or DEFAULT_ACCOUNT
            out[key["access_key_id"]] = {
                "type": "IAMUser",
                "principalId": key["access_key_id"],
                "arn": f"arn:aws:iam::{account}:user/{user}",
                "accountId": account,
                "userName": user,
            }
    for s in state.get("sts", {}).get("AssumedRole", []):
        account = s.get("account_id") or DEFAULT_ACCOUNT
        out[s["access_key_id"]] = {
            "type": "AssumedRole",
            "principalId": f"{s['access_key_id']}:{s['session_name']}",
            "arn": s["arn"],
            "accountId": account,
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "arn": s["role_arn"],
                                  "userName": s["role_arn"].rsplit("/", 1)[-1]},
            },
        }  # fmt: skip
    return out


def _body(entry: Mapping[str, Any]) -> bytes:
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        return base64.b64decode(body)
    return str(body).encode()


def _s3_operation(method: str, path: str, query: dict[str, str], headers: Mapping[str, str]
                  ) -> tuple[str, dict[str, Any]]:  # fmt: skip
    parts = unquote(path).lstrip("/").split("/", 1)
    bucket = parts[0]
    key = parts[1] if len(parts) > 1 else ""
    params: dict[str, Any] = {}
    if bucket:
        params["bucketName"] = bucket
    if key:
        params["key"] = key
    sub = next((q for q in ("policy", "tagging", "acl", "versioning", "location",
                            "encryption", "lifecycle", "cors", "uploads", "delete")
                if q in query), None)  # fmt: skip
    if not bucket:
        return "ListBuckets", params
    if not key:
        named = {
            ("GET", "policy"): "GetBucketPolicy", ("PUT", "policy"): "PutBucketPolicy",
            ("DELETE", "policy"): "DeleteBucketPolicy", ("GET", "tagging"): "GetBucketTagging",
            ("PUT", "tagging"): "PutBucketTagging", ("GET", "acl"): "GetBucketAcl",
            ("PUT", "acl"): "PutBucketAcl", ("GET", "versioning"): "GetBucketVersioning",
            ("PUT", "versioning"): "PutBucketVersioning",
            ("GET", "location"): "GetBucketLocation",
            ("GET", "encryption"): "GetBucketEncryption",
            ("PUT", "encryption"): "PutBucketEncryption", ("POST", "delete"): "DeleteObjects",
        }  # fmt: skip
        if sub and (method, sub) in named:
            return named[(method, sub)], params
        plain = {"PUT": "CreateBucket", "DELETE": "DeleteBucket", "HEAD": "HeadBucket"}
        if method == "GET":
            return ("ListObjectsV2" if query.get("list-type") == "2" else "ListObjects"), params
        return plain.get(method, f"{method}Bucket"), params
    if method == "PUT":
        if "partNumber" in query:
            return "UploadPart", params
        if sub == "tagging":
            return "PutObjectTagging", params
        if sub == "acl":
            return "PutObjectAcl", params
        return ("CopyObject" if "x-amz-copy-source" in headers else "PutObject"), params
    if method == "POST":
        upload = "CreateMultipartUpload" if "uploads" in query else "CompleteMultipartUpload"
        return upload, params
    if method == "GET":
        reads = {"tagging": "GetObjectTagging", "acl": "GetObjectAcl"}
        return reads.get(sub or "", "GetObject"), params
    return {"DELETE": "DeleteObject", "HEAD": "HeadObject"}.get(method, method), params


def _operation(entry: Mapping[str, Any], service: str) -> tuple[str, dict[str, Any]]:
    headers = {str(k).lower(): str(v) for k, v in (entry.get("headers") or {}).items()}
    url = urlsplit(str(entry.get("url") or ""))
    query = dict(parse_qsl(url.query, keep_blank_values=True))
    body = _body(entry)
    target = headers.get("x-amz-target")
    if target:
        try:
            doc = json.loads(body or b"{}")
        except ValueError:
            doc = {}
        params = {_lower_camel(k): v for k, v in doc.items()} if isinstance(doc, dict) else {}
        return target.rsplit(".", 1)[-1], params
    form = dict(query)
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    if "Action" in form:
        action = form.pop("Action")
        form.pop("Version", None)
        return action, {_lower_camel(k): v for k, v in form.items()}
    if service == "s3":
        return _s3_operation(str(entry.get("method") or "GET"), url.path, query, headers)
    return f"{entry.get('method')} {url.path}", {}


def to_records(recording: str, state: Mapping[str, Any]) -> list[dict[str, Any]]:
    """CloudTrail records for every signed AWS request in the recording, in order."""
    identities = _identities(state)
    rows = [json.loads(line) for line in recording.splitlines() if line.strip()]
    calls = []
    source_ids: dict[str, str] = {}
    for entry in rows:
        url = urlsplit(str(entry.get("url") or ""))
        if url.path.startswith("/moto-api/"):
            continue
        headers = {str(k).lower(): str(v) for k, v in (entry.get("headers") or {}).items()}
        m = _CREDENTIAL.search(headers.get("authorization", ""))
        when = headers.get("x-amz-date")
        if m is None or when is None:
            continue
        key, region, service = m.groups()
        name, params = _operation(entry, service)
        if service == "sts" and name == "AssumeRole" and params.get("sourceIdentity"):
            session = f"{params.get('roleArn')}|{params.get('roleSessionName')}"
            source_ids[session] = str(params["sourceIdentity"])
        calls.append((entry, headers, key, region, service, name, params, when))
    out = []
    for entry, headers, key, region, service, name, params, when in calls:
        ident = json.loads(json.dumps(identities.get(key) or {
            "type": "Unknown", "principalId": key, "accountId": DEFAULT_ACCOUNT}))  # fmt: skip
        ident["accessKeyId"] = key
        ctx = ident.get("sessionContext")
        if ctx:
            issuer = ctx["sessionIssuer"]["arn"]
            session = ident["arn"].rsplit("/", 1)[-1]
            sid = source_ids.get(f"{issuer}|{session}")
            if sid:
                ctx["sourceIdentity"] = sid
        at = datetime.strptime(when, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        digest = hashlib.sha256(json.dumps(entry, sort_keys=True).encode()).hexdigest()
        out.append(
            {
                "eventVersion": "1.09",
                "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "eventSource": f"{service}.amazonaws.com",
                "eventName": name,
                "awsRegion": region,
                "eventType": "AwsApiCall",
                "eventID": headers.get("amz-sdk-invocation-id") or digest[:36],
                "requestID": digest[:32],
                "recipientAccountId": ident.get("accountId", DEFAULT_ACCOUNT),
                "userIdentity": ident,
                "userAgent": headers.get("user-agent", ""),
                "sourceIPAddress": "127.0.0.1",
                "requestParameters": params or None,
                "readOnly": name.startswith(("Get", "List", "Describe", "Head")),
                "additionalEventData": {"recordedBy": "remit moto-trail (local stand-in)"},
            }
        )
    return out


def trail_document(records: Iterable[Mapping[str, Any]]) -> bytes:
    """An S3-delivery-shaped trail file of `records`."""
    return json.dumps({"Records": list(records)}).encode()
