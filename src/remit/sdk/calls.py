"""The SDK's half of the Remit HTTP API, without a transport: which keyword arguments an
ask takes (`AskOptions`, checked by name), the request each client method sends (`Call`),
and how an answer is read (errors, the final status of a decision, the fallback an
AccessDenied calls for).

`Client` and `AsyncClient` (`remit.sdk.client`) only send these calls, one synchronously,
one with asyncio; nothing here sends anything, sleeps or reads the network.
"""

from __future__ import annotations

import difflib
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self, TypedDict

import httpx
from botocore.exceptions import ClientError

from remit.sdk.errors import (
    ApprovalTimedOut,
    Denied,
    FallbackRequired,
    RemitRefused,
    RemitUnavailable,
)
from remit.sdk.session import GovernedSession
from remit.sdk.settings import resolve

ResourceArg = str | Mapping[str, Any]
"""An ARN, or `{"arn": …, "tags": {…}}`."""

ACCESS_DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedAccess",
        "Forbidden",
        "InvalidClientTokenId",
    }
)
LONG_POLL_MAX = 60.0
"""Seconds one `GET /v1/decisions/{id}?wait=` may wait at most."""


class AskOptions(TypedDict, total=False):
    """What an ask may say besides its action and resources (all optional)."""

    reasoning: Mapping[str, Any]
    """summary, signals, confidence, alternatives: why the agent wants to act."""
    provenance: Mapping[str, Any]
    """model, workflow, prompt_sha256, tools_sha256, parent_decision; merged over the
    client's own."""
    parameters: Mapping[str, Any]
    """The API parameters of the action (e.g. RoleName, PolicyArn)."""
    agent: str
    """The envelope agent asking; default: the client's `agent`."""
    on_behalf_of: str
    """The human or system the agent acts for."""
    environment: str
    """e.g. production, staging."""
    origin: str
    """"ai" (the default) or "human"."""


class DecideOptions(AskOptions, total=False):
    """`AskOptions`, and a reference to the decision this ask is a fallback from."""

    fallback: Mapping[str, Any]


class StepOptions(DecideOptions, total=False):
    """`DecideOptions`, and how long to wait for a human's approval."""

    approval_timeout: float | None
    """Seconds; default (or None): the client's `approval_timeout`."""


def _names(options: type[Any]) -> frozenset[str]:
    keys: frozenset[str] = options.__required_keys__ | options.__optional_keys__
    return keys


ASK_NAMES = _names(AskOptions)
DECIDE_NAMES = _names(DecideOptions)
STEP_NAMES = _names(StepOptions)


def check_names(caller: str, given: Mapping[str, object], known: frozenset[str]) -> None:
    """Raise TypeError, as Python would, for the first keyword in `given` that `caller`
    does not take (a misspelt `reasonning=` must never be dropped in silence)."""
    for name in given:
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(f"{caller}() got an unexpected keyword argument {name!r}{hint}")


@dataclass(frozen=True)
class Call:
    """One HTTP request to Remit: method, path (under the client's base URL), JSON body,
    query and a timeout for this request only (None: the client's)."""

    method: str
    path: str
    json: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    timeout: float | None = None


def resources_json(resources: Sequence[ResourceArg] | ResourceArg) -> list[dict[str, Any]]:
    """The `resources` of an ActionRequest from ARNs or `{arn, tags}` mappings."""
    if isinstance(resources, str | Mapping):
        resources = [resources]
    out = []
    for r in resources:
        if isinstance(r, str):
            out.append({"arn": r, "tags": {}})
        else:
            out.append({"arn": r["arn"], "tags": dict(r.get("tags") or {})})
    return out


def answer(r: httpx.Response) -> dict[str, Any]:
    """The JSON of a 2xx answer; `RemitUnavailable` for 5xx, 408 and 429 (Remit could not
    decide or record: never proceed), `RemitRefused` for any other error."""
    if r.status_code >= 400:
        try:
            detail = r.json().get("detail")
        except ValueError:
            detail = r.text[:300]
        if r.status_code >= 500 or r.status_code in (408, 429):
            raise RemitUnavailable(f"Remit answered {r.status_code}: {detail}")
        raise RemitRefused(r.status_code, detail)
    out: dict[str, Any] = r.json()
    return out


def final(d: dict[str, Any]) -> dict[str, Any]:
    """`d` if it is allowed; raises `Denied` (denied, or an approval rejected or expired)
    or `ApprovalTimedOut` (still pending)."""
    if d["status"] == "allowed":
        return d
    if d["status"] == "denied":
        state = (d.get("approval") or {}).get("state")
        what = f"approval {state}" if state in ("rejected", "expired") else f"decision {d['tier']}"
        raise Denied(f"{d['action']} not allowed ({what})", d)
    raise ApprovalTimedOut(f"{d['action']} is still waiting for approval", d)


def next_wait(d: dict[str, Any], deadline: float) -> float | None:
    """Seconds to long-poll `d` for next, or None when waiting is over (it is no longer
    pending, or the `deadline` on the monotonic clock has passed)."""
    if d["status"] != "pending":
        return None
    left = deadline - time.monotonic()
    return None if left <= 0 else min(left, LONG_POLL_MAX)


