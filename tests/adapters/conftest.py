"""One world (moto, `remit serve` with `--init`-created keys, the approver) for all the
adapter tests (it takes tens of seconds to build), the same one the MCP proxy's tests use.
Each test names its own roles, so they do not see each other's decisions."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.mcp.mcpkit import Served, serve_world


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from serve_world(tmp_path_factory)
