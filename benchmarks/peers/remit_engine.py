"""The Remit engine of the gate benchmark: `Gate.decide` behind `allowed(query)`.

`RemitEngine(envelope)` validates the benchmark's envelope document into Remit's model,
computes its canonical digest and compiles the gate once (the rule index). Each
`allowed(query)` makes exactly one `Gate.decide` call and returns True for autonomous or
notify. The request object is built per call with `model_construct` (no validation): in
the service, validation happens once at the HTTP edge, and the gate is what is measured.
`RemitValidatedEngine` builds it with full pydantic validation instead, so the cost of
parsing a request is visible too.

The envelope is treated as signed off a day before the benchmark's fixed clock (the
signature check happens at load, not per decision).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from benchmarks.rulesets import Query
from remit.decide import Gate, StaticState
from remit.domain.canonical import canonical_json, sha256_hex
from remit.domain.envelope import Envelope
from remit.domain.requests import ActionRequest, ModelRef, Provenance, Reasoning, Resource
from remit.domain.trust import EnvelopeTrust

NOW = datetime(2029, 6, 1, tzinfo=UTC)
MODEL = ModelRef.model_construct(name="bench-model", version="1")
PROVENANCE = Provenance.model_construct(
    model=MODEL, prompt_sha256=None, workflow=None, parent_decision=None
)
REASONING = Reasoning()


class RemitEngine:
    """Remit's gate, compiled once."""

    name = "remit"

    def __init__(self, envelope: dict[str, Any]) -> None:
        model = Envelope.model_validate(envelope)
        digest = "sha256:" + sha256_hex(canonical_json(envelope))
        trust = EnvelopeTrust(True, NOW - timedelta(days=1), "bench")
        self._gate = Gate(model, digest, trust)
        self._state = StaticState()

    def _request(self, q: Query) -> ActionRequest:
        return ActionRequest.model_construct(
            agent=q.agent, origin="ai", on_behalf_of=None, action=q.action,
            resources=(Resource.model_construct(arn=q.resource_arn, tags={}),),
            environment=None, reasoning=REASONING, provenance=PROVENANCE, fallback=None,
            parameters={},
        )  # fmt: skip

    def allowed(self, query: Query) -> bool:
        d = self._gate.decide(self._request(query), NOW, self._state, decision_id="dec_bench")
        return d.tier.allows_execution


class RemitValidatedEngine(RemitEngine):
    """The same, with the request fully validated on every call."""

    name = "remit-validated"

    def _request(self, q: Query) -> ActionRequest:
        return ActionRequest.model_validate(
            {"agent": q.agent, "action": q.action, "resources": [{"arn": q.resource_arn}],
             "provenance": {"model": {"name": "bench-model", "version": "1"}}}
        )  # fmt: skip
