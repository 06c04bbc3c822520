"""The AWS world the grant tests share: one moto server and Runtime per module, with an
injected clock reset around each test (modules that need IAM enforcement build their own)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.grants.gkit import Clock, open_world
from tests.support.aws_world import AwsWorld


@pytest.fixture(scope="module")
def wc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AwsWorld, Clock]]:
    yield from open_world(tmp_path_factory)


@pytest.fixture
def world(wc: tuple[AwsWorld, Clock]) -> Iterator[AwsWorld]:
    world, clock = wc
    clock.reset()
    yield world
    clock.reset()


@pytest.fixture
def clock(wc: tuple[AwsWorld, Clock]) -> Clock:
    return wc[1]
