"""What the gate says to Remit about one tool call, and how it reads each answer, without
sending anything: each plan is a generator that yields the SDK's `Call`s (and an
`Announce` when a call is held for approval) and is sent back the answers, or thrown the
SDK's errors. `remit.toolgate.gate` drives it with a sync or an async client, so the MCP
proxy and every framework adapter share one set of rules:

- a tool the mapping does not name, or arguments that do not fill its templates, are
  refused before Remit is asked;
- `deny` (or a rejected or expired approval) is refused with Remit's reasons; `approve` is
  held within the budget and, if still pending, refused with where to approve;
- an approval is bound to the SHA-256 of the exact arguments: a call again with the same
  arguments reads the held decision, other arguments are a new decision, and an allowed
  decision is admitted at most once (it is forgotten when admitted);
- Remit unreachable (or refusing the request itself) is a refusal of its own kind, never
  an admission and never worded as a denial.

This module holds state only in the `held` mapping it is given; it does no I/O."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Generator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from remit.mcp.mapping import MappingError, ResolvedCall, ToolMapping
from remit.sdk.calls import Call, Calls
from remit.sdk.errors import RemitRefused, RemitUnavailable

META_REASONING = "remit/reasoning"
META_PROVENANCE = "remit/provenance"
META_ON_BEHALF_OF = "remit/on_behalf_of"
META_ENVIRONMENT = "remit/environment"
MAX_HOLD = 180.0
"""The longest a call may be held for approval (below the usual client timeouts)."""
POLL = 5.0
"""Seconds of one long-poll while held: a revoked key or a Remit that went away is
noticed within this long, not at the end of the budget."""

Notice = Callable[[dict[str, Any], str, float], Awaitable[None]]
"""(decision, approval link, seconds left) → tell the user where to approve (async)."""
SyncNotice = Callable[[dict[str, Any], str, float], None]
"""The same, for `SyncToolGate`."""


@dataclass(frozen=True)
class Refusal:
    """Not run: `kind` is unmapped, bad-arguments, denied, pending, refused, unavailable
    or abandoned (or, from the MCP proxy, upstream: forwarded but failed); `message` is
    what the model (or client) reads."""

    kind: str
    message: str
    decision: dict[str, Any] | None = None
    link: str | None = None


@dataclass(frozen=True)
class Admission:
    """Run this call under `decision` (and `grant`, when credentials are per call)."""

    call: ResolvedCall
    decision: dict[str, Any]
    grant: dict[str, Any] | None


@dataclass(frozen=True)
class Announce:
    """A step of a plan that asks nothing: the call is held; tell the user."""

    decision: dict[str, Any]
    link: str
    budget: float


Step = Call | Announce
Plan = Generator[Step, Any, Any]


@dataclass
class GateConfig:
    """How a gate asks: the mapping, the context its templates use (account, region),
    provenance sent with every call, the hold budget, whether to get a grant per call,
    the template of the approval link, and the key under which the call's origin (server
    or framework, tool, arguments digest) is recorded in the request's parameters."""

    mapping: ToolMapping
    context: dict[str, str]
    provenance: dict[str, Any] = field(default_factory=dict)
    observed: dict[str, Any] = field(default_factory=dict)
    """Provenance the gate measured itself (e.g. the MCP proxy's digest of the upstream's
    tool set): it overrides what a call's `_meta` claims."""
    hold_budget: float = 120.0
    credentials: bool = True
    link_template: str = "{remit_url}/v1/decisions/{decision_id}"
    origin_key: str = "remit:tool"
    not_run: str = "not run"
    """How a refusal ends: what did not happen to the call."""

    def __post_init__(self) -> None:
        if not 0 <= self.hold_budget <= MAX_HOLD:
            raise ValueError(f"hold budget must be between 0 and {MAX_HOLD:g} seconds")


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


def link(config: GateConfig, base_url: str, decision_id: str) -> str:
    """Where a human approves `decision_id`."""
    return config.link_template.format(remit_url=base_url, decision_id=decision_id)


