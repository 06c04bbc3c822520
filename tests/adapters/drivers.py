"""The frameworks' own tool-calling paths, driven without an LLM: a fake model message
asking for a tool call goes through each adapter the way the framework would run it.
Every driver answers the same `Outcome`, so one conformance suite runs against all.

- `langgraph-sync`: a LangGraph `ToolNode` with `wrap_tool_call=RemitToolGuard`, invoked
  with an `AIMessage` carrying the tool call;
- `langgraph-async`: the same node through `ainvoke` (`awrap_tool_call`);
- `openai-agents`: (when the extra is installed) the Agents SDK's function-tool invocation
  path with the adapter's tool guardrail.

The tools are test fixtures: they record that they ran and touch nothing else."""

from __future__ import annotations

import asyncio
import importlib.util
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.mcp.mcpkit import FIND, PROVENANCE, REASONING, REVOKE

from remit.toolgate import Refusal

ACCOUNT = "123456789012"
TOOLS: dict[str, Any] = {
    "list_roles": {"action": "iam:ListRoles", "resources": ["*"]},
    "delete_role_policy": {
        "action": "iam:DeleteRolePolicy",
        "resources": ["arn:aws:iam::{account}:role/{role_name}"],
        "parameters": {"RoleName": "{role_name}", "PolicyName": "{policy_name}"},
    },
}


