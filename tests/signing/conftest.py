"""Fixtures for signing tests: the signed-note key vectors in ../shared/testdata.

The vectors are read from the ``shared`` folder beside the repository root and
never copied into the repo; tests that need them skip when it is absent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

TESTDATA = Path(__file__).resolve().parents[2] / "../shared/testdata"
VECTORS_FILE = TESTDATA / "rfc6962_vectors.json"


@pytest.fixture(scope="session")
def note_vectors() -> dict[str, Any]:
    """The ``signed_note_vectors`` section (vector A = C2SP example, B = Go reference)."""
    if not VECTORS_FILE.is_file():
        pytest.skip(
            f"signed-note vectors not found at {VECTORS_FILE} "
            "(expected the shared/testdata folder beside the repository root)"
        )
    data: dict[str, Any] = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
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
