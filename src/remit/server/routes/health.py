"""Liveness and readiness: ready only when a decision could be recorded now (the store
can be written, the decision writer answers a probe in time), the envelope is authority,
and, with the sts backend, a grant could be issued (the broker can assume each agent's
execution role; the check `remit doctor` runs, remembered for up to 30 s)."""

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


@router.get(
    "/readyz",
    responses={503: {"description": "store, envelope, writer or AWS broker not usable"}},
)
def readyz(rt: Runtime = Depends(runtime)) -> Any:
    """Ready when a decision could be recorded now: the ledger can be written (checked
    here, and by the decision writer answering a probe within its deadline; nothing is
    recorded), the envelope loads and is authority, and with the sts backend the broker
    has credentials and can assume each agent's execution role (`aws` lists each check)."""
    problems = []
    extra: dict[str, Any] = {}
    try:
        rt.store.probe()
    except Exception as exc:
        problems.append(f"store: {exc}")
    agents: dict[str, Any] | None = None
    try:
        view = rt.envelope_view(force=True)
        agents = dict(view.loaded.envelope.agents)
        if not (view.trust.valid or view.trust.insecure):
            problems.append(f"envelope: {view.trust.detail}")
    except Exception as exc:
        problems.append(f"envelope: {exc}")
    if rt.broker_check is not None and agents is not None:
        checks = rt.broker_check.current(agents)
        extra["aws"] = [c.to_dict() for c in checks]
        problems += [f"aws {c.name}: {c.detail} (to fix: {c.fix})" for c in checks if not c.ok]
    if rt.writer.pid is None:
        problems.append("decision writer: not running (decisions are denied until it is back)")
    else:
        why = rt.writer.probe()
        if why is not None:
            problems.append(f"decision writer: {why} (decisions are denied until it is back)")
    window = _uncovered_window(rt)
    if problems:
        return JSONResponse(
            {"ready": False, "problems": problems, **extra, **window}, status_code=503
        )
    return {"ready": True, **extra, **window}


def _uncovered_window(rt: Runtime) -> dict[str, Any]:
    """The entries no signed checkpoint covers yet, and the bound the service keeps on them
    (docs/ledger.md, "The uncheckpointed window"). Empty when the store cannot be read."""
    try:
        size = rt.store.size()
        latest = rt.store.latest_checkpoint()
    except Exception:
        return {}
    return {
        "uncovered_entries": size - (latest.size if latest is not None else 0),
        "last_checkpoint_at": latest.ts if latest is not None else None,
        "checkpoint_every_seconds": rt.config.checkpoint_every
        if rt.ledger.log_key is not None
        else None,
        "checkpoint_after_commit": rt.config.checkpoint_after_commit,
    }
