"""Each `tools/call` as a Remit decision, through the service with the proxy's agent key:
resolve the call with the mapping, ask, hold an `approve` decision within the budget, and
say what to do — forward (with the decision, and its grant when credentials are per call)
or answer the client with a refusal. An approval is bound to the SHA-256 of the exact
arguments: the proxy remembers a held decision by that digest so the client can call again
with the same arguments and be forwarded once it is approved; other arguments are a new
decision, and a decision is forwarded at most once.

This module talks to Remit (through `remit.AsyncClient`) and to no MCP peer: how a hold is
shown to the user is the `Notice` callback the proxy passes in."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio

from remit.mcp.mapping import MappingError, ResolvedCall, ToolMapping
from remit.sdk import AsyncClient, RemitRefused, RemitUnavailable

META_REASONING = "remit/reasoning"
META_PROVENANCE = "remit/provenance"
META_ON_BEHALF_OF = "remit/on_behalf_of"
META_ENVIRONMENT = "remit/environment"
MAX_HOLD = 180.0
"""The longest a call may be held for approval (below the usual client timeouts)."""

Notice = Callable[[dict[str, Any], str, float], Awaitable[None]]
"""(decision, approval link, seconds left) → tell the user where to approve."""


@dataclass(frozen=True)
class Refusal:
    """Not forwarded: `kind` is unmapped, bad-arguments, denied, pending, refused,
    unavailable or abandoned (or, from the proxy, upstream: forwarded but failed);
    `message` is what the client reads."""

    kind: str
    message: str
    decision: dict[str, Any] | None = None
    link: str | None = None


@dataclass(frozen=True)
class Admission:
    """Forward this call under `decision` (and `grant`, when credentials are per call)."""

    call: ResolvedCall
    decision: dict[str, Any]
    grant: dict[str, Any] | None


@dataclass
class GateConfig:
    """How the proxy asks: the mapping, the context its templates use (account, region),
    provenance sent with every call, the hold budget, whether to get a grant per call,
    and the template of the approval link."""

    mapping: ToolMapping
    context: dict[str, str]
    provenance: dict[str, Any] = field(default_factory=dict)
    hold_budget: float = 120.0
    credentials: bool = True
    link_template: str = "{remit_url}/v1/decisions/{decision_id}"


def _reasons(d: Mapping[str, Any]) -> str:
    return "; ".join(f"{r['code']}: {r['message']}" for r in d.get("reasons", [])) or "no reason"


def _unrecorded(d: Mapping[str, Any]) -> bool:
    """Remit answered but could not record (its ledger is down): not a decision."""
    codes = {r.get("code") for r in d.get("reasons", [])}
    return d.get("recorded") is False or "LEDGER_UNAVAILABLE" in codes


def _bad_meta(meta: Mapping[str, Any]) -> str | None:
    """What is wrong with the `remit/…` keys of a call's `_meta`, if anything."""
    for key in (META_REASONING, META_PROVENANCE):
        if meta.get(key) is not None and not isinstance(meta[key], Mapping):
            return f"_meta {key!r} must be an object, not {type(meta[key]).__name__}"
    for key in (META_ON_BEHALF_OF, META_ENVIRONMENT):
        if meta.get(key) is not None and not isinstance(meta[key], str):
            return f"_meta {key!r} must be a string, not {type(meta[key]).__name__}"
    return None


