"""The boto3 session a governed step yields: scoped credentials, the local endpoint when
Remit runs against one (moto in tests and the demo), and capture of every AWS request id
made through it, so the outcome report can name them."""

from __future__ import annotations

from typing import Any

import boto3


class GovernedSession(boto3.Session):  # type: ignore[misc]
    """A boto3 Session bound to one decision's credentials."""

    def __init__(
        self,
        *,
        decision: dict[str, Any],
        grant: dict[str, Any],
        endpoint_url: str | None = None,
    ) -> None:
        super().__init__(
            aws_access_key_id=grant["access_key_id"],
            aws_secret_access_key=grant["secret_access_key"],
            aws_session_token=grant["session_token"],
            region_name=grant.get("region") or "us-east-1",
        )
        self.decision = decision
        self.grant = grant
        self.endpoint_url = endpoint_url
        self.request_ids: list[str] = []
        self.last_action: str | None = None
        self.events.register("before-call.*.*", self._before_call)
        self.events.register("after-call.*.*", self._after_call)

    def _before_call(self, model: Any, **_: Any) -> None:
        prefix = model.service_model.signing_name or model.service_model.endpoint_prefix
        self.last_action = f"{prefix}:{model.name}"

    def _after_call(self, http_response: Any = None, parsed: Any = None, **_: Any) -> None:
        meta = (parsed or {}).get("ResponseMetadata", {}) if isinstance(parsed, dict) else {}
        rid = meta.get("RequestId") or (
            http_response.headers.get("x-amzn-RequestId") if http_response is not None else None
        )
        if rid:
            self.request_ids.append(str(rid))

    def client(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        if self.endpoint_url and "endpoint_url" not in kwargs:
            kwargs["endpoint_url"] = self.endpoint_url
        return super().client(service_name, *args, **kwargs)

    def resource(self, service_name: str, *args: Any, **kwargs: Any) -> Any:
        if self.endpoint_url and "endpoint_url" not in kwargs:
            kwargs["endpoint_url"] = self.endpoint_url
        return super().resource(service_name, *args, **kwargs)