def call_meta(tool: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Reasoning and the workflow step, as an agent would send with each call."""
    step = FIND if tool == "list_roles" else REVOKE
    return {"remit/reasoning": REASONING, "remit/provenance": step}


@dataclass
class Outcome:
    """What the framework handed back: did the tool run, the refusal kind if not, the
    text the model reads, and the decision."""

    ran: bool
    kind: str | None
    message: str
    decision_id: str | None
    link: str | None = None
    interrupted: bool = False
    """The framework's own interrupt stopped the run (the call is held)."""


@dataclass
class Ran:
    """The calls the fixture tools received."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def count(self, tool: str, **args: Any) -> int:
        return sum(
            1 for t, a in self.calls if t == tool and all(a[k] == v for k, v in args.items())
        )


Settings = dict[str, Any]
"""Adapter keyword arguments: url, api_key, agent, hold, environ…"""


class Adapter:
    """One adapter instance (its held decisions live as long as it does)."""

    def call(self, tool: str, args: dict[str, Any]) -> Outcome:
        raise NotImplementedError

    def close(self) -> None:
        return None


class Driver:
    name = ""

    def __init__(self) -> None:
        self.ran = Ran()

    def adapter(self, settings: Settings) -> Adapter:
        raise NotImplementedError


def _lc_tools(ran: Ran) -> list[Any]:
    from langchain_core.tools import tool

    @tool
    def list_roles() -> str:
        """List the account's IAM roles."""
        ran.calls.append(("list_roles", {}))
        return "prod-batch, stale-ci-role"

    @tool
    def delete_role_policy(role_name: str, policy_name: str) -> str:
        """Delete an inline policy of a role."""
        ran.calls.append(("delete_role_policy", {"role_name": role_name,
                                                 "policy_name": policy_name}))  # fmt: skip
        return f"deleted {policy_name} from {role_name}"

    @tool
    def tag_role(role_name: str, tag: str) -> str:
        """Tag a role (declared to no one: Remit must refuse it)."""
        ran.calls.append(("tag_role", {"role_name": role_name, "tag": tag}))
        return "tagged"

    return [list_roles, delete_role_policy, tag_role]


def lc_outcome(message: Any) -> Outcome:
    if message.status == "error":
        remit = (message.artifact or {}).get("remit", {})
        return Outcome(False, remit.get("kind", "tool-error"), str(message.content),
                       remit.get("decision_id"), remit.get("approval_link"))  # fmt: skip
    return Outcome(True, None, str(message.content),
                   message.response_metadata.get("remit/decision_id"))  # fmt: skip


def ai_call(tool: str, args: dict[str, Any]) -> Any:
    from langchain_core.messages import AIMessage

    return AIMessage(content="", tool_calls=[{"name": tool, "args": args, "id": "call-1",
                                              "type": "tool_call"}])  # fmt: skip


def tool_graph(ran: Ran, guard: Any, checkpointer: Any = None) -> Any:
    """A LangGraph graph whose one node is a `ToolNode` wrapped by `guard`."""
    from langgraph.graph import END, START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode

    node = ToolNode(_lc_tools(ran), wrap_tool_call=guard, awrap_tool_call=guard.awrap)
    g = StateGraph(MessagesState)
    g.add_node("tools", node)
    g.add_edge(START, "tools")
    g.add_edge("tools", END)
    return g.compile(checkpointer=checkpointer)


def lc_guard(settings: Settings) -> Any:
    from remit.adapters.langchain import RemitToolGuard

    kw = {"provenance": {"model": PROVENANCE["model"]}, "meta": call_meta, **settings}
    return RemitToolGuard(TOOLS, account=ACCOUNT, **kw)


class LangGraphNode(Adapter):
    def __init__(self, ran: Ran, settings: Settings, use_async: bool) -> None:
        self.guard = lc_guard(settings)
        self.graph = tool_graph(ran, self.guard)
        self.use_async = use_async

    def call(self, tool: str, args: dict[str, Any]) -> Outcome:
        state = {"messages": [ai_call(tool, args)]}
        run = (lambda: asyncio.run(self.graph.ainvoke(state))) if self.use_async else None
        out = run() if run is not None else self.graph.invoke(state)
        message = out["messages"][-1]
        return lc_outcome(message)

    def close(self) -> None:
        self.guard.close()


class LangGraphSync(Driver):
    name = "langgraph-sync"

    def adapter(self, settings: Settings) -> Adapter:
        return LangGraphNode(self.ran, settings, use_async=False)


class LangGraphAsync(Driver):
    name = "langgraph-async"

    def adapter(self, settings: Settings) -> Adapter:
        return LangGraphNode(self.ran, settings, use_async=True)


class AgentsRun(Adapter):
    """An Agents SDK `Runner.run` whose model is the SDK's own `ScriptedModel`: it asks for
    one function-tool call, then says "done"."""

    def __init__(self, ran: Ran, settings: Settings) -> None:
        from agents import function_tool, set_tracing_disabled

        from remit.adapters.openai_agents import RemitToolGuard

        set_tracing_disabled(True)  # nothing is exported anywhere
        kw = {"provenance": {"model": PROVENANCE["model"]}, "meta": call_meta, **settings}
        self.guard = RemitToolGuard(TOOLS, account=ACCOUNT, **kw)

        @function_tool
        def list_roles() -> str:
            """List the account's IAM roles."""
            ran.calls.append(("list_roles", {}))
            return "prod-batch, stale-ci-role"

        @function_tool
        def delete_role_policy(role_name: str, policy_name: str) -> str:
            """Delete an inline policy of a role."""
            ran.calls.append(("delete_role_policy", {"role_name": role_name,
                                                     "policy_name": policy_name}))  # fmt: skip
            return f"deleted {policy_name} from {role_name}"

        @function_tool
        def tag_role(role_name: str, tag: str) -> str:
            """Tag a role (declared to no one: Remit must refuse it)."""
            ran.calls.append(("tag_role", {"role_name": role_name, "tag": tag}))
            return "tagged"

        self.tools = [self.guard.govern(t) for t in (list_roles, delete_role_policy, tag_role)]

    def call(self, tool: str, args: dict[str, Any]) -> Outcome:
        from agents import Agent, Runner
        from agents.testing import ModelStep, ScriptedModel, assistant_message, function_call

        call_id = f"call-{uuid.uuid4().hex[:8]}"
        model = ScriptedModel([ModelStep(output=[function_call(tool, args, call_id=call_id)]),
                               ModelStep(output=[assistant_message("done")])])  # fmt: skip
        agent = Agent(name="remediator", model=model, tools=self.tools)
        result = asyncio.run(Runner.run(agent, "tidy up IAM"))
        interrupted = bool(result.interruptions)
        if interrupted:  # the SDK's own approval stop: an application that approves it all
            state = result.to_state()
            for item in result.interruptions:
                state.approve(item)
            result = asyncio.run(Runner.run(agent, state))  # …still gets Remit's answer
        (item,) = [i for i in result.new_items if i.type == "tool_call_output_item"]
        verdict = self.guard.verdict(call_id)
        if verdict is None:  # the SDK refused the call itself (e.g. its schema validation)
            return Outcome(False, "framework", str(item.output), None, None, interrupted)
        if isinstance(verdict, Refusal):
            did = verdict.decision["id"] if verdict.decision else None
            return Outcome(False, verdict.kind, str(item.output), did, verdict.link, interrupted)
        return Outcome(True, None, str(item.output), verdict.decision["id"],
                       interrupted=interrupted)  # fmt: skip

    def close(self) -> None:
        self.guard.close()


class OpenAIAgents(Driver):
    name = "openai-agents"

    def adapter(self, settings: Settings) -> Adapter:
        return AgentsRun(self.ran, settings)


def available(name: str) -> str | None:
    """Why the driver `name` cannot run here (its framework is not installed), or None."""
    module = {"openai-agents": "agents"}.get(name, "langgraph")
    if importlib.util.find_spec(module) is None:
        return (f"{module} is not installed: the {name} extra cannot share this environment "
                "(docs/adapters.md says why)")  # fmt: skip
    return None


DRIVERS: dict[str, Callable[[], Driver]] = {
    d.name: d for d in (LangGraphSync, LangGraphAsync, OpenAIAgents)
}
