"""LangChain and LangGraph: `RemitToolGuard` asks Remit before a tool runs. It is a tool
call wrapper — `ToolNode(tools, wrap_tool_call=guard, awrap_tool_call=guard.awrap)`, and
the same `(request, handler)` shape LangChain's agent middleware `wrap_tool_call` takes.

- allowed (autonomous, notify, or approved): the tool runs; its outcome is reported (and
  the grant revoked, when `credentials=True` gave it scoped AWS credentials: see
  `remit.adapters.base.aws_session`);
- deny, unmapped tool, bad arguments, Remit unreachable: the tool does not run; the model
  gets an error `ToolMessage` saying why, with a `remit` artifact naming the kind — an
  unreachable Remit is `unavailable`, never worded as a denial;
- approve: held within `hold` seconds; still pending inside a LangGraph run with a
  checkpointer, it becomes LangGraph's own `interrupt` (payload: the decision and where to
  approve). Resuming the graph approves nothing — Remit is asked again and decides;
  outside such a run the model gets a `pending` error with the approval link, and a call
  again with the same arguments picks up the same decision.

Needs the `langchain` extra (langchain-core, langgraph)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from langchain_core.messages import ToolMessage
from langgraph.config import get_config
from langgraph.errors import GraphBubbleUp
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.types import Command, interrupt

from remit.adapters.base import Governance, Meta
from remit.mcp.mapping import ToolMapping
from remit.toolgate import Admission, Refusal

ToolResult = ToolMessage | Command[Any]
_CHECKPOINTER = "__pregel_checkpointer"
"""The key of the run's checkpointer in LangGraph's configurable (langgraph 1.x)."""


def remit_payload(r: Refusal) -> dict[str, Any]:
    """What a refusal tells the model (artifact) or the human (interrupt value)."""
    out: dict[str, Any] = {"kind": r.kind, "message": r.message}
    if r.decision is not None:
        out.update(
            decision_id=r.decision["id"],
            tier=r.decision["tier"],
            action=r.decision["action"],
            reasons=r.decision.get("reasons", []),
        )
    if r.link:
        out["approval_link"] = r.link
    return {"remit": out}


def _interruptible() -> bool:
    """Inside a LangGraph run that can be resumed (it has a checkpointer)."""
    try:
        config = get_config()
    except RuntimeError:
        return False
    return (config.get("configurable") or {}).get(_CHECKPOINTER) is not None


def _refused(r: Refusal, call: Mapping[str, Any]) -> ToolMessage:
    return ToolMessage(
        content=r.message,
        name=call["name"],
        tool_call_id=call["id"],
        status="error",
        artifact=remit_payload(r),
    )


def _outcome(result: ToolResult) -> tuple[bool, str | None]:
    if isinstance(result, ToolMessage) and result.status == "error":
        return False, str(result.content)[:3900] or "the tool reported an error"
    return True, None


def _stamped(result: ToolResult, admitted: Admission) -> ToolResult:
    if isinstance(result, ToolMessage):
        d = admitted.decision
        result.response_metadata = {
            **result.response_metadata,
            "remit/decision_id": d["id"],
            "remit/tier": d["tier"],
        }
    return result


class RemitToolGuard:
    """Asks Remit before each tool call a `ToolNode` (or a LangChain agent) runs.

    `tools`: what each tool means — `{name: {"action": "iam:DeleteRolePolicy",
    "resources": ["arn:aws:iam::{account}:role/{role_name}"]}}`, a `ToolMapping`, or a
    mapping file. A tool it does not name is refused. `url`, `api_key`, `agent` override
    `REMIT_URL`, `REMIT_API_KEY`, `REMIT_AGENT`."""

    def __init__(
        self,
        tools: Mapping[str, Any] | ToolMapping | str,
        *,
        account: str,
        url: str | None = None,
        api_key: str | None = None,
        agent: str | None = None,
        region: str = "us-east-1",
        provenance: Mapping[str, Any] | None = None,
        hold: float = 30.0,
        use_interrupt: bool = True,
        credentials: bool = False,
        meta: Meta | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.governance = Governance(
            tools,
            framework="langchain",
            url=url,
            api_key=api_key,
            agent=agent,
            account=account,
            region=region,
            provenance=provenance,
            hold=hold,
            credentials=credentials,
            meta=meta,
            environ=environ,
        )
        self.use_interrupt = use_interrupt

    def __call__(
        self, request: ToolCallRequest, execute: Callable[[ToolCallRequest], ToolResult]
    ) -> ToolResult:
        call = request.tool_call
        name, args = call["name"], dict(call.get("args") or {})
        gate = self.governance.sync_gate()
        meta = self.governance.call_meta(name, args)
        verdict = gate.admit(name, args, meta)
        if isinstance(verdict, Refusal) and self._should_interrupt(verdict):
            interrupt(remit_payload(verdict))
            verdict = gate.admit(name, args, meta, budget=0)
        if isinstance(verdict, Refusal):
            return _refused(verdict, call)
        with self.governance.running(verdict) as request_ids:
            try:
                result = execute(request)
            except GraphBubbleUp:
                gate.finish(verdict, False, "the tool was interrupted; run again to resume", [])
                raise
            except Exception as exc:
                gate.finish(verdict, False, f"{type(exc).__name__}: {exc}", list(request_ids))
                raise
        ok, error = _outcome(result)
        gate.finish(verdict, ok, error, list(request_ids))
        return _stamped(result, verdict)

    async def awrap(
        self,
        request: ToolCallRequest,
        execute: Callable[[ToolCallRequest], Awaitable[ToolResult]],
    ) -> ToolResult:
        """The same, for `ToolNode(awrap_tool_call=…)` and async agents."""
        call = request.tool_call
        name, args = call["name"], dict(call.get("args") or {})
        meta = self.governance.call_meta(name, args)
        async with self.governance.async_gate() as gate:
            verdict = await gate.admit(name, args, meta)
            if isinstance(verdict, Refusal) and self._should_interrupt(verdict):
                interrupt(remit_payload(verdict))
                verdict = await gate.admit(name, args, meta, budget=0)
            if isinstance(verdict, Refusal):
                return _refused(verdict, call)
            with self.governance.running(verdict) as request_ids:
                try:
                    result = await execute(request)
                except GraphBubbleUp:
                    await gate.finish(verdict, False, "the tool was interrupted", [])
                    raise
                except Exception as exc:
                    failed = f"{type(exc).__name__}: {exc}"
                    await gate.finish(verdict, False, failed, list(request_ids))
                    raise
            ok, error = _outcome(result)
            await gate.finish(verdict, ok, error, list(request_ids))
            return _stamped(result, verdict)

    def _should_interrupt(self, refusal: Refusal) -> bool:
        return self.use_interrupt and refusal.kind == "pending" and _interruptible()

    def close(self) -> None:
        self.governance.close()
