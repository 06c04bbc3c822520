"""The sessions c7n's action classes act with: every AWS request is signed with the
credentials Remit granted for the decision that covers its operation, and an operation no
decision covers is refused before it is signed or sent (fail closed: the runner's own
credentials are never used to act).

`DecisionSessions` is a c7n `session_factory` (a callable with a `region`). It also
records, per decision, the AWS request ids of the calls made under it, for the outcome
report. What it does not do: ask Remit or fetch grants (the runner passes them in).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.credentials import Credentials

_PARAMS = "remit_custodian_params"
_DECISION = "remit_custodian_decision"
NO_DECISION_KEY = "REMIT-NO-DECISION"
"""The access key a decision session holds itself: not a real key, never used to sign."""


class NoDecision(PermissionError):
    """c7n tried an AWS operation that no allowed decision of this batch covers."""


@dataclass(frozen=True)
class Route:
    """The decision that covers an operation, the credentials granted for it, and the API
    parameters a call must carry to be covered by it (e.g. `{"RoleName": …, "PolicyArn":
    …}` for a decision about one exact call; empty: any call of the operation)."""

    decision_id: str
    credentials: Credentials
    match: Mapping[str, str] = field(default_factory=dict)

    def covers(self, params: Mapping[str, Any]) -> bool:
        return all(params.get(k) == v for k, v in self.match.items())


def route_for(decision_id: str, grant: Mapping[str, Any], match: Mapping[str, str]) -> Route:
    """A route from a grant answer (`POST /v1/decisions/{id}/grant`)."""
    creds = Credentials(
        grant["access_key_id"], grant["secret_access_key"], grant.get("session_token")
    )
    return Route(decision_id, creds, dict(match))


class _Session(boto3.Session):  # type: ignore[misc]
    """A boto3 session whose clients default to the grant's endpoint (moto in tests)."""

    def __init__(self, region: str, endpoint_url: str | None) -> None:
        super().__init__(
            aws_access_key_id=NO_DECISION_KEY,
            aws_secret_access_key=NO_DECISION_KEY,
            region_name=region,
        )
        self._endpoint_url = endpoint_url

    def client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        if self._endpoint_url and "endpoint_url" not in kwargs:
            kwargs["endpoint_url"] = self._endpoint_url
        return super().client(service_name, *args, **kwargs)


class DecisionSessions:
    """A c7n session factory routing each operation (`signing-name:Operation`) to the
    credentials of the decision covering it."""

    def __init__(
        self,
        routes: Mapping[str, Sequence[Route]],
        region: str,
        endpoint_url: str | None = None,
    ) -> None:
        self.routes = {op: list(rs) for op, rs in routes.items()}
        self.region = region
        self.endpoint_url = endpoint_url
        self.request_ids: dict[str, list[str]] = {
            r.decision_id: [] for rs in routes.values() for r in rs
        }
        self.refused: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> boto3.Session:
        session = _Session(self.region, self.endpoint_url)
        session.events.register("before-parameter-build", self._keep_params)
        session.events.register("before-sign", self._sign)
        session.events.register("after-call", self._after_call)
        return session

    def _route(self, signing_name: str, operation: str, params: Mapping[str, Any]) -> Route:
        key = f"{signing_name}:{operation}"
        for route in self.routes.get(key, ()):
            if route.covers(params):
                return route
        with self._lock:
            self.refused.append(key)
        shown = {k: v for k, v in params.items() if k.endswith(("Name", "Arn", "Id"))}
        raise NoDecision(f"{key} {shown} is not covered by an allowed decision of this batch")

    @staticmethod
    def _keep_params(params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        context[_PARAMS] = {k: v for k, v in params.items() if isinstance(v, str)}

    def _sign(self, request: Any, signing_name: str, operation_name: str, **_: Any) -> None:
        params = request.context.get(_PARAMS, {})
        route = self._route(signing_name, operation_name, params)
        request.context.setdefault("signing", {})["request_credentials"] = route.credentials
        request.context[_DECISION] = route.decision_id

    def _after_call(
        self,
        http_response: Any = None,
        parsed: Any = None,
        context: dict[str, Any] | None = None,
        **_: Any,
    ) -> None:
        did = context.get(_DECISION) if context is not None else None
        if did is None:
            return
        meta = parsed.get("ResponseMetadata", {}) if isinstance(parsed, dict) else {}
        rid = meta.get("RequestId") or (
            http_response.headers.get("x-amzn-RequestId") if http_response is not None else None
        )
        if rid:
            with self._lock:
                self.request_ids.setdefault(did, []).append(str(rid))
