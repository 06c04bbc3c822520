"""What the API shows of a decision (`DecisionOut`): the decision as recorded, what the
agent may do now, and its approval. Pure and free of FastAPI, so the decision writer
process answers with exactly what the routes answer."""

from __future__ import annotations

from typing import Any

import orjson

from remit.approvals.rules import ApprovalState, outcome_for
from remit.server.schemas import DecisionOut


def present(
    d: dict[str, Any],
    *,
    batch_reads: bool,
    approval: dict[str, Any] | None = None,
    state: ApprovalState | None = None,
) -> DecisionOut:
    """The view of decision `d` (its recorded JSON) given its approval and `state`."""
    return DecisionOut.model_validate({**d, **_now(d, batch_reads, approval, state)})


def present_fresh(
    d: dict[str, Any], approval: dict[str, Any] | None, *, batch_reads: bool
) -> bytes:
    """The JSON of a decision just recorded: `fresh_view` serialised."""
    return orjson.dumps(fresh_view(d, approval, batch_reads=batch_reads))


def fresh_view(
    d: dict[str, Any], approval: dict[str, Any] | None, *, batch_reads: bool
) -> dict[str, Any]:
    """The view of a decision just recorded (`present(...)` as `DecisionOut` JSON's
    content, built without the model: this is the hot path, and tests hold the two
    equal). A held decision is pending (nobody can have resolved it yet), with the
    approval record it was recorded with."""
    pending = None
    if d["tier"] == "approve" and approval is not None:
        pending = {
            "decision_id": d["id"],
            "state": "pending",
            "requested_by": d["actor"],
            "on_behalf_of": d.get("on_behalf_of"),
            **_UNRESOLVED,
            **approval,
        }
    state = ApprovalState.PENDING if pending is not None else None
    fields = {k: d[k] for k in _FIELDS if k in d}
    return {**_DEFAULTS, **fields, **_now(d, batch_reads, pending, state)}


def _now(
    d: dict[str, Any],
    batch_reads: bool,
    approval: dict[str, Any] | None,
    state: ApprovalState | None,
) -> dict[str, Any]:
    """What the view adds to the recorded decision: what the agent may do now."""
    status = outcome_for(d["tier"], state)
    return {
        "batchable": batch_reads
        and d["tier"] == "autonomous"
        and d.get("rollback") == "not_needed",
        "status": status,
        "allowed": status == "allowed",
        "approval": approval,
        "recorded": d.get("recorded", True),
    }


_FIELDS = tuple(DecisionOut.model_fields)
_DEFAULTS = {n: f.default for n, f in DecisionOut.model_fields.items() if not f.is_required()}
_UNRESOLVED = {"resolved_by": None, "comment": None, "resolved_at": None}


def readable_errors(errors: list[Any]) -> list[dict[str, Any]]:
    """Pydantic validation errors as the API shows them: the field (dotted path, without
    FastAPI's leading "body"), a message, and the error type."""
    out = []
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        out.append({"field": loc or "(body)", "message": msg, "type": err.get("type")})
    return out


def not_your_agent(bound: str | None, agent: str) -> str:
    """Why a key bound to agent `bound` may not act for `agent` (the 403 message)."""
    return f"this key is bound to agent {bound!r}, not {agent!r}"
