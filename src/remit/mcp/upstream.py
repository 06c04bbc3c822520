"""The upstream MCP tool server: a child process spoken to over stdio with the `mcp` SDK's
client. It is started once per proxy; with per-call credentials its environment holds no
AWS credentials of its own, only the broker's address (`remit.mcp.credentials`). A call
that outlives `call_timeout`, or an upstream that dies, is an `UpstreamFailed` naming what
happened; this module decides nothing."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, TextIO

import anyio
import mcp_types as types

from mcp import ClientSession, StdioServerParameters, stdio_client
from remit.domain.canonical import canonical_json, sha256_hex

START_TIMEOUT = 60.0
"""How long the upstream may take to start and answer `initialize`."""


class UpstreamFailed(Exception):
    """The upstream crashed, hung, or answered with a protocol error."""


class Upstream:
    """A connected upstream session; use `connect(...)`."""

    def __init__(self, session: ClientSession, command: Sequence[str], call_timeout: float):
        self.session = session
        self.command = list(command)
        self.call_timeout = call_timeout
        self.lock = anyio.Lock()

    async def list_tools(self, cursor: str | None) -> types.ListToolsResult:
        params = types.PaginatedRequestParams(cursor=cursor) if cursor else None
        try:
            return await self.session.list_tools(params=params)
        except Exception as exc:
            raise UpstreamFailed(f"upstream {self.command[0]} failed to list tools: {exc}") from exc

    async def tool_set_digest(self) -> str:
        """SHA-256 of the upstream's whole tool list (every page): each tool's name and
        input schema, canonical JSON, sorted by name. What `provenance.tools_sha256`
        carries, so a changed tool set opens a new drift window undeclared."""
        tools: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = await self.list_tools(cursor)
            tools += [{"name": t.name, "input_schema": t.input_schema} for t in page.tools]
            cursor = page.next_cursor
            if not cursor:
                break
        tools.sort(key=lambda t: str(t["name"]))
        return "sha256:" + sha256_hex(canonical_json(tools))

    async def call_tool(
        self, name: str, arguments: Mapping[str, Any] | None
    ) -> types.CallToolResult:
        """Forward one call (the caller holds `lock` when credentials are per call)."""
        try:
            with anyio.fail_after(self.call_timeout):
                # The result is passed through as the upstream gave it: the client's own SDK
                # checks it against the tool's output schema (checking here too would only
                # add a second schema validation to every call).
                result = await self.session.send_request(
                    types.CallToolRequest(
                        params=types.CallToolRequestParams(
                            name=name, arguments=dict(arguments or {})
                        )
                    ),
                    types.CallToolResult,
                )
        except TimeoutError as exc:
            raise UpstreamFailed(
                f"upstream {self.command[0]} did not answer {name} within {self.call_timeout:g}s"
            ) from exc
        except Exception as exc:
            raise UpstreamFailed(f"upstream {self.command[0]} failed on {name}: {exc}") from exc
        if not isinstance(result, types.CallToolResult):
            raise UpstreamFailed(f"upstream answered {name} with {type(result).__name__}")
        return result


@contextlib.asynccontextmanager
async def connect(
    command: Sequence[str],
    env: Mapping[str, str],
    *,
    call_timeout: float = 60.0,
    start_timeout: float = START_TIMEOUT,
    errlog: TextIO = sys.stderr,
) -> AsyncIterator[Upstream]:
    """Start `command` with exactly `env` (over the SDK's safe defaults) and initialise
    within `start_timeout` (a server's start is not one of its calls: a short
    `call_timeout` must not fail a slow start)."""
    if not command:
        raise UpstreamFailed("no upstream command given (after --)")
    params = StdioServerParameters(command=command[0], args=list(command[1:]), env=dict(env))
    async with (
        stdio_client(params, errlog=errlog) as (read, write),
        ClientSession(read, write) as session,
    ):
        try:
            with anyio.fail_after(start_timeout):
                await session.initialize()
        except TimeoutError as exc:
            raise UpstreamFailed(
                f"upstream {command[0]} did not initialise within {start_timeout:g}s"
            ) from exc
        except Exception as exc:
            raise UpstreamFailed(f"upstream {command[0]} did not initialise: {exc}") from exc
        yield Upstream(session, command, call_timeout)
