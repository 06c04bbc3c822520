"""One CloudTrail record (parsed JSON) → one flat, typed event row, as real trails come:
field names in any case, the time in `eventTime` or Logstash's `@timestamp` in several
formats, events without `userIdentity` or with an empty one, empty access key ids,
service events without a principal.

A record that is not a usable event (not an object, not an event, no usable time) raises
`NotAnEvent` with the reason. Pure: no I/O; it does not read files (`reader`) or store
rows (`store`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from remit.cloudtrail.actions import map_event
from remit.cloudtrail.resources import derive_resources

EARLIEST: Final = datetime(2006, 1, 1, tzinfo=UTC)  # before AWS had an API to call
LATEST: Final = datetime(2100, 1, 1, tzinfo=UTC)

_EVENT_KEYS: Final = frozenset({"eventname", "eventsource", "eventtime", "eventtype"})
_NUMERIC = re.compile(r"^\d{9,13}(\.\d+)?$")


class NotAnEvent(ValueError):
    """The record cannot be stored as an event; the message says why."""


@dataclass(frozen=True, slots=True)
class Event:
    """One stored event. `principal` is the identity's ARN, or `TYPE:principalId` when the
    event has none; `role_arn` the role of an assumed-role session; `resources` the ARNs
    derived from the event (empty: its scope is checked at action level)."""

    event_time: datetime
    event_id: str | None
    event_source: str
    event_name: str
    event_type: str
    region: str | None
    account_id: str | None
    principal: str
    principal_arn: str | None
    identity_type: str | None
    principal_id: str | None
    access_key_id: str | None
    role_arn: str | None
    session_name: str | None
    source_identity: str | None
    error_code: str | None
    error_message: str | None
    read_only: bool | None
    kind: str
    iam_action: str | None
    resources: tuple[str, ...]


def lower_keys(value: Mapping[str, Any]) -> dict[str, Any]:
    """The mapping with lower-cased keys (the first spelling wins)."""
    out: dict[str, Any] = {}
    for k, v in value.items():
        out.setdefault(str(k).lower(), v)
    return out


def looks_like_event(value: object) -> bool:
    """True for an object carrying at least one CloudTrail event field."""
    return isinstance(value, dict) and any(str(k).lower() in _EVENT_KEYS for k in value)


def parse_event_time(value: object) -> datetime:
    """An event time from ISO-8601 (`Z`, offsets, a space for `T`, up to nanoseconds, no
    zone meaning UTC) or epoch seconds/milliseconds; NotAnEvent if it is not a possible
    time for an AWS call."""
    if isinstance(value, bool) or value is None:
        raise NotAnEvent("no event time (eventTime or @timestamp)")
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMERIC.match(value)):
        number = float(value)
        seconds = number / 1000 if number > 1e11 else number
        try:
            t = datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise NotAnEvent(f"impossible event time {value!r}") from None
    elif isinstance(value, str):
        t = _iso(value.strip())
    else:
        raise NotAnEvent(f"event time is a {type(value).__name__}, not a time")
    if not EARLIEST <= t < LATEST:
        raise NotAnEvent(f"impossible event time {value!r} (outside 2006–2100)")
    return t


_FRACTION = re.compile(r"(\.\d{1,6})\d*")


def _iso(text: str) -> datetime:
    if not text:
        raise NotAnEvent("empty event time")
    cleaned = text.replace(" ", "T", 1) if len(text) > 10 and text[10] == " " else text
    cleaned = _FRACTION.sub(lambda m: m.group(1), cleaned, count=1)  # ns → µs
    if cleaned.endswith(("Z", "z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        t = datetime.fromisoformat(cleaned)
    except ValueError:
        raise NotAnEvent(f"not a time: {text[:60]!r}") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)  # CloudTrail times are UTC
    return t.astimezone(UTC)


def _str(value: object) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text or None


def _getter(m: Mapping[str, Any]) -> Any:
    """A lookup by camelCase name that also finds the name in any other case. Records
    written by CloudTrail use its casing (looked up directly); others are lower-cased
    once."""
    if not _CANONICAL_PROBES.isdisjoint(m):
        return m.get
    lowered = lower_keys(m)
    return lambda name: lowered.get(name.lower())


_CANONICAL_PROBES: Final = frozenset({
    "eventTime", "eventName", "eventSource", "principalId", "accountId", "accessKeyId",
    "sessionContext", "sessionIssuer", "sourceIdentity", "invokedBy", "userName",
    "creationDate",
})  # fmt: skip
"""Keys whose CloudTrail spelling is not all lower case: one present means the object
uses CloudTrail's casing."""


