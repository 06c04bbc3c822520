"""The OpenAI Agents SDK (`openai-agents`): `RemitToolGuard.govern(tool)` returns a copy of a
`FunctionTool` that asks Remit before it runs, through the SDK's own hooks:

- `needs_approval`: Remit is asked when the model calls the tool; an `approve` decision
  still pending after `hold` seconds makes the run stop with the SDK's own interruption
  (`result.interruptions`, a `ToolApprovalItem`); `pending(call_id)` says which decision
  and where to approve it. Approving the item in the SDK (`state.approve`) approves
  nothing in Remit: when the run resumes, the input guardrail asks Remit again and only
  Remit's answer lets the tool run;
- a tool input guardrail: the decision (or Remit's answer now) — allowed lets the tool
  run; deny, unmapped tool, bad arguments, still pending, Remit unreachable reject the
  call with a message the model reads (`output_info` carries the `remit` payload and its
  kind; an unreachable Remit is `unavailable`, never worded as a denial);
- a tool output guardrail: the outcome is reported to Remit (which revokes the grant).

Needs the `openai-agents` extra. The SDK ships type hints (`py.typed`)."""

from __future__ import annotations

import dataclasses
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from agents import FunctionTool, RunContextWrapper
from agents.tool_guardrails import (
    ToolGuardrailFunctionOutput,
    ToolInputGuardrail,
    ToolInputGuardrailData,
    ToolOutputGuardrail,
    ToolOutputGuardrailData,
)

from remit.adapters.base import Governance, Meta
from remit.mcp.mapping import ToolMapping
from remit.toolgate import Admission, Refusal

KEPT = 1024
"""How many calls' final answers `verdict(call_id)` remembers."""


def remit_payload(r: Refusal) -> dict[str, Any]:
    """What a refusal tells the model (`output_info`) and the application."""
    out: dict[str, Any] = {"kind": r.kind, "message": r.message}
    if r.decision is not None:
        out.update(decision_id=r.decision["id"], tier=r.decision["tier"],
                   action=r.decision["action"], reasons=r.decision.get("reasons", []))  # fmt: skip
    if r.link:
        out["approval_link"] = r.link
    return {"remit": out}


def _arguments(raw: str) -> dict[str, Any] | None:
    try:
        parsed = json.loads(raw or "{}")
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


class RemitToolGuard:
    """Asks Remit before each call of the tools it governs.

    `tools`: what each tool means (`{name: {"action": …, "resources": [templates]}}`, a
    `ToolMapping`, or a mapping file); a tool it does not name is refused. `url`,
    `api_key`, `agent` override `REMIT_URL`, `REMIT_API_KEY`, `REMIT_AGENT`.
    `use_interrupt=False` keeps a pending call a rejection instead of an interruption."""

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
        meta: Meta | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.governance = Governance(
            tools,
            framework="openai-agents",
            url=url,
            api_key=api_key,
            agent=agent,
            account=account,
            region=region,
            provenance=provenance,
            hold=hold,
            credentials=False,  # the tool body runs in a task of its own: no session to bind
            meta=meta,
            environ=environ,
        )
        self.use_interrupt = use_interrupt
        self._decided: dict[str, Admission | Refusal] = {}
        """call id → what Remit said at `needs_approval`, for the input guardrail."""
        self._running: dict[str, Admission] = {}
        """call id → the admission of a tool now running, for the output guardrail."""
        self._pending: dict[str, Refusal] = {}
        self._verdicts: OrderedDict[str, Admission | Refusal] = OrderedDict()
        """call id → Remit's final answer, for the most recent `KEPT` calls."""
        self.input_guardrail: ToolInputGuardrail[Any] = ToolInputGuardrail(
            guardrail_function=self._before, name="remit"
        )
        self.output_guardrail: ToolOutputGuardrail[Any] = ToolOutputGuardrail(
            guardrail_function=self._after, name="remit-outcome"
        )

    def govern(self, tool: FunctionTool) -> FunctionTool:
        """A copy of `tool` that asks Remit first (its own guardrails are kept)."""
        return dataclasses.replace(
            tool,
            tool_input_guardrails=[*(tool.tool_input_guardrails or []), self.input_guardrail],
            tool_output_guardrails=[*(tool.tool_output_guardrails or []), self.output_guardrail],
            needs_approval=self._approval_for(tool.name) if self.use_interrupt else False,
        )

    def pending(self, call_id: str) -> Refusal | None:
        """The pending decision that interrupted the run at this call, if any."""
        return self._pending.get(call_id)

    def verdict(self, call_id: str) -> Admission | Refusal | None:
        """Remit's final answer for this call (its input guardrail's), if it got one."""
        return self._verdicts.get(call_id)

    def _keep(self, call_id: str, verdict: Admission | Refusal) -> None:
        self._verdicts[call_id] = verdict
        while len(self._verdicts) > KEPT:
            self._verdicts.popitem(last=False)

    async def _admit(
        self, tool: str, args: dict[str, Any] | None, budget: float | None = None
    ) -> Admission | Refusal:
        if args is None:
            return Refusal("bad-arguments", f"remit: tool {tool!r}: arguments are not a JSON "
                           "object; not run")  # fmt: skip
        meta = self.governance.call_meta(tool, args)
        async with self.governance.async_gate() as gate:
            return await gate.admit(tool, args, meta, budget=budget)

    def _approval_for(
        self, tool: str
    ) -> Callable[[RunContextWrapper[Any], dict[str, Any], str], Awaitable[bool]]:
        """`needs_approval` for `tool`: ask Remit; interrupt only while it is pending."""

        async def needs_approval(
            ctx: RunContextWrapper[Any], params: dict[str, Any], call_id: str
        ) -> bool:
            verdict = await self._admit(tool, dict(params))
            if isinstance(verdict, Refusal) and verdict.kind == "pending":
                self._pending[call_id] = verdict
                return True
            self._decided[call_id] = verdict
            return False

        return needs_approval

    async def _before(self, data: ToolInputGuardrailData) -> ToolGuardrailFunctionOutput:
        ctx = data.context
        verdict = self._decided.pop(ctx.tool_call_id, None)
        if verdict is None:  # not asked at needs_approval, or resumed after an interruption
            held = self._pending.pop(ctx.tool_call_id, None) is not None
            args = _arguments(ctx.tool_arguments)
            verdict = await self._admit(ctx.tool_name, args, budget=0 if held else None)
        self._keep(ctx.tool_call_id, verdict)
        if isinstance(verdict, Refusal):
            return ToolGuardrailFunctionOutput.reject_content(
                verdict.message, output_info=remit_payload(verdict)
            )
        self._running[ctx.tool_call_id] = verdict
        d = verdict.decision
        return ToolGuardrailFunctionOutput.allow(
            output_info={"remit": {"decision_id": d["id"], "tier": d["tier"]}}
        )

    async def _after(self, data: ToolOutputGuardrailData) -> ToolGuardrailFunctionOutput:
        admitted = self._running.pop(data.context.tool_call_id, None)
        if admitted is not None:
            async with self.governance.async_gate() as gate:
                await gate.finish(admitted, True, None, [])
        return ToolGuardrailFunctionOutput.allow()

    def close(self) -> None:
        self.governance.close()
