"""One world (moto, `remit serve` with `--init`-created keys, the approver) per test module,
the same one the MCP proxy's tests use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.mcp.mcpkit import Served, serve_world


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from serve_world(tmp_path_factory)
