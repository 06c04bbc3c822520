"""A moto server process for the rollback tests; its state is reset before each test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from remit.aws import MotoServer


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    with MotoServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _clean(moto: MotoServer) -> None:
    moto.reset()


@pytest.fixture
def session(moto: MotoServer) -> Any:
    return moto.session()


@pytest.fixture
def iam(moto: MotoServer) -> Any:
    return moto.client("iam")


@pytest.fixture
def ec2(moto: MotoServer) -> Any:
    return moto.client("ec2")
