"""What a test does when something it needs from outside the repository is not there:
it skips, with the reason, except under CI (the CI environment variable set), where it
fails, so that a CI run never passes by silently skipping (PostgreSQL, the shared test
data)."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def under_ci() -> bool:
    return bool(os.environ.get("CI"))


def skip_or_fail(message: str) -> NoReturn:
    """Skip the running test with `message`, or, under CI, fail it."""
    if under_ci():
        pytest.fail(message + " (CI is set, so this is a failure, not a skip)")
    pytest.skip(message)
