"""Fixtures for transparency-log tests: the RFC 6962 / C2SP vectors in ../shared/testdata.

The vectors are never copied into the repo: they are read from the ``shared``
folder that sits beside the repository root, and tests skip when it is absent.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

TESTDATA = Path(__file__).resolve().parents[2] / "../shared/testdata"
VECTORS_FILE = TESTDATA / "rfc6962_vectors.json"
MISSING_REASON = (
    f"RFC 6962 test vectors not found at {VECTORS_FILE} "
    "(expected the shared/testdata folder beside the repository root)"
)

# Parametrised fixtures filled from the vectors file: fixture name -> (key, id field).
_PARAMETRISED = {
    "inclusion_vector": ("inclusion_proofs", None),
    "consistency_vector": ("consistency_proofs", None),
    "inclusion_probe": ("probes_inclusion", "file"),
    "consistency_probe": ("probes_consistency", "file"),
}


@cache
def load_vectors() -> dict[str, Any] | None:
    if not VECTORS_FILE.is_file():
        return None
    data: dict[str, Any] = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="session")
def vectors() -> dict[str, Any]:
    data = load_vectors()
    if data is None:
        pytest.skip(MISSING_REASON)
    return data


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
        if data is None:
            metafunc.parametrize(
                fixture_name, [pytest.param(None, marks=pytest.mark.skip(reason=MISSING_REASON))]
            )
            continue
        cases = data[key]
        metafunc.parametrize(fixture_name, cases, ids=[_case_id(c, id_field) for c in cases])