def decide_call(
    config: GateConfig, calls: Calls, call: ResolvedCall, meta: Mapping[str, Any]
) -> Call:
    """`POST /v1/decisions` for `call`, with the reasoning and provenance in `meta`."""
    provenance = {**config.provenance, **dict(meta.get(META_PROVENANCE) or {}), **config.observed}
    options: dict[str, Any] = {
        "reasoning": dict(meta.get(META_REASONING) or {}),
        "provenance": provenance,
        "parameters": {
            **call.parameters,
            config.origin_key: {
                "server": config.mapping.server,
                "tool": call.tool,
                "arguments_sha256": call.arguments_sha256,
            },
        },
    }
    for key, name in ((META_ON_BEHALF_OF, "on_behalf_of"), (META_ENVIRONMENT, "environment")):
        if meta.get(key):
            options[name] = str(meta[key])
    return calls.decide_call("decide", call.action, list(call.resources), options)


def admission(
    config: GateConfig,
    calls: Calls,
    held: MutableMapping[str, str],
    tool: str,
    arguments: Mapping[str, Any] | None,
    meta: Mapping[str, Any] | None,
    budget: float | None = None,
) -> Generator[Step, Any, Admission | Refusal]:
    """Decide one call: an `Admission` only when it may run now. `held` maps an arguments
    digest to the decision held for exactly those arguments (updated here); `budget`
    (seconds, default the config's) is how long a pending decision is held."""
    hold = config.hold_budget if budget is None else min(max(budget, 0.0), MAX_HOLD)
    try:
        call = config.mapping.resolve(tool, arguments, config.context)
    except MappingError as exc:
        kind = "unmapped" if tool not in config.mapping.tools else "bad-arguments"
        return Refusal(kind, f"remit: {exc}; {config.not_run}")
    bad = _bad_meta(meta or {})
    if bad is not None:
        return Refusal("bad-arguments", f"remit: tool {tool!r}: {bad}; {config.not_run}")
    digest = call.arguments_sha256
    try:
        held_id = held.get(digest)
        if held_id is not None:
            d = yield Calls.get_call(held_id)
        else:
            d = yield decide_call(config, calls, call, meta or {})
        if _unrecorded(d):
            return Refusal(
                "unavailable",
                f"remit: unavailable — the ledger could not record the decision on "
                f"{call.action}, so the call was refused, not denied: {_reasons(d)}; "
                f"{config.not_run}",
                d,
            )
        if d["status"] == "pending":
            where = link(config, calls.base_url, d["id"])
            deadline = time.monotonic() + hold
            yield Announce(d, where, hold)
            while d["status"] == "pending" and (left := deadline - time.monotonic()) > 0:
                d = yield Calls.get_call(d["id"], wait=min(left, POLL))
        if d["status"] == "pending":
            where = link(config, calls.base_url, d["id"])
            held[digest] = d["id"]
            return Refusal(
                "pending",
                f"remit: {call.action} is pending approval at {where}; call again with the "
                f"same arguments once it is approved (decision {d['id']}; {config.not_run})",
                d,
                where,
            )
        held.pop(digest, None)
        if d["status"] != "allowed":
            state = (d.get("approval") or {}).get("state")
            what = f"approval {state}" if state in ("rejected", "expired") else d["tier"]
            return Refusal(
                "denied",
                f"remit: {call.action} on {', '.join(call.resources)} denied ({what}) — "
                f"{_reasons(d)} (decision {d['id']}; {config.not_run})",
                d,
            )
        grant = (yield Calls.grant_call(d["id"])) if config.credentials else None
    except RemitUnavailable as exc:
        return Refusal(
            "unavailable",
            f"remit: unavailable — the call was refused, not denied: {exc}; {config.not_run}",
        )
    except RemitRefused as exc:
        return Refusal("refused", f"remit: refused the request — {exc.detail}; {config.not_run}")
    return Admission(call, d, grant)


def finish(admitted: Admission, ok: bool, error: str | None, request_ids: list[str]) -> Plan:
    """Report the outcome (Remit revokes the grant with it); revoke if the report cannot
    be made."""
    did = admitted.decision["id"]
    try:
        yield Calls.outcome_call(did, "succeeded" if ok else "failed", error, request_ids)
    except (RemitUnavailable, RemitRefused):
        if admitted.grant is not None:
            try:
                yield Calls.revoke_call(did)
            except (RemitUnavailable, RemitRefused):
                return None
    return None


def abandon(held: MutableMapping[str, str], reason: str) -> Plan:
    """Record on each held decision that its call was not run and never will be (the gate
    forgets it)."""
    ids = list(held.values())
    held.clear()
    for did in ids:
        try:
            yield Calls.outcome_call(did, "failed", reason, [])
        except (RemitUnavailable, RemitRefused):
            continue
    return None
