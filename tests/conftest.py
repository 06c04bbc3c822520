"""Shared fixtures: the repository's example envelope and request, a gate over them with
a valid sign-off, and the shared test data folder beside the repository
(`tests.support.testdata` says where it is, and skips or fails without it)."""

from __future__ import annotations

import json
from collections.abc import Callable
from copy import deepcopy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.support.testdata import shared_testdata

from remit.decide import Gate, StaticState
from remit.domain import ActionRequest
from remit.domain.trust import EnvelopeTrust
from remit.envelope import LoadedEnvelope, load_envelope

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
SIGNED_AT = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def testdata() -> Path:
    """The shared test data folder (skips, or fails under CI, when it is missing)."""
    return shared_testdata()


@pytest.fixture(scope="session")
def example() -> LoadedEnvelope:
    return load_envelope(EXAMPLES / "envelope.yaml")


@pytest.fixture(scope="session")
def example_request_data() -> dict[str, Any]:
    return json.loads((EXAMPLES / "request.json").read_text())


@pytest.fixture
def make_request(example_request_data: dict[str, Any]) -> Callable[..., ActionRequest]:
    """Build a request from the example, with top-level, reasoning or provenance changes."""

    def make(**changes: Any) -> ActionRequest:
        data = deepcopy(example_request_data)
        for key, value in changes.items():
            if key in ("model", "workflow", "prompt_sha256", "parent_decision"):
                data["provenance"][key] = value
            elif key in ("summary", "signals", "confidence", "alternatives"):
                data["reasoning"][key] = value
            else:
                data[key] = value
        return ActionRequest.model_validate(data)

    return make


@pytest.fixture
def trusted() -> EnvelopeTrust:
    return EnvelopeTrust(True, SIGNED_AT, "signed off by test")


@pytest.fixture
def gate(example: LoadedEnvelope, trusted: EnvelopeTrust) -> Gate:
    return Gate(example.envelope, example.digest, trusted)


@pytest.fixture
def state() -> StaticState:
    return StaticState()


def role(name: str, **tags: str) -> dict[str, Any]:
    return {"arn": f"arn:aws:iam::111122223333:role/{name}", "tags": tags}
