"""The assurance loop over HTTP: `/v1/drift` (each agent's drift test; a human review
of a finding), `/v1/reviews/samples…` (draw a period's sample, record verdicts, the
report) and `/v1/envelope/whatif` (replay a proposed envelope; never writes). For the
auditor, reviewer and admin roles; verdicts and reviews by reviewers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from remit.decide import Gate
from remit.domain.tiers import Tier
from remit.domain.trust import EnvelopeTrust
from remit.envelope.loader import EnvelopeError, load_envelope_text
from remit.errors import NotFound, Unprocessable
from remit.identity.model import Identity, Role
from remit.ledger import oversight_reads as oreads
from remit.ledger.kinds.oversight import VERDICTS
from remit.oversight.drift_runs import plan_of, record_findings, record_review, watch
from remit.oversight.review import draw_sample, record_verdict, review
from remit.oversight.runs import whatif as run_whatif
from remit.oversight.sampling import DEFAULT_TIERS
from remit.oversight.stats import MIN_RATE
from remit.server.deps import require, runtime
from remit.server.routes.decisions import ERRORS
from remit.server.runtime import Runtime
from remit.server.schemas import ZonedTime

router = APIRouter(tags=["oversight"])
READERS = (Role.AUDITOR, Role.REVIEWER)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SampleIn(_In):
    since: ZonedTime
    until: ZonedTime
    confidence: float = Field(0.95, gt=0.0, lt=1.0)
    max_rate: float = Field(0.01, ge=MIN_RATE, lt=1.0)
    size: int | None = Field(None, ge=1, le=100_000)
    tiers: tuple[Tier, ...] = Field(DEFAULT_TIERS, min_length=1)


class VerdictIn(_In):
    decision_id: str = Field(min_length=1, max_length=200)
    verdict: str = Field(description=", ".join(VERDICTS))
    comment: str = Field("", max_length=10_000)


class DriftReviewIn(_In):
    comment: str = Field(min_length=1, max_length=10_000)


class WhatIfIn(_In):
    envelope: str = Field(min_length=1, max_length=1_000_000, description="Proposed YAML.")
    since: ZonedTime | None = None
    until: ZonedTime | None = None
    limit: int = Field(100, ge=0, le=100_000)


@router.get("/v1/drift", responses=ERRORS)
def drift_state(
    agent: str | None = Query(None, max_length=200),
    who: Identity = Depends(require(*READERS)),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Each agent's drift test: `flagged`, its window, the primary (high-risk) test's
    statistic and threshold, the `elevated` signals, and every signal's test in
    `signals`; `alarm` names the signal that fired."""
    plan = plan_of(rt.envelope_view().loaded.envelope)
    current = rt.drift_watch.current(rt.store, plan, rt.drift_hints)
    states = [s for name, s in current.items() if agent in (None, name)]
    if agent is not None and not states:
        raise NotFound(f"no decisions of agent {agent!r} on the ledger")
    return {
        "plan": {"arl0": plan.arl0, "shift": plan.shift, "primary_share": plan.primary_share},
        "agents": states,
    }


@router.post("/v1/drift/findings", responses=ERRORS)
def drift_record(
    who: Identity = Depends(require(Role.REVIEWER)), rt: Runtime = Depends(runtime)
) -> list[dict[str, Any]]:
    """Run the drift test and record each new finding, with the demotion the envelope's
    `drift.demote_to` sets (none recorded twice); every flagged agent's finding, with
    `recorded_now` false for those the standing sweep or anyone recorded before."""
    envelope = rt.envelope_view().loaded.envelope
    monitor = watch(rt.store, plan_of(envelope))
    made = record_findings(rt.ledger, monitor, envelope.drift.demote_to, rt.clock(), who.label)
    return [
        {"finding_id": m.finding_id, "ledger_index": m.finding_index,
         "demotion_index": m.demotion_index, "recorded_now": m.new}
        for m in made
    ]  # fmt: skip


@router.post("/v1/drift/{finding_id}/review", responses=ERRORS)
def drift_review(
    finding_id: str,
    body: DriftReviewIn,
    who: Identity = Depends(require(Role.REVIEWER)),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """A human's review of a drift finding: the demotion it caused ends."""
    got = record_review(rt.ledger, finding_id, who.label, body.comment, rt.clock())
    return {"ledger_index": got.index, "actor": got.actor, **got.record.to_data()}


@router.post("/v1/reviews/samples", responses=ERRORS)
def new_sample(
    body: SampleIn,
    who: Identity = Depends(require(Role.REVIEWER)),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """Draw and record the sample of [since, until) (once the period has closed)."""
    got = draw_sample(
        rt.ledger, body.since, body.until, rt.clock(), who.label, confidence=body.confidence,
        max_rate=body.max_rate, size=body.size, tiers=body.tiers,
    )  # fmt: skip
    return {"ledger_index": got.index, **got.record.to_data()}


@router.get("/v1/reviews/samples", responses=ERRORS)
def list_samples(
    who: Identity = Depends(require(*READERS)), rt: Runtime = Depends(runtime)
) -> list[str]:
    """Every recorded sample, newest first."""
    return oreads.sample_ids(rt.store.reads)


@router.get("/v1/reviews/samples/{sample_id}", responses=ERRORS)
def get_sample(
    sample_id: str, who: Identity = Depends(require(*READERS)), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """The sample as recorded and its review so far (error rates, bounds, suggestions)."""
    found = oreads.sample(rt.store.reads, sample_id)
    if found is None:
        raise NotFound(f"no review sample {sample_id!r}")
    return {
        "ledger_index": found.index,
        "sample": found.record.to_data(),
        "report": review(rt.ledger, sample_id).to_dict(),
    }


@router.post("/v1/reviews/samples/{sample_id}/verdicts", responses=ERRORS)
def add_verdict(
    sample_id: str,
    body: VerdictIn,
    who: Identity = Depends(require(Role.REVIEWER)),
    rt: Runtime = Depends(runtime),
) -> dict[str, Any]:
    """A verdict on one sampled decision, once; never on one's own approval or request."""
    if body.verdict not in VERDICTS:
        raise Unprocessable(f"verdict must be one of {', '.join(VERDICTS)}")
    if oreads.sample(rt.store.reads, sample_id) is None:
        raise NotFound(f"no review sample {sample_id!r}")
    got = record_verdict(
        rt.ledger, body.decision_id, body.verdict, body.comment, who.label, rt.clock(), sample_id
    )
    return {"ledger_index": got.index, "actor": got.actor, **got.record.to_data()}


@router.post("/v1/envelope/whatif", responses=ERRORS)
def whatif(
    body: WhatIfIn, who: Identity = Depends(require(*READERS)), rt: Runtime = Depends(runtime)
) -> dict[str, Any]:
    """Replay the recorded decisions of [since, until) under the proposed envelope (its
    YAML text) and report the flips. Never writes."""
    try:
        loaded = load_envelope_text(body.envelope, "proposed envelope")
    except EnvelopeError as exc:
        raise Unprocessable(f"proposed envelope is not valid: {exc}") from None
    gate = Gate(loaded.envelope, loaded.digest, EnvelopeTrust(False, None, "proposed"))
    since, until = body.since, body.until
    if since is not None and until is not None and until <= since:
        raise Unprocessable("until must be after since")
    report = run_whatif(rt.store, gate, since, until)
    return report.to_dict(body.limit or None)
