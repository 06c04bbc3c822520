"""The proxy also serves the 2026-07-28 protocol era (per-request envelopes, `discover`
instead of the handshake): the same decision before the same forward."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
from tests.mcp.mcpkit import FIND, Served, meta, proxy_params, text_of

from mcp import ClientSession, stdio_client


def test_a_modern_client_is_governed_the_same(served: Served) -> None:
    params = proxy_params(served)

    async def run() -> tuple[str | None, Any, Any]:
        with (Path(params.cwd or ".") / "proxy-stderr.log").open("a") as err:
            async with stdio_client(params, errlog=err) as (r, w), ClientSession(r, w) as s:
                await s.discover()
                listed = await s.call_tool("list_roles", {"max_items": 5}, meta=meta(FIND))
                unmapped = await s.call_tool("launch_rockets", {})
                return s.protocol_version, listed, unmapped

    version, listed, unmapped = anyio.run(run)
    assert version == "2026-07-28"
    assert not listed.is_error, text_of(listed)
    assert listed.meta["remit/tier"] == "autonomous"
    assert unmapped.is_error and "launch_rockets" in text_of(unmapped)
