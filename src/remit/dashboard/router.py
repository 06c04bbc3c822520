"""`/ui`: the dashboard's pages and forms. Sign-in with an API key starts a session (cookie
HttpOnly, SameSite=Strict, Secure over HTTPS); every form carries the session's CSRF
token and is refused without it; roles are the API's (agent keys cannot sign in, only
approver and admin keys approve, with the API's separation of duties). Every sign-in and
sign-out is a ledger entry. Pages are rendered by Jinja2 with autoescaping on, so text an
agent wrote is shown, never run; a strict Content-Security-Policy backs that up."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from remit.approvals.rules import ApprovalState
from remit.dashboard import views
from remit.dashboard.sessions import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_LIFETIME,
    Session,
    SessionStore,
)
from remit.domain.clock import ts_text
from remit.envelope.status import envelope_status
from remit.errors import RemitError
from remit.identity.model import Identity, Role
from remit.ledger.kinds import AccessRecord
from remit.ledger.records import make_entry
from remit.report.aggregate import TIERS, aggregates
from remit.report.charts import TIER_COLOURS, stacked_bars
from remit.report.counts import DecisionCounts
from remit.report.period import Period, PeriodError, between, parse_period, trailing
from remit.server.runtime import Runtime

router = APIRouter(prefix="/ui", include_in_schema=False)

PEOPLE = frozenset({Role.APPROVER, Role.AUDITOR, Role.ADMIN})
"""Roles that may sign in: the dashboard is for people; agent keys are refused."""
RESOLVERS = frozenset({Role.APPROVER, Role.ADMIN})
PAGE = 50
FORM_MAX_FIELDS = 20

_env = Environment(
    loader=PackageLoader("remit.dashboard", "templates"),
    autoescape=select_autoescape(["html"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals["TIER_COLOURS"] = TIER_COLOURS

STATIC: dict[str, tuple[bytes, str]] = {
    name: ((resources.files("remit.dashboard") / "static" / name).read_bytes(), kind)
    for name, kind in (("style.css", "text/css"), ("live.js", "text/javascript"))
}

CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # "no-referrer" makes Chromium send Origin: null
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


# -- plumbing ---------------------------------------------------------------------------


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _sessions(request: Request) -> SessionStore:
    store: SessionStore | None = getattr(request.app.state, "ui_sessions", None)
    if store is None:
        store = request.app.state.ui_sessions = SessionStore()
    return store


def _counts(request: Request) -> DecisionCounts:
    counts: DecisionCounts | None = getattr(request.app.state, "ui_counts", None)
    if counts is None:
        counts = request.app.state.ui_counts = DecisionCounts()
    return counts


def _session(request: Request, touch: bool = True) -> Session | None:
    """The signed-in session, if its key is still valid (revoking a key ends its sessions)."""
    rt = _rt(request)
    sid = request.cookies.get(SESSION_COOKIE)
    session = _sessions(request).get(sid, rt.clock(), touch)
    if session is None:
        return None
    row = rt.keys.table.get(session.identity.key_id)
    if row is None or row.revoked_at is not None:
        _sessions(request).end(session.id)
        return None
    return session


def _render(
    request: Request, template: str, session: Session | None, status: int = 200, **ctx: Any
) -> HTMLResponse:
    html = _env.get_template(template).render(
        session=session,
        who=session.identity if session else None,
        can_resolve=session is not None and session.identity.role in RESOLVERS,
        csrf=session.csrf if session else "",
        path=request.url.path,
        **ctx,
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/ui/login?" + urlencode({"next": target}), status_code=303)


def _safe_next(target: str | None) -> str:
    """Only a path inside the dashboard (never another site: no open redirect)."""
    if target and target.startswith("/ui/") and not target.startswith("//"):
        return target
    return "/ui/"


async def _form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", errors="replace")
    parsed = parse_qs(body, keep_blank_values=True, max_num_fields=FORM_MAX_FIELDS)
    return {k: v[0] for k, v in parsed.items()}


def _same_origin(request: Request) -> bool:
    """A cross-site form post is refused even before the token is looked at."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return origin.rstrip("/") == f"{request.url.scheme}://{request.url.netloc}"


