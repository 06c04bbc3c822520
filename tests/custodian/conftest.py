"""One governed-Custodian world (moto, `remit serve`, keys) per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.custodian.ckit import serve_custodian_world
from tests.mcp.mcpkit import Served


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    yield from serve_custodian_world(tmp_path_factory)
