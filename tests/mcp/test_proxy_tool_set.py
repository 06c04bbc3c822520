"""The proxy measures the upstream's tool set: every decision it asks for carries
`provenance.tools_sha256`, the digest of the upstream's tool list, whatever the call's
`_meta` claims — so a changed tool set opens a new drift window even when nobody
declares it (issue 15, item 1)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import anyio
from tests.mcp.mcpkit import FIND, Served, ledger, mcp_client, meta, toy_params, toy_upstream

from mcp import ClientSession, StdioServerParameters, stdio_client


async def _upstream_tools(log: Path) -> list[dict[str, Any]]:
    cmd = toy_upstream(log)
    params = StdioServerParameters(command=cmd[0], args=cmd[1:])
    async with stdio_client(params) as (r, w), ClientSession(r, w) as s:
        await s.initialize()
        listed = await s.list_tools()
    return [{"name": t.name, "input_schema": t.input_schema} for t in listed.tools]


def test_decisions_carry_the_measured_tool_set_not_the_claimed_one(
    served: Served, tmp_path: Path
) -> None:
    log = tmp_path / "calls.jsonl"
    tools = sorted(anyio.run(_upstream_tools, tmp_path / "probe.jsonl"), key=lambda t: t["name"])
    canonical = json.dumps(tools, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    expected = "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
    claimed = meta({**FIND, "tools_sha256": "sha256:what-the-agent-says"})

    async def run() -> str:
        async with mcp_client(toy_params(served, log)) as s:
            done = await s.call_tool("echo", {"marker": "tool-set"}, meta=claimed)
        assert done.meta is not None
        return str(done.meta["remit/decision_id"])

    did = anyio.run(run)
    (asked,) = [d for d in ledger(served, "decision") if d["decision"]["id"] == did]
    assert asked["request"]["provenance"]["tools_sha256"] == expected
    assert asked["request"]["provenance"]["workflow"] == FIND["workflow"]  # the rest kept
