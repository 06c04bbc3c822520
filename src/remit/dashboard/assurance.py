"""`/ui/findings`, `/ui/reviews…` and `/ui/ledger/{index}`: reconciliation findings by
class (auditors and admins, as `GET /v1/findings`), review samples with per-stratum
progress, error rate and bound (auditors, reviewers, admins) and verdict entry for
reviewer keys through a CSRF-protected form with the API's refusals (not sampled, a
second verdict, one's own decision), and one ledger entry with its inclusion proof.
The data comes from `remit.dashboard.assurance_views`; shared plumbing from
`remit.dashboard.web`."""

from __future__ import annotations

import asyncio
from datetime import datetime
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from remit.dashboard import assurance_views as av
from remit.dashboard import views
from remit.dashboard.sessions import Session
from remit.dashboard.views import DecisionLife
from remit.dashboard.web import (
    AUDITORS,
    OVERSIGHT,
    VERDICT_GIVERS,
    error_page,
    form_session,
    page_session,
    problem,
    render,
    runtime_of,
)
from remit.domain.clock import parse_ts
from remit.errors import NotFound, RemitError
from remit.ledger.kinds.cloudtrail import COUNT_NAMES, FINDING_CLASSES
from remit.ledger.kinds.oversight import VERDICTS
from remit.oversight.review import record_verdict
from remit.server.runtime import Runtime

router = APIRouter()
COMMENT_MAX = 10_000


class BadFilter(ValueError):
    """A filter the page cannot use (the message names it)."""


def _when(name: str, text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_ts(text.strip())
    except ValueError as exc:
        raise BadFilter(f"{name}: {exc} (e.g. 2026-11-21T10:00:00Z)") from None


@router.get("/findings")
def findings_page(request: Request) -> Response:
    session = page_session(request, AUDITORS, "read reconciliation findings")
    if isinstance(session, Response):
        return session
    q = {k: v.strip() for k, v in request.query_params.items() if v.strip()}
    cls = q.get("class")
    if cls is not None and cls not in FINDING_CLASSES:
        return problem(request, session, 422, "Bad filter",
                       f"class must be one of {', '.join(FINDING_CLASSES)}")  # fmt: skip
    try:
        since, until = _when("since", q.get("since")), _when("until", q.get("until"))
    except BadFilter as exc:
        return problem(request, session, 422, "Bad filter", str(exc))
    view = av.findings(runtime_of(request), cls, q.get("principal"), since, until)
    by_class: dict[str, list[dict[str, object]]] = {c: [] for c in FINDING_CLASSES}
    for f in view["findings"]:
        by_class[str(f["class"])].append(f)
    return render(request, "findings.html", session, view=view, by_class=by_class, q=q,
                  classes=FINDING_CLASSES, count_names=COUNT_NAMES)  # fmt: skip


def decision_trail(rt: Runtime, session: Session, life: DecisionLife) -> av.DecisionTrail | None:
    """The reconciliation of a decision, for those who may read findings (None otherwise)."""
    if session.identity.role not in AUDITORS:
        return None
    return av.decision_trail(
        rt, life.recorded.record.id, life.decision.get("decided_at") or life.recorded.ts
    )


@router.get("/reviews")
def reviews_page(request: Request) -> Response:
    session = page_session(request, OVERSIGHT, "read review samples")
    if isinstance(session, Response):
        return session
    return render(request, "reviews.html", session, samples=av.samples(runtime_of(request)))


@router.get("/reviews/{sample_id}")
def sample_page(request: Request, sample_id: str, done: str | None = None) -> Response:
    session = page_session(request, OVERSIGHT, "read review samples")
    if isinstance(session, Response):
        return session
    page = av.sample_page(runtime_of(request), sample_id)
    if page is None:
        return error_page(request, session, NotFound(f"no review sample {sample_id!r}"))
    can_judge = session.identity.role in VERDICT_GIVERS
    return render(request, "review.html", session, page=page, verdicts=VERDICTS,
                  can_judge=can_judge, done=done)  # fmt: skip


@router.post("/reviews/{sample_id}/verdicts")
async def give_verdict(request: Request, sample_id: str) -> Response:
    posted = await form_session(request, VERDICT_GIVERS, "give verdicts: that needs a reviewer key")
    if isinstance(posted, Response):
        return posted
    session, form = posted
    verdict = form.get("verdict", "")
    decision_id = form.get("decision_id", "").strip()
    comment = form.get("comment", "")
    if verdict not in VERDICTS:
        return problem(request, session, 422, "Not done",
                       f"verdict must be one of {', '.join(VERDICTS)}")  # fmt: skip
    if not decision_id or len(decision_id) > 200 or len(comment) > COMMENT_MAX:
        return problem(request, session, 422, "Not done",
                       "a verdict names one decision (at most 200 characters) and a comment "
                       f"of at most {COMMENT_MAX} characters")  # fmt: skip
    rt = runtime_of(request)
    try:
        if av.sample_page(rt, sample_id) is None:
            raise NotFound(f"no review sample {sample_id!r}")
        await asyncio.to_thread(record_verdict, rt.ledger, decision_id, verdict, comment,
                                session.identity.label, rt.clock(), sample_id)  # fmt: skip
    except RemitError as exc:
        return error_page(request, session, exc)
    target = f"/ui/reviews/{quote(sample_id, safe='')}?done={quote(decision_id, safe='')}"
    return RedirectResponse(target, status_code=303)


@router.get("/ledger/{index}")
def entry_page(request: Request, index: int) -> Response:
    session = page_session(request, AUDITORS, "read ledger entries")
    if isinstance(session, Response):
        return session
    rt = runtime_of(request)
    entry = rt.store.reads.entry(index) if 0 <= index < rt.store.size() else None
    if entry is None:
        return error_page(request, session, NotFound(f"no ledger entry {index}"))
    got = entry.read()
    return render(request, "entry.html", session, got=got, data=got.record.to_data(),
                  proof=views.prove(rt, index))  # fmt: skip
