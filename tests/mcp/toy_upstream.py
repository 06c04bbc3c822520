"""A small, fast, real MCP tool server (the `mcp` SDK's low-level Server over stdio) for the
proxy's bad-input tests and its overhead benchmark: it answers at once, so moto's variance
does not hide what the proxy adds, and it misbehaves on demand.

Tools: `echo` (returns its arguments), `crash` (the process exits at once), `hang` (never
answers), `delete_role_policy` (records and says done; the mapping holds prod-* roles for a
human). Every call it receives is appended as one JSON line to `--log FILE` before it acts,
so a test can prove which calls reached the upstream and which never did.

Run: `python tests/mcp/toy_upstream.py --log calls.jsonl`. `TOY_MAPPING` is its mapping
for `remit mcp proxy --mapping`."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

TOY_MAPPING = Path(__file__).with_name("toy-mapping.yaml")
TOY = Path(__file__)

_OBJECT = {"type": "object", "additionalProperties": True}
_ROLE = {
    "type": "object",
    "properties": {"role_name": {"type": "string"}, "policy_name": {"type": "string"}},
}
TOOLS = [
    types.Tool(name="echo", description="Answer with the arguments.", input_schema=_OBJECT),
    types.Tool(name="crash", description="Exit the process at once.", input_schema=_ROLE),
    types.Tool(name="hang", description="Never answer.", input_schema=_ROLE),
    types.Tool(name="delete_role_policy", description="Pretend to delete.", input_schema=_ROLE),
]


def make_server(log: Path | None) -> Server[Any]:
    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=TOOLS)

    async def call_tool(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        args = dict(params.arguments or {})
        if log is not None:
            with log.open("a") as f:
                f.write(json.dumps({"tool": params.name, "arguments": args}) + "\n")
        if params.name == "crash":
            os._exit(17)
        if params.name == "hang":
            await anyio.sleep_forever()
        text = json.dumps({"tool": params.name, "arguments": args, "done": True})
        return types.CallToolResult(content=[types.TextContent(text=text)])

    return Server("toy-upstream", version="0.0.1", on_list_tools=list_tools,
                  on_call_tool=call_tool)  # fmt: skip


async def _main(log: Path | None) -> None:
    server = make_server(log)
    async with stdio_server() as (r, w):
        await server.run(r, w, server.create_initialization_options())


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", type=Path, default=None)
    anyio.run(_main, ap.parse_args().log)