def step_failure(
    exc: BaseException, session: GovernedSession
) -> tuple[str, FallbackRequired | None]:
    """What to report when a governed step's block raised `exc`: the error text, and the
    `FallbackRequired` to raise instead when AWS refused a call for lack of permission."""
    if not isinstance(exc, ClientError):
        return f"{type(exc).__name__}: {exc}", None
    code = exc.response.get("Error", {}).get("Code", "")
    if code not in ACCESS_DENIED:
        return f"{exc}", None
    action = session.last_action or exc.operation_name
    return f"{exc}", FallbackRequired(action, code, session.decision)


def scoped_session(decision: dict[str, Any], grant: dict[str, Any]) -> GovernedSession:
    """The boto3 session a step yields: the grant's credentials, and its endpoint."""
    return GovernedSession(decision=decision, grant=grant, endpoint_url=grant.get("endpoint_url"))


class Calls(ABC):
    """What a client says to Remit: its settings, and the `Call` for each method. Each
    client subclass opens its own transport (`_open`)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        agent: str | None = None,
        provenance: Mapping[str, Any] | None = None,
        approval_timeout: float = 300.0,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {api_key}", "User-Agent": "remit-sdk/0.1"}
        self.agent = agent
        self.provenance = dict(provenance or {})
        self.approval_timeout = approval_timeout
        self._open(timeout)

    @classmethod
    def from_env(
        cls,
        url: str | None = None,
        api_key: str | None = None,
        *,
        agent: str | None = None,
        environ: Mapping[str, str] | None = None,
        provenance: Mapping[str, Any] | None = None,
        approval_timeout: float = 300.0,
        timeout: float = 30.0,
    ) -> Self:
        """A client configured from `REMIT_URL`, `REMIT_API_KEY` and `REMIT_AGENT`
        (`environ`, default `os.environ`); arguments given here override them. A missing
        URL or key raises `SettingsError` naming the variable."""
        s = resolve(url, api_key, agent, environ=environ)
        return cls(
            s.url,
            s.api_key,
            agent=s.agent,
            provenance=provenance,
            approval_timeout=approval_timeout,
            timeout=timeout,
        )

    @abstractmethod
    def _open(self, timeout: float) -> None:
        """Open the transport (each client its own: sync or async HTTP)."""

    def _caller(self, method: str) -> str:
        return f"{type(self).__name__}.{method}"

    def decide_call(
        self,
        method: str,
        action: str,
        resources: Sequence[ResourceArg] | ResourceArg,
        options: Mapping[str, Any],
    ) -> Call:
        """`POST /v1/decisions` for the client method `method` (named in errors)."""
        check_names(self._caller(method), options, DECIDE_NAMES)
        agent = options.get("agent") or self.agent
        if not agent:
            raise ValueError("no agent: pass agent=… to the Client or to this call")
        body: dict[str, Any] = {
            "agent": agent,
            "origin": options.get("origin", "ai"),
            "action": action,
            "resources": resources_json(resources),
            "reasoning": dict(options.get("reasoning") or {}),
            "provenance": {**self.provenance, **dict(options.get("provenance") or {})},
            "parameters": dict(options.get("parameters") or {}),
        }
        for optional in ("fallback", "on_behalf_of", "environment"):
            value = options.get(optional)
            if value:
                body[optional] = dict(value) if isinstance(value, Mapping) else value
        return Call("POST", "/v1/decisions", json=body)

    def fallback_options(
        self, method: str, failure: FallbackRequired, options: Mapping[str, Any]
    ) -> dict[str, Any]:
        """`options` plus the reference to the decision `failure` falls back from."""
        check_names(self._caller(method), options, ASK_NAMES)
        if not failure.decision_id:
            raise ValueError("the failure carries no decision to fall back from")
        ref = {
            "of": failure.decision_id,
            "failed_action": failure.failed_action,
            "error": failure.error,
        }
        return {**options, "fallback": ref}

    def step_options(self, method: str, options: Mapping[str, Any]) -> tuple[float, dict[str, Any]]:
        """(seconds to wait for approval, the options of the ask) of a step."""
        check_names(self._caller(method), options, STEP_NAMES)
        ask = dict(options)
        timeout = ask.pop("approval_timeout", None)
        return (self.approval_timeout if timeout is None else float(timeout)), ask

    def deadline(self, timeout: float | None) -> float:
        """When waiting for approval ends, on the monotonic clock."""
        return time.monotonic() + (self.approval_timeout if timeout is None else timeout)

    @staticmethod
    def get_call(decision_id: str, wait: float = 0) -> Call:
        return Call("GET", f"/v1/decisions/{decision_id}", params={"wait": wait}, timeout=wait + 30)

    @staticmethod
    def outcome_call(
        decision_id: str, status: str, error: str | None, cloud_request_ids: Sequence[str]
    ) -> Call:
        body = {"status": status, "error": error, "cloud_request_ids": list(cloud_request_ids)}
        return Call("POST", f"/v1/decisions/{decision_id}/outcome", json=body)

    @staticmethod
    def grant_call(decision_id: str) -> Call:
        return Call("POST", f"/v1/decisions/{decision_id}/grant")

    @staticmethod
    def revoke_call(decision_id: str) -> Call:
        return Call("POST", f"/v1/decisions/{decision_id}/revoke")

    @staticmethod
    def rollback_plan_call(decision_id: str) -> Call:
        return Call("GET", f"/v1/decisions/{decision_id}/rollback")