def _sub(get: Any, name: str) -> Any:
    value = get(name)
    return _getter(value) if isinstance(value, dict) else _EMPTY


def _empty(name: str) -> None:
    return None


_EMPTY: Final = _empty


def normalize(record: object) -> Event:
    """The event row of one record; NotAnEvent says why there is none."""
    if not isinstance(record, dict):
        raise NotAnEvent(f"a record must be a JSON object, not {_json_type(record)}")
    r = _getter(record)
    if all(r(k) is None for k in ("eventName", "eventSource", "eventTime", "eventType")) and not (
        any(str(k).lower() in _EVENT_KEYS for k in record)
    ):
        raise NotAnEvent("not a CloudTrail event (no eventName, eventSource or eventTime)")
    raw_time = r("eventTime")
    if raw_time is None:
        raw_time = r("@timestamp")
    when = parse_event_time(raw_time)
    ident = _sub(r, "userIdentity")
    ctx = _sub(ident, "sessionContext")
    issuer = _sub(ctx, "sessionIssuer")
    source = _str(r("eventSource")) or ""
    name = _str(r("eventName")) or ""
    etype = _str(r("eventType")) or "AwsApiCall"
    itype = _str(ident("type"))
    pid = _str(ident("principalId"))
    arn = _str(ident("arn"))
    account = _str(r("recipientAccountId")) or _str(ident("accountId"))
    region = _str(r("awsRegion"))
    mapped = map_event(source, name, etype)
    role_arn = _str(issuer("arn")) if _str(issuer("type")) == "Role" else None
    session = None
    if itype == "AssumedRole" and arn and "/" in arn:
        session = arn.rsplit("/", 1)[1]
    ro = r("readOnly")
    return Event(
        event_time=when,
        event_id=_str(r("eventID")),
        event_source=source,
        event_name=name,
        event_type=etype,
        region=region,
        account_id=account,
        principal=arn or _principal_label(itype, pid, _str(ident("invokedBy"))),
        principal_arn=arn,
        identity_type=itype,
        principal_id=pid,
        access_key_id=_str(ident("accessKeyId")),
        role_arn=role_arn,
        session_name=session,
        source_identity=_str(ctx("sourceIdentity")) or _str(ident("sourceIdentity")),
        error_code=_str(r("errorCode")),
        error_message=_str(r("errorMessage")),
        read_only=ro if isinstance(ro, bool) else _bool(ro),
        kind=mapped.kind,
        iam_action=mapped.action,
        resources=derive_resources(
            r("resources"), r("requestParameters"), mapped.action, region, account
        ),
    )


def _principal_label(itype: str | None, pid: str | None, invoked_by: str | None) -> str:
    who = pid or invoked_by
    if itype and who:
        return f"{itype}:{who}"
    return itype or (f"unknown:{who}" if who else "unknown")


def _bool(value: object) -> bool | None:
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "a number" if isinstance(value, int | float) else type(value).__name__


def event_key(file_digest: str, position: int, raw: bytes) -> str:
    """The identity of a stored event: its file's content digest, its position there and
    its own content (never its `eventID` alone, which real trails repeat or omit)."""
    h = hashlib.sha256()
    h.update(file_digest.encode())
    h.update(position.to_bytes(8, "big"))
    h.update(hashlib.sha256(raw).digest())
    return h.hexdigest()[:32]


def canonical(record: object) -> bytes:
    """The record's bytes as stored (compact JSON, its own key order)."""
    return orjson.dumps(record)
