"""Trust creep (PRODUCT.md T5), reported beside a reconciliation: what is new in the
window against the one before it (services and actions first seen per AI agent), calls
outside the step the envelope declares for the joined decision's workflow, and decisions
that pass a parent decision's output to a service their workflow does not declare.

Pure: works on the AI calls `reconcile.classify` found (`Seen`) and the ledger's
decisions; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from remit.domain.clock import ts_text
from remit.domain.envelope import Envelope
from remit.domain.patterns import compile_glob
from remit.ledger.kinds import DecisionRecord

USED = frozenset({"explained", "out_of_scope", "after_revocation", "unexplained",
                  "unauthorized_escalation", "governance_tampering"})  # fmt: skip
"""Classes of an AI principal's call that ran (not denied, not another principal's)."""


@dataclass(frozen=True, slots=True)
class Seen:
    """One AI call as the reconciliation classified it."""

    agent: str
    action: str
    cls: str
    event_id: str | None
    event_time: datetime
    decision_id: str | None


def _service(action: str) -> str:
    return action.split(":", 1)[0].lower()


def first_seen(window: Sequence[Seen], before: Sequence[Seen]) -> dict[str, dict[str, list[str]]]:
    """Per agent: services and actions used in the window and not in the one before."""
    old: dict[str, set[str]] = {}
    for s in before:
        old.setdefault(s.agent, set()).add(s.action.lower())
    out: dict[str, dict[str, list[str]]] = {}
    for agent in sorted({s.agent for s in window}):
        prior = old.get(agent, set())
        prior_services = {_service(a) for a in prior}
        actions = sorted({s.action for s in window if s.agent == agent}, key=str.lower)
        new_actions = [a for a in actions if a.lower() not in prior]
        new_services = sorted({_service(a) for a in actions} - prior_services)
        if new_actions or new_services:
            out[agent] = {"services": new_services, "actions": new_actions}
    return out


def _step_actions(envelope: Envelope, workflow: str, step: str | None) -> list[str] | None:
    wf = envelope.workflows.get(workflow)
    if wf is None:
        return None
    if step is None:
        return [a for st in wf.steps.values() for a in st.actions]
    st = wf.steps.get(step)
    return list(st.actions) if st is not None else None


def _covered(action: str, patterns: Sequence[str]) -> bool:
    return any(compile_glob(p, ignore_case=True)(action) for p in patterns)


def outside_steps(
    window: Sequence[Seen], decisions: Mapping[str, DecisionRecord], envelope: Envelope
) -> list[dict[str, Any]]:
    """Calls joined to a decision whose workflow step does not declare the action."""
    out = []
    for s in window:
        d = decisions.get(s.decision_id or "")
        if d is None:
            continue
        wf = d.workflow
        name, step = wf.get("name"), wf.get("step")
        declared = _step_actions(envelope, str(name), step) if name else None
        if declared is not None and _covered(s.action, declared):
            continue
        out.append({
            "event_id": s.event_id, "event_time": ts_text(s.event_time),
            "decision_id": s.decision_id, "workflow": name, "step": step, "action": s.action,
            "why": f"{s.action} is not among the actions the envelope declares for "
                   + (f"step {step} of workflow {name}" if name else "any workflow (none given)")
                   + ".",
        })  # fmt: skip
    return out


def undeclared_flows(
    decisions: Mapping[str, DecisionRecord],
    envelope: Envelope,
    since: datetime | None,
    until: datetime | None,
) -> list[dict[str, Any]]:
    """Decisions in the window made on a parent decision's output, for a service their
    workflow declares in none of its steps."""
    out = []
    for d in decisions.values():
        parent = (d.request.get("provenance") or {}).get("parent_decision")
        at = d.decided_at
        if not parent or (since and at < since) or (until and at >= until):
            continue
        name = d.workflow.get("name")
        declared = _step_actions(envelope, str(name), None) if name else None
        services = {_service(a) for a in declared or ()}
        if declared is not None and _service(d.action) in services:
            continue
        out.append({
            "decision_id": d.id, "parent_decision": parent, "workflow": name,
            "service": _service(d.action), "action": d.action, "tier": d.tier.value,
            "why": f"data from decision {parent} goes to {_service(d.action)}, a service "
                   + (f"workflow {name} does not declare." if name else "no workflow declares."),
        })  # fmt: skip
    return out