def _refuse_csrf(request: Request, session: Session | None) -> HTMLResponse:
    return _render(
        request,
        "error.html",
        session,
        403,
        title="Form refused",
        message="This form was refused: it did not carry this session's CSRF token "
        "(or came from another site). Reload the page and try again.",
    )


def _error(request: Request, session: Session | None, exc: RemitError) -> HTMLResponse:
    from remit.server.app import HTTP_STATUS  # the one mapping of error kinds to statuses

    return _render(
        request, "error.html", session, HTTP_STATUS[exc.kind], title="Not done", message=str(exc)
    )


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
    import secrets

    token = secrets.token_urlsafe(32)
    page = _render(request, "login.html", None, login_csrf=token, next=_safe_next(next))
    page.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/ui/login",
        secure=request.url.scheme == "https", max_age=3600,
    )  # fmt: skip
    return page


@router.post("/login")
async def login(request: Request) -> Response:
    form = await _form(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    presented = form.get("csrf", "")
    import hmac

    if not _same_origin(request) or not cookie or not hmac.compare_digest(cookie, presented):
        return _refuse_csrf(request, None)
    rt = _rt(request)
    key = form.get("api_key", "").strip()
    who: Identity | None = await asyncio.to_thread(rt.keys.authenticate, key) if key else None
    nxt = _safe_next(form.get("next"))
    if who is None:
        return _render(request, "login.html", None, 401, login_csrf=cookie, next=nxt,
                       problem="That is not a valid, unrevoked API key.")  # fmt: skip
    if who.role not in PEOPLE:
        refused = AccessRecord(
            "sign_in_refused", who.label, "dashboard", {"role": who.role.value},
            "agent keys cannot sign in: the dashboard is for people",
        )  # fmt: skip
        await asyncio.to_thread(_record_access, rt, refused, who.label)
        return _render(request, "login.html", None, 403, login_csrf=cookie, next=nxt,
                       problem=f"A {who.role.value} key cannot sign in to the dashboard: it is "
                       "for approvers, auditors and administrators.")  # fmt: skip
    record = AccessRecord("sign_in", who.label, "dashboard", {"role": who.role.value})
    # fail closed: a sign-in that cannot be recorded starts no session
    await asyncio.to_thread(_record_access, rt, record, who.label)
    session = _sessions(request).start(who, rt.clock())
    done = RedirectResponse(nxt, status_code=303)
    done.set_cookie(
        SESSION_COOKIE, session.id, httponly=True, samesite="strict", path="/ui",
        secure=request.url.scheme == "https", max_age=int(SESSION_LIFETIME.total_seconds()),
    )  # fmt: skip
    done.delete_cookie(LOGIN_CSRF_COOKIE, path="/ui/login")
    return done


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    form = await _form(request)
    if not _same_origin(request) or not session.csrf_ok(form.get("csrf")):
        return _refuse_csrf(request, session)
    _sessions(request).end(session.id)
    record = AccessRecord("sign_out", session.identity.label, "dashboard")
    await asyncio.to_thread(_record_access, _rt(request), record, session.identity.label)
    done = RedirectResponse("/ui/login", status_code=303)
    done.delete_cookie(SESSION_COOKIE, path="/ui")
    return done


# -- overview -----------------------------------------------------------------------------


def _period(rt: Runtime, params: dict[str, str]) -> Period:
    if params.get("period"):
        return parse_period(params["period"])
    if params.get("since") and params.get("until"):
        return between(params["since"], params["until"])
    return trailing(rt.clock(), 30)


@router.get("")
def root() -> RedirectResponse:
    return RedirectResponse("/ui/", status_code=307)


@router.get("/")
def overview(request: Request) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    rt = _rt(request)
    params = dict(request.query_params)
    try:
        period = _period(rt, params)
    except PeriodError as exc:
        return _render(request, "error.html", session, 422, title="Bad period", message=str(exc))
    now = rt.clock()
    cp = rt.store.latest_checkpoint()
    checkpoint = (cp.size, cp.ts) if cp else None
    agg = aggregates(rt.store.reads, period, now, rt.store.size(), checkpoint, _counts(request))
    view = rt.envelope_view()
    env = envelope_status(
        view.loaded, view.trust, view.checks,
        rt.store.reads.events_after(None, frozenset(view.loaded.envelope.metadata.revalidate_on)),
        now,
    )  # fmt: skip
    window = {"since": ts_text(period.since), "until": ts_text(period.until)}

    def drill(day: str, tier: str) -> str:
        start = f"{day}T00:00:00.000000Z"
        end = ts_text(views_day_end(day))
        return "/ui/decisions?" + urlencode({"tier": tier, "since": start, "until": end})

    chart = stacked_bars(period.days(), agg.by_day, drill)
    return _render(request, "overview.html", session, agg=agg, period=period, env=env,
                   chart=chart, window=window, tiers=TIERS, urlencode=urlencode)  # fmt: skip


def views_day_end(day: str) -> Any:
    from remit.domain.clock import parse_ts

    return parse_ts(f"{day}T00:00:00Z") + timedelta(days=1)


# -- approvals ----------------------------------------------------------------------------


@router.get("/approvals")
def approvals(request: Request) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    rt = _rt(request)
    cards = views.pending_cards(rt, PAGE)
    total = rt.store.reads.pending_count(rt.clock())
    return _render(request, "approvals.html", session, cards=cards, total=total)


@router.get("/live")
def live(request: Request) -> Response:
    """The pending queue's size and newest id, for the page's "new approvals" notice (a
    poll: it does not count as the person being active)."""
    session = _session(request, touch=False)
    if session is None:
        return JSONResponse({"detail": "signed out"}, status_code=401)
    rt = _rt(request)
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
    session = _session(request)
    if session is None:
        return _to_login(request)
    rt = _rt(request)
    rec = rt.approvals.get(decision_id)
    if rec is None:
        return _render(request, "error.html", session, 404, title="No such approval",
                       message=f"No decision {decision_id} was held for approval.")  # fmt: skip
    card = views.approval_card(rt, rec)
    return _render(request, "approval.html", session, card=card, done=done)


@router.post("/approvals/{decision_id}/{verb}")
async def resolve(request: Request, decision_id: str, verb: str) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    form = await _form(request)
    if not _same_origin(request) or not session.csrf_ok(form.get("csrf")):
        return _refuse_csrf(request, session)
    states = {"approve": ApprovalState.APPROVED, "reject": ApprovalState.REJECTED}
    if verb not in states:
        return _render(request, "error.html", session, 404, title="Not found",
                       message="Approvals are approved or rejected.")  # fmt: skip
    who = session.identity
    if who.role not in RESOLVERS:
        return _render(request, "error.html", session, 403, title="Not allowed",
                       message=f"A {who.role.value} key may not {verb}: approving needs an "
                       "approver key.")  # fmt: skip
    rt = _rt(request)
    comment = form.get("comment", "")[:4000]
    digest = form.get("request_digest") or None
    try:
        await asyncio.to_thread(
            rt.approvals.resolve, decision_id, who, states[verb], comment, rt.clock(), digest
        )
    except RemitError as exc:
        return _error(request, session, exc)
    return RedirectResponse(
        f"/ui/approvals/{decision_id}?done={states[verb].value}", status_code=303
    )


# -- decisions ----------------------------------------------------------------------------


@router.get("/decisions")
def decisions(request: Request) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    rt = _rt(request)
    q = dict(request.query_params)
    wanted = (q.get("id") or "").strip()
    if wanted:  # a decision id (from a ticket, a log, CloudTrail's sourceIdentity): open it
        return RedirectResponse("/ui/decisions/" + quote(wanted, safe=""), status_code=303)
    filters = {k: q.get(k) or None for k in ("agent", "tier", "action")}
    if filters["tier"] not in (None, *TIERS):
        return _render(request, "error.html", session, 422, title="Bad filter",
                       message=f"tier must be one of {', '.join(TIERS)}")  # fmt: skip
    try:
        since = between(q["since"], q["until"]) if q.get("since") and q.get("until") else None
        before = int(q["before"]) if q.get("before") else None
    except (PeriodError, ValueError) as exc:
        return _render(request, "error.html", session, 422, title="Bad filter", message=str(exc))
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
    return _render(request, "decisions.html", session, lines=lines, q=q, tiers=TIERS,
                   next_query=next_query)  # fmt: skip


@router.get("/decisions/{decision_id}")
def decision_page(request: Request, decision_id: str) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    try:
        life = views.decision_life(_rt(request), decision_id)
    except RemitError as exc:
        return _error(request, session, exc)
    return _render(request, "decision.html", session, life=life)


# -- envelope and agents ------------------------------------------------------------------


def _status(rt: Runtime) -> Any:
    view = rt.envelope_view()
    kinds = frozenset(view.loaded.envelope.metadata.revalidate_on)
    return envelope_status(view.loaded, view.trust, view.checks,
                           rt.store.reads.events_after(None, kinds), rt.clock())  # fmt: skip


@router.get("/envelope")
def envelope_page(request: Request) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    from remit.catalog import default_catalog
    from remit.envelope.inventory import build_inventory

    rt = _rt(request)
    view = rt.envelope_view()
    env = _status(rt)
    inventory = build_inventory(view.loaded.envelope, default_catalog())
    period = trailing(rt.clock(), 30)
    actual: dict[str, dict[str, dict[str, int]]] = {}
    for agent in view.loaded.envelope.agents:
        counts = rt.store.reads.decision_counts("action", period.since, period.until, agent)
        for action, tier, n in counts:
            actual.setdefault(agent, {}).setdefault(action, {})[tier] = n
    return _render(request, "envelope.html", session, env=env, inventory=inventory,
                   actual=actual, period=period, signoffs=views.signoff_history(rt),
                   envelope=view.loaded.envelope, tiers=TIERS)  # fmt: skip


@router.get("/agents")
def agents_page(request: Request) -> Response:
    session = _session(request)
    if session is None:
        return _to_login(request)
    rt = _rt(request)
    try:
        period = _period(rt, dict(request.query_params))
    except PeriodError as exc:
        return _render(request, "error.html", session, 422, title="Bad period", message=str(exc))
    envelope = rt.envelope_view().loaded.envelope
    reads = rt.store.reads
    seen = {a for a, _, _ in reads.decision_counts("agent", period.since, period.until)}
    window = {"since": ts_text(period.since), "until": ts_text(period.until)}
    cards = []
    for agent in sorted(set(envelope.agents) | seen):
        by_day: dict[str, dict[str, int]] = {}
        totals = dict.fromkeys(TIERS, 0)
        for day, tier, n in reads.decision_counts("day", period.since, period.until, agent):
            by_day.setdefault(day, {})[tier] = n
            totals[tier] = totals.get(tier, 0) + n

        def drill(day: str, tier: str, agent: str = agent) -> str:
            start = f"{day}T00:00:00.000000Z"
            end = ts_text(views_day_end(day))
            query = {"agent": agent, "tier": tier, "since": start, "until": end}
            return "/ui/decisions?" + urlencode(query)

        cards.append({
            "name": agent, "spec": envelope.agents.get(agent), "totals": totals,
            "chart": stacked_bars(period.days(), by_day, drill, height=90),
        })  # fmt: skip
    return _render(request, "agents.html", session, cards=cards, period=period,
                   window=window, tiers=TIERS, urlencode=urlencode)  # fmt: skip
