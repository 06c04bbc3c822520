"""Liveness and readiness: ready only when the store and the envelope are usable."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from remit.server.deps import runtime
from remit.server.runtime import Runtime

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, bool]:
    """The process is up."""
    return {"ok": True}


@router.get("/readyz", responses={503: {"description": "store or envelope not usable"}})
def readyz(rt: Runtime = Depends(runtime)) -> Any:
    """Ready when the ledger answers, the envelope loads and is authority, and the decision
    writer runs."""
    problems = []
    try:
        rt.store.size()
    except Exception as exc:
        problems.append(f"store: {exc}")
    try:
        view = rt.envelope_view(force=True)
        if not (view.trust.valid or view.trust.insecure):
            problems.append(f"envelope: {view.trust.detail}")
    except Exception as exc:
        problems.append(f"envelope: {exc}")
    if rt.writer.pid is None:
        problems.append("decision writer: not running (decisions are denied until it is back)")
    if problems:
        return JSONResponse({"ready": False, "problems": problems}, status_code=503)
    return {"ready": True}
