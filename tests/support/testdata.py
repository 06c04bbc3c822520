"""Where the shared test data is, and what a test that needs it does when it is missing.

The data lives in `../shared/testdata`, beside the repository root, and is never copied
into the repository; `REMIT_TESTDATA` points elsewhere (e.g. to prove the CI failure).
Missing data skips a test locally and fails it under CI (`tests.support.ci`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

from tests.support.ci import skip_or_fail

REPO = Path(__file__).resolve().parents[2]
ENV = "REMIT_TESTDATA"


def testdata_dir() -> Path:
    """`$REMIT_TESTDATA` if set, else `../shared/testdata` beside the repository."""
    override = os.environ.get(ENV)
    return Path(override) if override else REPO.parent / "shared" / "testdata"


def missing(path: Path, what: str = "shared test data") -> NoReturn:
    """Skip (or, under CI, fail) the running test: `what` is not at `path`."""
    skip_or_fail(
        f"{what} not found at {path} (expected the shared/testdata folder beside the "
        f"repository root, or set {ENV})"
    )


def shared_testdata(*parts: str, what: str = "shared test data") -> Path:
    """The existing path `parts` under the test data folder; else `missing(...)`."""
    path = testdata_dir().joinpath(*parts)
    if not path.exists():
        missing(path, what)
    return path
