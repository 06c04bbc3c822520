"""A moto server process for the tests in this folder, and one that enforces IAM."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from remit.aws import MotoServer


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="module")
def enforcing() -> Iterator[MotoServer]:
    """A separate server started with INITIAL_NO_AUTH_ACTION_COUNT=0: every AWS request,
    from the first, is authenticated and authorized against IAM."""
    with MotoServer(enforce_iam=True) as server:
        yield server
