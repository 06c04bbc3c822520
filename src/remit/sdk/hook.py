"""`remit.instrument(session, client, agent=…, provenance=…)`: every API call made through a
boto3 session is decided by Remit first. A call that is not allowed raises `Denied` (or
`ApprovalTimedOut`) before the request leaves the process; an allowed call carries the
decision id in its User-Agent, and its outcome (with the AWS request id) is reported.

Read-only calls can share one decision per step: when `batch_reads=True`, a read that
Remit decided `autonomous` is reused for the same action and resources until
`instrumentation.new_step()` — and only if the decision says the envelope allows it.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from remit.sdk.client import Client
from remit.sdk.errors import RemitUnavailable

ResourceResolver = Callable[[str, Mapping[str, Any], str], Sequence[str]]
"""(action, API params, account id) → the ARNs the call touches."""

_ARN_BUILDERS: dict[str, Callable[[Mapping[str, Any], str], list[str]]] = {
    "RoleName": lambda p, acct: [f"arn:aws:iam::{acct}:role/{p['RoleName']}"],
    "UserName": lambda p, acct: [f"arn:aws:iam::{acct}:user/{p['UserName']}"],
    "PolicyArn": lambda p, acct: [str(p["PolicyArn"])],
    "Bucket": lambda p, acct: [
        f"arn:aws:s3:::{p['Bucket']}" + (f"/{p['Key']}" if "Key" in p else "")
    ],
    "GroupId": lambda p, acct: [f"arn:aws:ec2:*:{acct}:security-group/{p['GroupId']}"],
    "InstanceIds": lambda p, acct: [f"arn:aws:ec2:*:{acct}:instance/{i}" for i in p["InstanceIds"]],
}


def default_resources(action: str, params: Mapping[str, Any], account: str) -> list[str]:
    """ARNs from the usual identifying parameters; "*" when none is recognised (then only
    a rule that covers everything can match — unknown scope is never assumed small)."""
    for key, build in _ARN_BUILDERS.items():
        if key in params:
            return build(params, account)
    return ["*"]


@dataclass
class Instrumentation:
    """Handle returned by `instrument`; `new_step()` ends read batching for the step."""

    client: Client
    agent: str
    account: str
    provenance: Mapping[str, Any]
    reasoning: Callable[[str, Mapping[str, Any]], Mapping[str, Any]] | Mapping[str, Any]
    resolver: ResourceResolver
    batch_reads: bool
    approval_timeout: float
    decisions: list[dict[str, Any]] = field(default_factory=list)
    _batch: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = field(default_factory=dict)
    _local: threading.local = field(default_factory=threading.local)

    def new_step(self) -> None:
        self._batch.clear()

    # botocore handlers -----------------------------------------------------------------
    def before_parameter_build(
        self, params: Mapping[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        # `before-call` only sees the serialised request dict; keep the API parameters
        # (RoleName, Bucket…) it needs to name the resources, JSON-safe.
        context["remit_api_params"] = json.loads(
            json.dumps(dict(params), default=lambda o: f"<{type(o).__name__}>")
        )

    def before_call(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        params: Mapping[str, Any] = context.get("remit_api_params", {})
        prefix = model.service_model.signing_name or model.service_model.endpoint_prefix
        action = f"{prefix}:{model.name}"
        arns = list(self.resolver(action, params, self.account))
        key = (action.lower(), tuple(arns))
        cached = self._batch.get(key) if self.batch_reads else None
        if cached is not None:
            d = cached
        else:
            why = self.reasoning(action, params) if callable(self.reasoning) else self.reasoning
            d = self.client.decide(
                action,
                arns,
                reasoning=why,
                provenance=self.provenance,
                parameters=dict(params),
                agent=self.agent,
            )
            d = self.client.wait_for_approval(d, self.approval_timeout)  # raises if not allowed
            if self.batch_reads and d.get("batchable"):
                self._batch[key] = d
            self.decisions.append(d)
        context["remit_decision"] = d["id"]
        context["remit_reported"] = cached is not None

    def before_send(self, request: Any, **_: Any) -> None:
        did = request.context.get("remit_decision")
        if did:
            ua = request.headers.get("User-Agent", b"")
            ua = ua.decode() if isinstance(ua, bytes) else str(ua)
            request.headers["User-Agent"] = f"{ua} remit/{did}".strip()

    def after_call(
        self, http_response: Any, parsed: Mapping[str, Any], context: dict[str, Any], **_: Any
    ) -> None:
        did = context.get("remit_decision")
        if not did or context.get("remit_reported"):
            return
        meta = parsed.get("ResponseMetadata", {}) if isinstance(parsed, Mapping) else {}
        ok = (
            200
            <= int(getattr(http_response, "status_code", 0) or meta.get("HTTPStatusCode", 0))
            < 300
        )
        rid = meta.get("RequestId")
        err = None if ok else str((parsed.get("Error") or {}).get("Code", "error"))
        # The call already happened; a lost outcome report shows up in reconciliation.
        with contextlib.suppress(RemitUnavailable):
            self.client.report_outcome(
                did, "succeeded" if ok else "failed", err, [rid] if rid else []
            )


def instrument(
    session: Any,
    client: Client,
    *,
    agent: str,
    provenance: Mapping[str, Any] | None = None,
    reasoning: Callable[[str, Mapping[str, Any]], Mapping[str, Any]]
    | Mapping[str, Any]
    | None = None,
    account: str = "123456789012",
    resources: ResourceResolver = default_resources,
    batch_reads: bool = False,
    approval_timeout: float = 300.0,
) -> Instrumentation:
    """Govern every call made through `session` (a boto3.Session)."""
    inst = Instrumentation(
        client,
        agent,
        account,
        dict(provenance or {}),
        reasoning or {},
        resources,
        batch_reads,
        approval_timeout,
    )
    events = session.events
    events.register(
        "before-parameter-build.*.*", inst.before_parameter_build, unique_id="remit-params"
    )
    events.register("before-call.*.*", inst.before_call, unique_id="remit-before-call")
    events.register("before-send.*.*", inst.before_send, unique_id="remit-before-send")
    events.register("after-call.*.*", inst.after_call, unique_id="remit-after-call")
    return inst
