"""LangGraph's own human-in-the-loop: a call Remit holds past the budget, inside a graph
with a checkpointer, becomes LangGraph's `interrupt` carrying the decision and where to
approve it. Resuming the graph approves nothing: Remit is asked again, and the tool runs
only once Remit has the approval (for exactly those arguments)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from tests.adapters.drivers import Ran, ai_call, lc_guard, tool_graph
from tests.mcp.mcpkit import Served


def _approve(served: Served, decision_id: str) -> None:
    headers = {"Authorization": f"Bearer {served.keys['alice']}"}
    r = httpx.post(f"{served.url}/v1/approvals/{decision_id}/approve",
                   json={"comment": "approved while the graph was interrupted"},
                   headers=headers, timeout=10)  # fmt: skip
    assert r.status_code == 200, r.text


def test_a_held_call_interrupts_the_graph_and_resumes_only_when_remit_approved(
    served: Served,
) -> None:
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import Command

    served.world.role("prod-interrupted")
    ran = Ran()
    guard = lc_guard({"url": served.url, "api_key": served.keys["bot"],
                      "agent": "remediator", "hold": 1})  # fmt: skip
    graph = tool_graph(ran, guard, checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": str(uuid.uuid4())}}
    args = {"role_name": "prod-interrupted", "policy_name": "s3-all"}
    try:
        first = graph.invoke({"messages": [ai_call("delete_role_policy", args)]}, config)
        (paused,) = first["__interrupt__"]
        remit = paused.value["remit"]
        assert remit["kind"] == "pending" and remit["action"] == "iam:DeleteRolePolicy"
        assert remit["approval_link"].endswith(remit["decision_id"])
        assert ran.calls == []

        # resuming without Remit's approval runs nothing: the model reads "pending"
        resumed = graph.invoke(Command(resume="the human says go"), config)
        last = resumed["messages"][-1]
        assert last.status == "error" and last.artifact["remit"]["kind"] == "pending"
        assert last.artifact["remit"]["decision_id"] == remit["decision_id"]
        assert ran.calls == []

        # approved in Remit: the same call (same arguments) runs, under that decision
        _approve(served, remit["decision_id"])
        config2: Any = {"configurable": {"thread_id": str(uuid.uuid4())}}
        done = graph.invoke({"messages": [ai_call("delete_role_policy", args)]}, config2)
        last = done["messages"][-1]
        assert last.status == "success", last
        assert last.response_metadata["remit/decision_id"] == remit["decision_id"]
        assert ran.calls == [("delete_role_policy", args)]
    finally:
        guard.close()
