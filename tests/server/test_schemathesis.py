"""Property-based fuzzing of every operation in /openapi.json with schemathesis: whatever
it sends (fitting the schema or not), the service never answers 5xx.

The schema is loaded from the app in-process (ASGI). Each operation gets its own
Hypothesis run, positive and negative, with an admin key (passes every role check, so
bodies reach validation and the core) and with an agent key. The short run is part of
the default suite; the long one is marked slow:

    .venv/bin/pytest -m slow tests/server/test_schemathesis.py

(schemathesis' own pytest integration, `schema.parametrize()`, does not work with
pytest 9: it reads `request.node._nodeid`, which pytest 9 removed; hence the loop.)
"""

from __future__ import annotations

import os
import traceback
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from tests.server.srvkit import ApiKeys, bearer, example_request, held_request

from remit.server.app import create_app
from remit.server.runtime import Runtime

SHORT_EXAMPLES = int(os.environ.get("REMIT_FUZZ_SHORT_EXAMPLES", "50"))
LONG_EXAMPLES = int(os.environ.get("REMIT_FUZZ_LONG_EXAMPLES", "300"))
ROUTES = {
    ("POST", "/v1/decisions"),
    ("GET", "/v1/decisions/{decision_id}"),
    ("POST", "/v1/decisions/{decision_id}/outcome"),
    ("GET", "/v1/approvals"),
    ("POST", "/v1/approvals/{decision_id}/approve"),
    ("POST", "/v1/approvals/{decision_id}/reject"),
    ("POST", "/v1/events"),
    ("GET", "/v1/envelope/status"),
    ("GET", "/v1/inventory"),
    ("GET", "/v1/ledger/checkpoint"),
    ("GET", "/v1/ledger/proof/{index}"),
    ("GET", "/v1/ledger/consistency"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
}


@pytest.fixture
def api_schema(rt: Runtime, api_keys: ApiKeys) -> Any:
    """The schema of an app over a ledger that holds a decision of each kind."""
    app = create_app(rt)
    c = TestClient(app)
    for body in (example_request(), held_request()):
        assert c.post("/v1/decisions", json=body, headers=bearer(api_keys.agent)).status_code == 200
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def fuzz(schema: Any, key: str, mode: GenerationMode, examples: int) -> list[str]:
    """Run every operation; return a description of each one that got a 5xx."""
    failures: list[str] = []
    operations = [r.ok() for r in schema.get_all_operations()]
    # every route the issue names is in the run (and whatever was added since)
    assert {(op.method.upper(), op.path) for op in operations} >= ROUTES
    for op in operations:

        @given(case=op.as_strategy(generation_mode=mode))
        @settings(
            max_examples=examples,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=bearer(key), checks=[not_a_server_error])

        try:
            run()
        except Unsatisfiable:  # nothing to get wrong (e.g. /healthz has no inputs)
            assert mode is GenerationMode.NEGATIVE, op.label
        except Exception as exc:  # collect every operation's failure
            failures.append(
                f"{op.label} ({mode.value}):\n{''.join(traceback.format_exception(exc))[-3000:]}"
            )
    return failures


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("who", ["admin", "agent"])
def test_no_server_errors(
    api_schema: Any, api_keys: ApiKeys, who: str, mode: GenerationMode
) -> None:
    failures = fuzz(api_schema, getattr(api_keys, who), mode, SHORT_EXAMPLES)
    assert not failures, "\n\n".join(failures)


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("who", ["admin", "agent", "alice"])
def test_no_server_errors_long(
    api_schema: Any, api_keys: ApiKeys, who: str, mode: GenerationMode
) -> None:
    failures = fuzz(api_schema, getattr(api_keys, who), mode, LONG_EXAMPLES)
    assert not failures, "\n\n".join(failures)
