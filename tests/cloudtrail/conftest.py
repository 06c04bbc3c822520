"""Fixtures of the reconciliation tests: one served world per session (see servedkit)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.cloudtrail.servedkit import build_layered, served_world


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    yield from served_world(tmp_path_factory)


@pytest.fixture(scope="session")
def layered(served: dict[str, Any]) -> dict[str, Any]:
    return build_layered(served)
