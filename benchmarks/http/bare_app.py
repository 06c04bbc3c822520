"""The peer of the HTTP benchmark: a FastAPI endpoint on the same server settings that
reads the same JSON body and returns a fixed JSON body — the framework's own ceiling."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request

app = FastAPI()
FIXED = {"id": "dec_0", "tier": "notify", "status": "allowed", "reasons": [], "rules": []}


@app.post("/v1/decisions")
async def decide(request: Request) -> dict[str, Any]:
    await request.body()
    return FIXED
