"""`/ui/envelope` and `/ui/agents`: the envelope in force in plain words (the decision
inventory, what each agent actually decided, sign-off history, review and expiry dates,
pending re-validation, regulation conflicts) with a diff between any two recorded
versions (`remit.envelope.diff`, the same as `remit envelope diff`); and per agent its
activity, tiers over time, drift status (auditors, reviewers, admins, as `/v1/drift`)
and service-account audit (auditors and admins, as `/v1/service-accounts`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from remit.catalog import default_catalog
from remit.dashboard import assurance_views as av
from remit.dashboard import views
from remit.dashboard.queries import day_link, envelope_state, period_of, window_of
from remit.dashboard.web import AUDITORS, OVERSIGHT, page_session, problem, render, runtime_of
from remit.envelope.inventory import build_inventory
from remit.report.aggregate import TIERS
from remit.report.charts import stacked_bars
from remit.report.period import PeriodError, trailing

router = APIRouter()


@router.get("/envelope")
def envelope_page(request: Request) -> Response:
    session = page_session(request)
    if isinstance(session, Response):
        return session
    rt = runtime_of(request)
    view = rt.envelope_view()
    inventory = build_inventory(view.loaded.envelope, default_catalog())
    period = trailing(rt.clock(), 30)
    actual: dict[str, dict[str, dict[str, int]]] = {}
    for agent in view.loaded.envelope.agents:
        counts = rt.store.reads.decision_counts("action", period.since, period.until, agent)
        for action, tier, n in counts:
            actual.setdefault(agent, {}).setdefault(action, {})[tier] = n
    q = dict(request.query_params)
    try:
        diff = views.version_diff(rt, q.get("old"), q.get("new"), default_catalog())
    except views.NoSuchVersion as exc:
        return problem(request, session, 404, "No such version", str(exc))
    return render(request, "envelope.html", session, env=envelope_state(rt), inventory=inventory,
                  actual=actual, period=period, signoffs=views.signoff_history(rt),
                  envelope=view.loaded.envelope, tiers=TIERS, versions=views.versions(rt),
                  diff=diff, q=q)  # fmt: skip


@router.get("/agents")
def agents_page(request: Request) -> Response:
    session = page_session(request)
    if isinstance(session, Response):
        return session
    rt = runtime_of(request)
    try:
        period = period_of(rt, dict(request.query_params))
    except PeriodError as exc:
        return problem(request, session, 422, "Bad period", str(exc))
    envelope = rt.envelope_view().loaded.envelope
    reads = rt.store.reads
    seen = {a for a, _, _ in reads.decision_counts("agent", period.since, period.until)}
    role = session.identity.role
    drift = av.drift_states(rt) if role in OVERSIGHT else None
    accounts = av.service_accounts(rt) if role in AUDITORS else None
    cards = []
    for agent in sorted(set(envelope.agents) | seen):
        by_day: dict[str, dict[str, int]] = {}
        totals = dict.fromkeys(TIERS, 0)
        for day, tier, n in reads.decision_counts("day", period.since, period.until, agent):
            by_day.setdefault(day, {})[tier] = n
            totals[tier] = totals.get(tier, 0) + n

        def drill(day: str, tier: str, agent: str = agent) -> str:
            return day_link(day, tier, agent=agent)

        cards.append({
            "name": agent, "spec": envelope.agents.get(agent), "totals": totals,
            "chart": stacked_bars(period.days(), by_day, drill, height=90),
            "drift": None if drift is None else drift.get(agent),
            "audit": None if accounts is None else accounts.get(agent),
        })  # fmt: skip
    return render(request, "agents.html", session, cards=cards, period=period,
                  window=window_of(period), tiers=TIERS, drift_shown=drift is not None,
                  audit_shown=accounts is not None)  # fmt: skip