class McpGate:
    """Decides calls for one proxy (one agent key)."""

    def __init__(self, client: AsyncClient, config: GateConfig) -> None:
        if not 0 <= config.hold_budget <= MAX_HOLD:
            raise ValueError(f"hold budget must be between 0 and {MAX_HOLD:g} seconds")
        self.client = client
        self.config = config
        self.held: dict[str, str] = {}
        """arguments digest → the id of the decision held for exactly those arguments."""
        self.holding: dict[str, str] = {}
        """arguments digest → the id of a decision a call is waiting on right now."""
        self.closed = False
        """Set when the client has gone: nothing is admitted any more."""
        self._holds: set[anyio.CancelScope] = set()
        self._asking = 0
        self._quiet = anyio.Event()
        self._quiet.set()

    def link(self, decision_id: str) -> str:
        return self.config.link_template.format(
            remit_url=self.client.base_url, decision_id=decision_id
        )

    async def admit(
        self,
        tool: str,
        arguments: Mapping[str, Any] | None,
        meta: Mapping[str, Any] | None,
        notice: Notice | None = None,
    ) -> Admission | Refusal:
        """Decide the call; an `Admission` only when it may be forwarded now."""
        try:
            call = self.config.mapping.resolve(tool, arguments, self.config.context)
        except MappingError as exc:
            kind = "unmapped" if tool not in self.config.mapping.tools else "bad-arguments"
            return Refusal(kind, f"remit: {exc}; not forwarded")
        bad = _bad_meta(meta or {})
        if bad is not None:
            return Refusal("bad-arguments", f"remit: tool {tool!r}: {bad}; not forwarded")
        try:
            self._asking += 1
            self._quiet = anyio.Event() if self._quiet.is_set() else self._quiet
            try:
                d = await self._decision(call, meta or {})
            finally:
                self._asking -= 1
                if not self._asking:
                    self._quiet.set()
            if _unrecorded(d):
                return Refusal(
                    "unavailable",
                    f"remit: unavailable — the ledger could not record the decision on "
                    f"{call.action}, so the call was refused, not denied: {_reasons(d)}; "
                    "nothing was forwarded",
                    d,
                )
            if d["status"] == "pending":
                self.holding[call.arguments_sha256] = d["id"]
                try:
                    d = await self._hold(call, d, notice)
                finally:
                    self.holding.pop(call.arguments_sha256, None)
            if self.closed:
                return Refusal(
                    "abandoned",
                    f"remit: the client went away while {call.action} was held; not forwarded "
                    f"(decision {d['id']})",
                    d,
                )
            if d["status"] == "pending":
                link = self.link(d["id"])
                self.held[call.arguments_sha256] = d["id"]
                return Refusal(
                    "pending",
                    f"remit: {call.action} is pending approval at {link}; call again with the "
                    f"same arguments once it is approved (decision {d['id']}; not forwarded)",
                    d,
                    link,
                )
            self.held.pop(call.arguments_sha256, None)
            if d["status"] != "allowed":
                state = (d.get("approval") or {}).get("state")
                what = f"approval {state}" if state in ("rejected", "expired") else d["tier"]
                return Refusal(
                    "denied",
                    f"remit: {call.action} on {', '.join(call.resources)} denied ({what}) — "
                    f"{_reasons(d)} (decision {d['id']}; not forwarded)",
                    d,
                )
            grant = await self.client.grant(d["id"]) if self.config.credentials else None
        except RemitUnavailable as exc:
            return Refusal(
                "unavailable",
                f"remit: unavailable — the call was refused, not denied: {exc}; "
                "nothing was forwarded",
            )
        except RemitRefused as exc:
            return Refusal("refused", f"remit: refused the request — {exc.detail}; not forwarded")
        return Admission(call, d, grant)

    async def _decision(self, call: ResolvedCall, meta: Mapping[str, Any]) -> dict[str, Any]:
        held = self.held.get(call.arguments_sha256)
        if held is not None:
            return await self.client.get(held)
        provenance = {**self.config.provenance, **dict(meta.get(META_PROVENANCE) or {})}
        options: dict[str, Any] = {
            "reasoning": dict(meta.get(META_REASONING) or {}),
            "provenance": provenance,
            "parameters": {
                **call.parameters,
                "remit:mcp": {
                    "server": self.config.mapping.server,
                    "tool": call.tool,
                    "arguments_sha256": call.arguments_sha256,
                },
            },
        }
        for key, name in ((META_ON_BEHALF_OF, "on_behalf_of"), (META_ENVIRONMENT, "environment")):
            if meta.get(key):
                options[name] = str(meta[key])
        return await self.client.decide(call.action, list(call.resources), **options)

    async def _hold(
        self, call: ResolvedCall, d: dict[str, Any], notice: Notice | None
    ) -> dict[str, Any]:
        deadline = time.monotonic() + self.config.hold_budget
        with anyio.CancelScope() as scope:  # `close()` ends every hold at once
            self._holds.add(scope)
            try:
                if notice is not None:
                    with contextlib.suppress(Exception):  # telling the user decides nothing
                        await notice(d, self.link(d["id"]), self.config.hold_budget)
                while d["status"] == "pending":
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    d = await self.client.get(d["id"], wait=min(left, 30.0))
            finally:
                self._holds.discard(scope)
        return d

    async def after_decisions(self, at_most: float) -> None:
        """Wait (up to `at_most` seconds) until no decision is being asked: an outcome
        report sent meanwhile would queue in Remit ahead of the next call's decision."""
        with anyio.move_on_after(at_most):
            await self._quiet.wait()

    async def finish(
        self, admission: Admission, ok: bool, error: str | None, request_ids: list[str]
    ) -> None:
        """Report the outcome (Remit revokes the grant with it); revoke if the report
        cannot be made."""
        did = admission.decision["id"]
        try:
            await self.client.report_outcome(
                did, "succeeded" if ok else "failed", error, request_ids
            )
        except (RemitUnavailable, RemitRefused):
            if admission.grant is not None:
                with contextlib.suppress(RemitUnavailable, RemitRefused):
                    await self.client.revoke(did)

    def close(self) -> None:
        """The client has gone: admit nothing more, and end every hold now (what was held
        is remembered for `abandon`)."""
        self.closed = True
        self.held.update(self.holding)
        for scope in list(self._holds):
            scope.cancel()

    async def abandon(self, reason: str) -> None:
        """The client went away: record on each held decision that its call was not
        forwarded and never will be (this proxy forgets it)."""
        self.close()
        held, self.held = dict(self.held), {}
        for did in held.values():
            with contextlib.suppress(RemitUnavailable, RemitRefused):
                await self.client.report_outcome(did, "failed", reason, [])
