"""`/v1/ledger`: the latest signed checkpoint, inclusion proofs and consistency proofs, so
any client can check that its decision is in the log and the log only grows."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Depends, Query

from remit.errors import NotFound, Unprocessable
from remit.identity.model import Identity, Role
from remit.server.deps import require, runtime
from remit.server.routes.decisions import ERRORS
from remit.server.runtime import Runtime
from remit.server.schemas import CheckpointOut, ConsistencyOut, ProofOut
from remit.tlog import merkle

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])
ANYONE = (Role.AGENT, Role.APPROVER, Role.AUDITOR)


@router.get("/checkpoint", response_model=CheckpointOut, responses=ERRORS)
def checkpoint(
    who: Identity = Depends(require(*ANYONE)), rt: Runtime = Depends(runtime)
) -> CheckpointOut:
    """The latest signed checkpoint (a new one is signed first if the tree grew)."""
    cp = rt.ledger.checkpoint(rt.clock()) if rt.ledger.log_key else rt.store.latest_checkpoint()
    if cp is None:
        raise NotFound("no checkpoint yet (the service has no log key)")
    return CheckpointOut(size=cp.size, root_hash=cp.root.hex(), note=cp.note)


@router.get("/proof/{index}", response_model=ProofOut, responses=ERRORS)
def proof(
    index: int,
    size: int | None = Query(None, ge=1, description="Tree size (default: latest checkpoint)."),
    who: Identity = Depends(require(*ANYONE)),
    rt: Runtime = Depends(runtime),
) -> ProofOut:
    """An inclusion proof for entry `index` against a checkpoint."""
    if index < 0:
        raise Unprocessable("index must be >= 0")
    latest = rt.store.latest_checkpoint()
    n = size or (latest.size if latest else rt.store.size())
    if index >= n or n > rt.store.size():
        raise NotFound(f"entry {index} is not in a tree of size {n} (ledger has {rt.store.size()})")
    entry = rt.store.entry(index)
    path = rt.store.inclusion_proof(index, n)
    cps = {c.size: c.note for c in rt.store.checkpoints()}
    return ProofOut(
        index=index,
        tree_size=n,
        leaf_hash=merkle.leaf_hash(entry.body).hex(),
        leaf=base64.b64encode(entry.body).decode(),
        inclusion_proof=[h.hex() for h in path],
        checkpoint=cps.get(n),
    )


@router.get("/consistency", response_model=ConsistencyOut, responses=ERRORS)
def consistency(
    from_: int = Query(..., alias="from", ge=1),
    to: int = Query(..., ge=1),
    who: Identity = Depends(require(*ANYONE)),
    rt: Runtime = Depends(runtime),
) -> ConsistencyOut:
    """A consistency proof from tree size `from` to `to`."""
    size = rt.store.size()
    if not from_ <= to <= size:
        raise Unprocessable(f"need 1 <= from ({from_}) <= to ({to}) <= ledger size ({size})")
    path = rt.store.consistency_proof(from_, to)
    cps = {c.size: c.note for c in rt.store.checkpoints()}
    return ConsistencyOut.model_validate(
        {
            "from": from_,
            "to": to,
            "consistency_proof": [h.hex() for h in path],
            "from_checkpoint": cps.get(from_),
            "to_checkpoint": cps.get(to),
        }
    )
