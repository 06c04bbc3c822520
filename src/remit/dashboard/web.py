"""What every dashboard page shares: the template environment (autoescaping on, so text an
agent wrote is shown, never run), the security headers (a strict Content-Security-Policy),
the session and role guard a page or a form passes before it does anything, the CSRF and
same-origin check of every form, and the error pages. No page lives here (the routers
in `remit.dashboard.router` and its siblings answer); no ledger reads either."""

from __future__ import annotations

from collections.abc import Collection
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from remit.dashboard.sessions import SESSION_COOKIE, Session, SessionStore
from remit.errors import RemitError
from remit.identity.model import Role
from remit.report.charts import TIER_COLOURS
from remit.server.runtime import Runtime

PEOPLE = frozenset({Role.APPROVER, Role.AUDITOR, Role.REVIEWER, Role.ADMIN})
"""Roles that may sign in: the dashboard is for people; agent keys are refused."""
RESOLVERS = frozenset({Role.APPROVER, Role.ADMIN})
"""Who approves and rejects (as `POST /v1/approvals/…`)."""
AUDITORS = frozenset({Role.AUDITOR, Role.ADMIN})
"""Who reads reconciliation findings and service-account audits (as `/v1/findings`)."""
OVERSIGHT = frozenset({Role.AUDITOR, Role.REVIEWER, Role.ADMIN})
"""Who reads review samples and drift (as `GET /v1/reviews…`, `/v1/drift`)."""
VERDICT_GIVERS = frozenset({Role.REVIEWER, Role.ADMIN})
"""Who records verdicts (as `POST /v1/reviews/samples/{id}/verdicts`)."""
FORM_MAX_FIELDS = 20

env = Environment(
    loader=PackageLoader("remit.dashboard", "templates"),
    autoescape=select_autoescape(["html"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.globals["TIER_COLOURS"] = TIER_COLOURS
env.globals["urlencode"] = urlencode
env.globals["AUDITORS"] = AUDITORS
env.globals["OVERSIGHT"] = OVERSIGHT

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


def runtime_of(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def sessions_of(request: Request) -> SessionStore:
    store: SessionStore | None = getattr(request.app.state, "ui_sessions", None)
    if store is None:
        store = request.app.state.ui_sessions = SessionStore()
    return store


def current_session(request: Request, touch: bool = True) -> Session | None:
    """The signed-in session, if its key is still valid (revoking a key ends its sessions)."""
    rt = runtime_of(request)
    sid = request.cookies.get(SESSION_COOKIE)
    session = sessions_of(request).get(sid, rt.clock(), touch)
    if session is None:
        return None
    row = rt.keys.table.get(session.identity.key_id)
    if row is None or row.revoked_at is not None:
        sessions_of(request).end(session.id)
        return None
    return session


def render(
    request: Request, template: str, session: Session | None, status: int = 200, **ctx: Any
) -> HTMLResponse:
    role = session.identity.role if session else None
    html = env.get_template(template).render(
        session=session,
        who=session.identity if session else None,
        role=role,
        can_resolve=role in RESOLVERS,
        csrf=session.csrf if session else "",
        path=request.url.path,
        **ctx,
    )
    return HTMLResponse(html, status_code=status, headers=HEADERS)


def problem(
    request: Request, session: Session | None, status: int, title: str, message: str
) -> HTMLResponse:
    return render(request, "error.html", session, status, title=title, message=message)


def to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/ui/login?" + urlencode({"next": target}), status_code=303)


def safe_next(target: str | None) -> str:
    """Only a path inside the dashboard (never another site: no open redirect)."""
    if target and target.startswith("/ui/") and not target.startswith("//"):
        return target
    return "/ui/"


def _refused_role(request: Request, session: Session, what: str) -> HTMLResponse:
    return problem(request, session, 403, "Not allowed",
                   f"A {session.identity.role.value} key may not {what}.")  # fmt: skip


def page_session(
    request: Request, roles: Collection[Role] | None = None, what: str = "see this page"
) -> Session | Response:
    """The session a page is shown to, or the answer instead: the sign-in page when there
    is none, a 403 page when its role is not in `roles` (None: every signed-in person)."""
    session = current_session(request)
    if session is None:
        return to_login(request)
    if roles is not None and session.identity.role not in roles:
        return _refused_role(request, session, what)
    return session


async def read_form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", errors="replace")
    parsed = parse_qs(body, keep_blank_values=True, max_num_fields=FORM_MAX_FIELDS)
    return {k: v[0] for k, v in parsed.items()}


def same_origin(request: Request) -> bool:
    """A cross-site form post is refused even before the token is looked at."""
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    return origin.rstrip("/") == f"{request.url.scheme}://{request.url.netloc}"


def refuse_csrf(request: Request, session: Session | None) -> HTMLResponse:
    return problem(request, session, 403, "Form refused",
                   "This form was refused: it did not carry this session's CSRF token "
                   "(or came from another site). Reload the page and try again.")  # fmt: skip


async def form_session(
    request: Request, roles: Collection[Role] | None = None, what: str = "do this"
) -> tuple[Session, dict[str, str]] | Response:
    """A posted form's session and fields, once the session, its CSRF token and origin,
    and then its role have passed; otherwise the answer (nothing was done)."""
    session = current_session(request)
    if session is None:
        return to_login(request)
    form = await read_form(request)
    if not same_origin(request) or not session.csrf_ok(form.get("csrf")):
        return refuse_csrf(request, session)
    if roles is not None and session.identity.role not in roles:
        return _refused_role(request, session, what)
    return session, form


def error_page(request: Request, session: Session | None, exc: RemitError) -> HTMLResponse:
    from remit.server.app import HTTP_STATUS  # the one mapping of error kinds to statuses

    return problem(request, session, HTTP_STATUS[exc.kind], "Not done", str(exc))
