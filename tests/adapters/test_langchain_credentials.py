"""Per-call credentials through the LangChain adapter: with `credentials=True` an admitted
tool runs with the decision's grant (`aws_session()`), its AWS request ids go into the
outcome report, and outside a governed call there is no session to take."""

from __future__ import annotations

import json

import pytest
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode
from tests.adapters.drivers import ACCOUNT, TOOLS, ai_call, call_meta
from tests.mcp.mcpkit import PROVENANCE, Approver, Served, ledger

from remit.adapters.base import aws_session
from remit.adapters.langchain import RemitToolGuard

INLINE = {"Version": "2012-10-17",
          "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}  # fmt: skip


@tool
def delete_role_policy(role_name: str, policy_name: str) -> str:
    """Delete an inline policy of a role, with the decision's credentials."""
    aws_session().client("iam").delete_role_policy(RoleName=role_name, PolicyName=policy_name)
    return f"deleted {policy_name} from {role_name}"


def test_an_admitted_tool_acts_with_the_decisions_scoped_credentials(served: Served) -> None:
    role = "prod-scoped"
    served.world.role(role)
    iam = served.world.iam()
    iam.put_role_policy(RoleName=role, PolicyName="s3-all", PolicyDocument=json.dumps(INLINE))
    guard = RemitToolGuard(TOOLS, account=ACCOUNT, url=served.url, api_key=served.keys["bot"],
                           agent="remediator", hold=30, credentials=True, meta=call_meta,
                           provenance={"model": PROVENANCE["model"]})  # fmt: skip
    g = StateGraph(MessagesState)
    g.add_node("tools", ToolNode([delete_role_policy], wrap_tool_call=guard))
    g.add_edge(START, "tools")
    g.add_edge("tools", END)
    approver = Approver(served, f"arn:aws:iam::{ACCOUNT}:role/{role}")
    approver.start()
    try:
        args = {"role_name": role, "policy_name": "s3-all"}
        out = g.compile().invoke({"messages": [ai_call("delete_role_policy", args)]})
    finally:
        guard.close()
    approver.join(5)
    last = out["messages"][-1]
    assert last.status == "success", last.content
    assert iam.list_role_policies(RoleName=role)["PolicyNames"] == []
    did = last.response_metadata["remit/decision_id"]
    outcome = {o["decision_id"]: o for o in ledger(served, "outcome")}[did]
    assert outcome["status"] == "succeeded" and outcome["cloud_request_ids"]
    grants = [g["decision_id"] for g in ledger(served, "grant")]
    assert did in grants
    with pytest.raises(RuntimeError, match="no governed tool"):
        aws_session()
