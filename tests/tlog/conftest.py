"""Fixtures for transparency-log tests: the RFC 6962 / C2SP vectors in ../shared/testdata.

The vectors are never copied into the repo: they are read from the shared test data
folder (`tests.support.testdata`), and tests that need them skip when it is absent, or
fail under CI.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from tests.support.testdata import missing, testdata_dir

WHAT = "RFC 6962 test vectors"


def vectors_file() -> Path:
    return testdata_dir() / "rfc6962_vectors.json"


# Parametrised fixtures filled from the vectors file: fixture name -> (key, id field).
_PARAMETRISED = {
    "inclusion_vector": ("inclusion_proofs", None),
    "consistency_vector": ("consistency_proofs", None),
    "inclusion_probe": ("probes_inclusion", "file"),
    "consistency_probe": ("probes_consistency", "file"),
}


@cache
def load_vectors() -> dict[str, Any] | None:
    path = vectors_file()
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    data = load_vectors()
    if data is None:
        missing(vectors_file(), WHAT)
    return data


@pytest.fixture(autouse=True)
def _vectors_present(request: pytest.FixtureRequest) -> None:
    """A test parametrised from the vectors cannot run without them: skip, or fail under CI."""
    if load_vectors() is None and any(name in request.fixturenames for name in _PARAMETRISED):
        missing(vectors_file(), WHAT)


def _case_id(case: dict[str, Any], id_field: str | None) -> str:
    if id_field is not None:
        return str(case[id_field]).removeprefix("testdata/")
    if "leaf_index" in case:
        return f"leaf{case['leaf_index']}-size{case['tree_size']}"
    return f"size{case['size1']}-to-{case['size2']}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for fixture_name, (key, id_field) in _PARAMETRISED.items():
        if fixture_name not in metafunc.fixturenames:
            continue
        data = load_vectors()
        if data is None:  # one placeholder case, which `_vectors_present` skips or fails
            metafunc.parametrize(fixture_name, [pytest.param(None, id="no-vectors")])
            continue
        cases = data[key]
        metafunc.parametrize(fixture_name, cases, ids=[_case_id(c, id_field) for c in cases])
