"""What the assurance pages show, gathered through the same reads the API uses: the
latest reconciliation's findings (`remit.cloudtrail.views.findings_view`, as
`GET /v1/findings`), a review sample with its progress and verdicts (`oversight_reads` and
`review`, as `GET /v1/reviews/samples/{id}`), the findings joined to one decision, and each
agent's drift state and service-account audit (as `/v1/drift`, `/v1/service-accounts`).
No HTML (the templates render), no HTTP (the routers answer), no second way of reading."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from remit.cloudtrail.views import findings_view, service_accounts_view
from remit.domain.clock import parse_ts
from remit.ledger import oversight_reads as oreads
from remit.ledger.kinds import ReviewSampleRecord
from remit.ledger.records import Recorded
from remit.oversight.drift_runs import plan_of
from remit.oversight.review import review
from remit.oversight.review_report import ReviewReport
from remit.server.runtime import Runtime


def findings(
    rt: Runtime,
    cls: str | None = None,
    principal: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    """The latest run's findings matching every filter, with each class's count."""
    return findings_view(rt.store.reads, cls, principal, since, until)


@dataclass(frozen=True)
class DecisionTrail:
    """What reconciliation says of one decision: the latest run (None: no run recorded),
    whether the decision's time lies in its window, and the findings naming it."""

    run: dict[str, Any] | None
    in_window: bool
    findings: list[dict[str, Any]]


def decision_trail(rt: Runtime, decision_id: str, decided_at: str) -> DecisionTrail:
    view = findings(rt)
    if view["run_id"] is None:
        return DecisionTrail(None, False, [])
    at = parse_ts(decided_at)
    since, until = view["since"], view["until"]
    in_window = (since is None or parse_ts(since) <= at) and (until is None or at < parse_ts(until))
    mine = [f for f in view["findings"] if f.get("decision_id") == decision_id]
    header = {k: v for k, v in view.items() if k != "findings"}
    return DecisionTrail(header, in_window, mine)


@dataclass(frozen=True)
class SampleItem:
    """One sampled decision and its verdict so far."""

    decision_id: str
    tier: str
    agent: str
    verdict: str | None
    by: str | None
    index: int | None
    comment: str = ""


@dataclass(frozen=True)
class SamplePage:
    recorded: Recorded[ReviewSampleRecord]
    report: ReviewReport
    items: list[SampleItem]

    @property
    def reviewed(self) -> int:
        return sum(1 for i in self.items if i.verdict is not None)


def sample_page(rt: Runtime, sample_id: str) -> SamplePage | None:
    reads = rt.store.reads
    found = oreads.sample(reads, sample_id)
    if found is None:
        return None
    given = {v.record.decision_id: v for v in oreads.verdicts(reads, sample_id)}
    items = []
    for s in found.record.strata:
        for d in s.decision_ids:
            v = given.get(d)
            items.append(SampleItem(d, s.tier, s.agent, v.record.verdict if v else None,
                                    v.actor if v else None, v.index if v else None,
                                    v.record.comment if v else ""))  # fmt: skip
    return SamplePage(found, review(rt.ledger, sample_id), items)


def samples(rt: Runtime) -> list[SamplePage]:
    """Every recorded sample with its review so far, newest first."""
    pages = (sample_page(rt, sid) for sid in oreads.sample_ids(rt.store.reads))
    return [p for p in pages if p is not None]


def drift_states(rt: Runtime) -> dict[str, dict[str, Any]]:
    """Each agent's drift test as `GET /v1/drift` gives it, by agent."""
    plan = plan_of(rt.envelope_view().loaded.envelope)
    return rt.drift_watch.current(rt.store, plan, rt.drift_hints)


def service_accounts(rt: Runtime) -> dict[str, dict[str, Any]]:
    """Each envelope agent's service-account audit as `GET /v1/service-accounts` gives it."""
    view = rt.envelope_view()
    signed = view.trust.last_review if view.trust.valid else None
    got = service_accounts_view(view.loaded.envelope, rt.store.reads, signed)
    return {a["agent"]: a for a in got["service_accounts"]}
