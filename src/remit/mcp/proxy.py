"""The proxy's MCP face: a low-level `mcp` Server over stdio (both protocol eras the SDK
serves) whose `tools/list` is the upstream's and whose `tools/call` goes through the gate
first. A refused call is a tool error the model can read (`is_error`, the reason, and a
`remit` object in structured content); a forwarded call runs in the upstream, with the
decision's credentials when they are per call, and its outcome is reported to Remit.

Nothing is forwarded that was not decided: the gate's `Admission` is the only path to the
upstream. When the client goes away, held decisions are recorded as not forwarded."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPDeprecationWarning

from remit.mcp.credentials import CredentialBroker
from remit.mcp.gate import Admission, GateConfig, McpGate, Refusal
from remit.mcp.stdio import event_loop_stdio
from remit.mcp.upstream import Upstream, UpstreamFailed, connect
from remit.sdk import AsyncClient

PASSED_THROUGH = ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_IAM")
"""Variables of the proxy's own environment the upstream gets (besides the SDK's safe
defaults) when credentials are per call; `--env` adds more."""


REPORT_YIELDS_AT_MOST = 0.05
"""An outcome report waits at most this long for a decision being asked (the next call's)
to come back first: reports then overlap the upstream's work rather than Remit's."""


@dataclass
class ProxyOptions:
    """Everything `remit mcp proxy` was told."""

    command: Sequence[str]
    gate: GateConfig
    env: dict[str, str] = field(default_factory=dict)
    call_timeout: float = 60.0
    timings: Path | None = None


def refusal_result(r: Refusal) -> types.CallToolResult:
    remit: dict[str, Any] = {"refused": r.kind, "message": r.message}
    if r.decision is not None:
        remit["decision_id"] = r.decision["id"]
        remit["tier"] = r.decision["tier"]
        remit["reasons"] = r.decision.get("reasons", [])
    if r.link:
        remit["approval_link"] = r.link
    return types.CallToolResult(
        content=[types.TextContent(text=r.message)],
        structured_content={"remit": remit},
        is_error=True,
    )


def upstream_env(options: ProxyOptions, broker: CredentialBroker | None) -> dict[str, str]:
    """What the upstream process is started with (over the SDK's safe defaults)."""
    region = options.gate.context.get("region")
    if broker is None:  # the upstream keeps its own credentials: not an AWS server
        own = {**os.environ, **options.env}
        if region:
            own.setdefault("AWS_DEFAULT_REGION", own.get("AWS_REGION", region))
        return own
    base = {k: os.environ[k] for k in PASSED_THROUGH if k in os.environ}
    if region:  # botocore reads AWS_DEFAULT_REGION; the config file is emptied
        base.setdefault("AWS_DEFAULT_REGION", base.get("AWS_REGION", region))
    return broker.upstream_env({**base, **options.env})


class Proxy:
    """One client connection in front of one upstream. Outcomes are reported after the
    client has its answer, by tasks in `reports` (the caller waits for them before it
    closes); `timings`, when given, gets one JSON line per call with the proxy's own
    time split (what it adds on top of the upstream's call)."""

    def __init__(
        self,
        gate: McpGate,
        upstream: Upstream,
        broker: CredentialBroker | None,
        reports: anyio.abc.TaskGroup,
        timings: TextIO | None = None,
    ) -> None:
        self.gate = gate
        self.upstream = upstream
        self.broker = broker
        self.reports = reports
        self.timings = timings
        self.server: Server[Any] = Server(
            "remit-mcp-proxy",
            version="0.1.0",
            instructions="Every tool call is decided by Remit before it runs.",
            on_list_tools=self.list_tools,
            on_call_tool=self.call_tool,
        )

    async def list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return await self.upstream.list_tools(params.cursor if params else None)

    async def call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        t0 = time.perf_counter()
        meta: Mapping[str, Any] = params.meta or {}
        async with anyio.create_task_group() as tg:

            async def notice(decision: dict[str, Any], link: str, budget: float) -> None:
                await self._notice(ctx, tg, decision, link, budget)

            verdict = await self.gate.admit(params.name, params.arguments, meta, notice)
            tg.cancel_scope.cancel()  # an unanswered elicitation ends with the hold
        t1 = time.perf_counter()
        if isinstance(verdict, Refusal):
            self._time(params.name, verdict.kind, t0, t1, t1, t1)
            return refusal_result(verdict)
        d = verdict.decision
        try:
            async with self.upstream.lock:
                with contextlib.ExitStack() as stack:
                    if self.broker is not None and verdict.grant is not None:
                        stack.enter_context(self.broker.active(verdict.grant))
                    t2 = time.perf_counter()
                    result = await self.upstream.call_tool(params.name, params.arguments)
                    t3 = time.perf_counter()
        except UpstreamFailed as exc:
            self.reports.start_soon(self._report, verdict, False, str(exc), params.name, t0, t1)
            return refusal_result(Refusal("upstream", f"remit: {exc} (decision {d['id']})", d))
        error = None
        if result.is_error:
            texts = [c.text for c in result.content if isinstance(c, types.TextContent)]
            error = (" ".join(texts) or "the tool reported an error")[:3900]
        stamp = {"remit/decision_id": d["id"], "remit/tier": d["tier"]}
        answer = result.model_copy(update={"meta": {**(result.meta or {}), **stamp}})
        self.reports.start_soon(
            self._report, verdict, not result.is_error, error, params.name, t0, t1, t2, t3
        )
        return answer

    async def _report(
        self,
        admission: Admission,
        ok: bool,
        error: str | None,
        tool: str,
        *marks: float,
    ) -> None:
        """Report the outcome once the client has its answer (the handler has returned and
        its response is queued); shielded, so a closing proxy still records it."""
        with anyio.CancelScope(shield=True):
            await anyio.sleep(0)  # let the answer go out first
            await self.gate.after_decisions(REPORT_YIELDS_AT_MOST)
            r0 = time.perf_counter()
            await self.gate.finish(admission, ok, error, [])
            if len(marks) == 4:
                self._time(tool, "forwarded", *marks, report_ms=(time.perf_counter() - r0) * 1e3)

    def _time(
        self,
        tool: str,
        verdict: str,
        t0: float,
        t1: float,
        t2: float,
        t3: float,
        report_ms: float | None = None,
    ) -> None:
        if self.timings is None:
            return
        line = {
            "tool": tool,
            "verdict": verdict,
            "decide_ms": round((t1 - t0) * 1e3, 4),
            "forward_ms": round((t3 - t2) * 1e3, 4),
            "added_ms": round(((t1 - t0) + (t2 - t1)) * 1e3, 4),
            "report_ms": None if report_ms is None else round(report_ms, 4),
        }
        self.timings.write(json.dumps(line) + "\n")
        self.timings.flush()

    async def _notice(
        self,
        ctx: ServerRequestContext[Any],
        tg: anyio.abc.TaskGroup,
        decision: dict[str, Any],
        link: str,
        budget: float,
    ) -> None:
        message = (
            f"Remit holds {decision['action']} for approval (decision {decision['id']}): "
            f"approve at {link}. Waiting up to {budget:g}s."
        )
        caps = ctx.session.client_capabilities
        elicitation = caps.elicitation if caps is not None else None
        if elicitation is not None and elicitation.url is not None and ctx.session.can_send_request:
            tg.start_soon(self._elicit, ctx, message, link, decision["id"])
        await ctx.session.report_progress(0, None, message)
        with contextlib.suppress(Exception), warnings.catch_warnings():
            warnings.simplefilter("ignore", MCPDeprecationWarning)  # logging, 2026-07-28
            await ctx.session.send_log_message("warning", message, "remit")

    @staticmethod
    async def _elicit(
        ctx: ServerRequestContext[Any], message: str, link: str, decision_id: str
    ) -> None:
        with contextlib.suppress(Exception):
            await ctx.session.elicit_url(message, link, f"remit-{decision_id}", ctx.request_id)


async def _run(proxy: Proxy, gate: McpGate, read: Any, write: Any) -> None:
    """Serve one client; the moment its input ends (it closed stdin, or went away), every
    call held for approval ends unforwarded: the SDK would otherwise wait for them."""
    send, receive = anyio.create_memory_object_stream[Any](16)

    async def relay() -> None:
        async with send:
            async for message in read:
                await send.send(message)
        gate.close()

    async with anyio.create_task_group() as tg:
        tg.start_soon(relay)
        await proxy.server.run(receive, write, proxy.server.create_initialization_options())


async def _stop_on_sigterm(scope: anyio.CancelScope, gate: McpGate) -> None:
    """SIGTERM ends the proxy as a closed stdin does: what is held is recorded as not
    forwarded before it exits. MCP clients close stdin, wait about two seconds, then
    terminate the server; a proxy still telling Remit must not be cut off silently."""
    with anyio.open_signal_receiver(signal.SIGTERM) as signals:
        async for _ in signals:
            gate.close()  # first: the holds it ends are remembered for `abandon`
            scope.cancel()
            return


async def serve(
    options: ProxyOptions,
    client: AsyncClient,
    *,
    read: Any = None,
    write: Any = None,
    errlog: TextIO = sys.stderr,
) -> None:
    """Run the proxy until the client closes stdin (or the given streams)."""
    gate = McpGate(client, options.gate)
    broker = CredentialBroker() if options.gate.credentials else None
    timings = options.timings.open("a", encoding="utf-8") if options.timings else None
    try:
        env = upstream_env(options, broker)
        async with (
            connect(
                options.command, env, call_timeout=options.call_timeout, errlog=errlog
            ) as upstream,
            anyio.create_task_group() as reports,  # outcome reports finish before we close
        ):
            gate.config.observed["tools_sha256"] = await upstream.tool_set_digest()
            proxy = Proxy(gate, upstream, broker, reports, timings)
            try:
                async with anyio.create_task_group() as running:
                    if threading.current_thread() is threading.main_thread():
                        running.start_soon(_stop_on_sigterm, running.cancel_scope, gate)
                    if read is not None and write is not None:
                        await _run(proxy, gate, read, write)
                    else:
                        async with event_loop_stdio() as pipes:
                            stdin, stdout = pipes if pipes is not None else (None, None)
                            async with stdio_server(stdin, stdout) as (r, w):
                                await _run(proxy, gate, r, w)
                    running.cancel_scope.cancel()  # served to the end: stop listening
            finally:
                with anyio.CancelScope(shield=True):
                    await gate.abandon(
                        "the MCP client disconnected while approval was pending; "
                        "the call was not forwarded and will not be"
                    )
    finally:
        if broker is not None:
            broker.close()
        if timings is not None:
            timings.close()
        await client.aclose()
