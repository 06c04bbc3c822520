"""`/ui`: sign-in and sign-out, the overview, the approvals queue and its forms, and the
decisions list and page. Sign-in with an API key starts a session (cookie HttpOnly,
SameSite=Strict, Secure over HTTPS); every form carries the session's CSRF token and is
refused without it; roles are the API's (agent keys cannot sign in, only approver and
admin keys approve, with the API's separation of duties). Every sign-in and sign-out is a
ledger entry. The envelope and agents pages are `remit.dashboard.governance`; findings,
reviews and ledger entries `remit.dashboard.assurance`; shared plumbing
`remit.dashboard.web`."""

from __future__ import annotations

import asyncio
import hmac
import secrets
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from remit.approvals.rules import ApprovalState
from remit.dashboard import assurance, governance, views
from remit.dashboard.queries import day_link, envelope_state, period_of, window_of
from remit.dashboard.sessions import LOGIN_CSRF_COOKIE, SESSION_COOKIE, SESSION_LIFETIME
from remit.dashboard.web import (
    PEOPLE,
    RESOLVERS,
    STATIC,
    current_session,
    error_page,
    form_session,
    page_session,
    problem,
    read_form,
    refuse_csrf,
    render,
    runtime_of,
    safe_next,
    same_origin,
    sessions_of,
    to_login,
)
from remit.errors import RemitError
from remit.identity.model import Identity
from remit.ledger.kinds import AccessRecord
from remit.ledger.records import make_entry
from remit.report.aggregate import TIERS, aggregates
from remit.report.charts import stacked_bars
from remit.report.counts import DecisionCounts
from remit.report.period import PeriodError, between
from remit.server.runtime import Runtime

router = APIRouter(prefix="/ui", include_in_schema=False)
router.include_router(governance.router)
router.include_router(assurance.router)
PAGE = 50


def _counts(request: Request) -> DecisionCounts:
    counts: DecisionCounts | None = getattr(request.app.state, "ui_counts", None)
    if counts is None:
        counts = request.app.state.ui_counts = DecisionCounts()
    return counts


def _record_access(rt: Runtime, record: AccessRecord, actor: str) -> int:
    return rt.store.append([make_entry(record, rt.clock(), actor)])[0]


# -- sign-in ------------------------------------------------------------------------------


@router.get("/static/{name}")
def static(name: str) -> Response:
    found = STATIC.get(name)
    if found is None:
        return Response("not found", status_code=404, media_type="text/plain")
    body, kind = found
    headers = {"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"}
    return Response(body, media_type=kind, headers=headers)


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    page = render(request, "login.html", None, login_csrf=token, next=safe_next(next))
    page.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/ui/login",
        secure=request.url.scheme == "https", max_age=3600,
    )  # fmt: skip
    return page


@router.post("/login")
async def login(request: Request) -> Response:
    form = await read_form(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    presented = form.get("csrf", "")
    if not same_origin(request) or not cookie or not hmac.compare_digest(cookie, presented):
        return refuse_csrf(request, None)
    rt = runtime_of(request)
    key = form.get("api_key", "").strip()
    who: Identity | None = await asyncio.to_thread(rt.keys.authenticate, key) if key else None
    nxt = safe_next(form.get("next"))
    if who is None:
        return render(request, "login.html", None, 401, login_csrf=cookie, next=nxt,
                       problem="That is not a valid, unrevoked API key.")  # fmt: skip
    if who.role not in PEOPLE:
        refused = AccessRecord(
            "sign_in_refused", who.label, "dashboard", {"role": who.role.value},
            "agent keys cannot sign in: the dashboard is for people",
        )  # fmt: skip
        await asyncio.to_thread(_record_access, rt, refused, who.label)
        return render(request, "login.html", None, 403, login_csrf=cookie, next=nxt,
                       problem=f"A {who.role.value} key cannot sign in to the dashboard: it is "
                       "for approvers, auditors and administrators.")  # fmt: skip
    record = AccessRecord("sign_in", who.label, "dashboard", {"role": who.role.value})
    # fail closed: a sign-in that cannot be recorded starts no session
    await asyncio.to_thread(_record_access, rt, record, who.label)
    session = sessions_of(request).start(who, rt.clock())
    done = RedirectResponse(nxt, status_code=303)
    done.set_cookie(
        SESSION_COOKIE, session.id, httponly=True, samesite="strict", path="/ui",
        secure=request.url.scheme == "https", max_age=int(SESSION_LIFETIME.total_seconds()),
    )  # fmt: skip
    done.delete_cookie(LOGIN_CSRF_COOKIE, path="/ui/login")
    return done


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = current_session(request)
    if session is None:
        return to_login(request)
    form = await read_form(request)
    if not same_origin(request) or not session.csrf_ok(form.get("csrf")):
        return refuse_csrf(request, session)
    sessions_of(request).end(session.id)
    record = AccessRecord("sign_out", session.identity.label, "dashboard")
    await asyncio.to_thread(_record_access, runtime_of(request), record, session.identity.label)
    done = RedirectResponse("/ui/login", status_code=303)
    done.delete_cookie(SESSION_COOKIE, path="/ui")
    return done


# -- overview -----------------------------------------------------------------------------


@router.get("")
def root() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=307)


