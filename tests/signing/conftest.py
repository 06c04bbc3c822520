"""Fixtures for signing tests: the signed-note key vectors in ../shared/testdata.

The vectors are read from the shared test data folder (`tests.support.testdata`) and
never copied into the repo; tests that need them skip when it is absent, or fail under CI.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.support.testdata import shared_testdata


@pytest.fixture(scope="session")
def note_vectors() -> dict[str, Any]:
    """The ``signed_note_vectors`` section (vector A = C2SP example, B = Go reference)."""
    path = shared_testdata("rfc6962_vectors.json", what="signed-note vectors")
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    section: dict[str, Any] = data["signed_note_vectors"]
    return section


@pytest.fixture(scope="session")
def go_vector(note_vectors: dict[str, Any]) -> dict[str, Any]:
    """Vector B: golang.org/x/mod/sumdb/note's PeterNeumann key, text and signature."""
    for vector in note_vectors["vectors"]:
        if "skey" in vector:
            found: dict[str, Any] = vector
            return found
    pytest.fail("no vector with an skey (Go reference vector B) in signed_note_vectors")
