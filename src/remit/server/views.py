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
    return DecisionOut.model_validate(
        {
            **d,
            "batchable": _batchable(d, batch_reads),
            "status": (status := outcome_for(d["tier"], state)),
            "allowed": status == "allowed",
            "approval": approval,
            "recorded": d.get("recorded", True),
        }
    )


def _batchable(d: dict[str, Any], batch_reads: bool) -> bool:
    return batch_reads and d["tier"] == "autonomous" and d.get("rollback") == "not_needed"


_FIELDS = tuple(DecisionOut.model_fields)
_DEFAULTS = {n: f.default for n, f in DecisionOut.model_fields.items() if not f.is_required()}
_UNRESOLVED = {"resolved_by": None, "comment": None, "resolved_at": None}


def present_fresh(
    d: dict[str, Any], approval: dict[str, Any] | None, *, batch_reads: bool
) -> bytes:
    """The JSON of a decision just recorded (`present(...)` as `DecisionOut` JSON, built
    without the model: this is the hot path, and tests hold the two equal). A held
    decision is pending (nobody can have resolved it yet), with the approval record it
    was recorded with."""
    held = d["tier"] == "approve" and approval is not None
    status = outcome_for(d["tier"], ApprovalState.PENDING if held else None)
    out = {**_DEFAULTS, **{k: d[k] for k in _FIELDS if k in d}}
    out["status"] = status
    out["allowed"] = status == "allowed"
    out["batchable"] = (
        batch_reads and d["tier"] == "autonomous" and d.get("rollback") == "not_needed"
    )
    out["recorded"] = d.get("recorded", True)
    out["approval"] = (
        {
            "decision_id": d["id"],
            "state": "pending",
            "requested_by": d["actor"],
            "on_behalf_of": d.get("on_behalf_of"),
            **_UNRESOLVED,
            **approval,
        }
        if held and approval is not None
        else None
    )
    return orjson.dumps(out)


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