@router.get("/")
def overview(request: Request) -> Response:
    session = page_session(request)
    if isinstance(session, Response):
        return session
    rt = runtime_of(request)
    try:
        period = period_of(rt, dict(request.query_params))
    except PeriodError as exc:
        return problem(request, session, 422, "Bad period", str(exc))
    cp = rt.store.latest_checkpoint()
    checkpoint = (cp.size, cp.ts) if cp else None
    agg = aggregates(rt.store.reads, period, rt.clock(), rt.store.size(), checkpoint,
                     _counts(request))  # fmt: skip
    chart = stacked_bars(period.days(), agg.by_day, day_link)
    return render(request, "overview.html", session, agg=agg, period=period,
                  env=envelope_state(rt), chart=chart, window=window_of(period),
                  tiers=TIERS)  # fmt: skip


# -- approvals ----------------------------------------------------------------------------


@router.get("/approvals")
def approvals(request: Request) -> Response:
    session = page_session(request)
    if isinstance(session, Response):
        return session
    rt = runtime_of(request)
    cards = views.pending_cards(rt, PAGE)
    total = rt.store.reads.pending_count(rt.clock())
    return render(request, "approvals.html", session, cards=cards, total=total)


@router.get("/live")
def live(request: Request) -> Response:
    """The pending queue's size and newest id, for the page's "new approvals" notice (a
    poll: it does not count as the person being active)."""
    session = current_session(request, touch=False)
    if session is None:
        return JSONResponse({"detail": "signed out"}, status_code=401)
    rt = runtime_of(request)
    records, _ = rt.approvals.list(ApprovalState.PENDING, rt.clock(), 1)
    return JSONResponse(
        {
            "pending": rt.store.reads.pending_count(rt.clock()),
            "newest": records[0].pending.decision_id if records else None,
        },
        headers={"Cache-Control": "no-store"},
    )


@router.get("/approvals/{decision_id}")
def approval_page(request: Request, decision_id: str, done: str | None = None) -> Response:
    session = page_session(request)
    if isinstance(session, Response):
        return session
    rt = runtime_of(request)
    rec = rt.approvals.get(decision_id)
    if rec is None:
        return problem(request, session, 404, "No such approval",
                       f"No decision {decision_id} was held for approval.")  # fmt: skip
    card = views.approval_card(rt, rec)
    return render(request, "approval.html", session, card=card, done=done)


@router.post("/approvals/{decision_id}/{verb}")
async def resolve(request: Request, decision_id: str, verb: str) -> Response:
    posted = await form_session(request)
    if isinstance(posted, Response):
        return posted
    session, form = posted
    states = {"approve": ApprovalState.APPROVED, "reject": ApprovalState.REJECTED}
    if verb not in states:
        return problem(request, session, 404, "Not found", "Approvals are approved or rejected.")
    who = session.identity
    if who.role not in RESOLVERS:
        return problem(request, session, 403, "Not allowed",
                       f"A {who.role.value} key may not {verb}: approving needs an "
                       "approver key.")  # fmt: skip
    rt = runtime_of(request)
    comment = form.get("comment", "")[:4000]
    digest = form.get("request_digest") or None
    try:
        await asyncio.to_thread(
            rt.approvals.resolve, decision_id, who, states[verb], comment, rt.clock(), digest
        )
    except RemitError as exc:
        return error_page(request, session, exc)
    return RedirectResponse(
        f"/ui/approvals/{decision_id}?done={states[verb].value}", status_code=303
    )


# -- decisions ----------------------------------------------------------------------------


@router.get("/decisions")
def decisions(request: Request) -> Response:
    session = page_session(request)
    if isinstance(session, Response):
        return session
    rt = runtime_of(request)
    q = dict(request.query_params)
    wanted = (q.get("id") or "").strip()
    if wanted:  # a decision id (from a ticket, a log, CloudTrail's sourceIdentity): open it
        return RedirectResponse("/ui/decisions/" + quote(wanted, safe=""), status_code=303)
    filters = {k: q.get(k) or None for k in ("agent", "tier", "action")}
    if filters["tier"] not in (None, *TIERS):
        return problem(
            request, session, 422, "Bad filter", f"tier must be one of {', '.join(TIERS)}"
        )
    try:
        since = between(q["since"], q["until"]) if q.get("since") and q.get("until") else None
        before = int(q["before"]) if q.get("before") else None
    except (PeriodError, ValueError) as exc:
        return problem(request, session, 422, "Bad filter", str(exc))
    rows = rt.store.reads.decisions_page(
        limit=PAGE + 1,
        before=before,
        since=since.since if since else None,
        until=since.until if since else None,
        **filters,
    )
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    next_query = None
    if more:
        keep = {k: v for k, v in q.items() if k != "before" and v}
        next_query = urlencode({**keep, "before": rows[-1].index})
    lines = views.decision_lines(rt, rows)
    return render(request, "decisions.html", session, lines=lines, q=q, tiers=TIERS,
                   next_query=next_query)  # fmt: skip


@router.get("/decisions/{decision_id}")
def decision_page(request: Request, decision_id: str) -> Response:
    session = page_session(request)
    if isinstance(session, Response):
        return session
    rt = runtime_of(request)
    try:
        life = views.decision_life(rt, decision_id)
    except RemitError as exc:
        return error_page(request, session, exc)
    trail = assurance.decision_trail(rt, session, life)
    return render(request, "decision.html", session, life=life, trail=trail)
