"""How a held call tells the user where to approve: URL elicitation when the client
declares `elicitation.url`, a progress notification otherwise; either way the call waits
and is forwarded once an approver approves it through the API (and a call without
`remit/…` reasoning in `_meta` is decided as such)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from mcp.client.session import ClientRequestContext
from tests.mcp.mcpkit import FIND, Served, ledger, meta, received, toy_params

from mcp import ClientSession, stdio_client

ROLE = "arn:aws:iam::123456789012:role/"


def _approve_when_pending(served: Served, arn: str, timeout: float = 30) -> str:
    headers = {"Authorization": f"Bearer {served.keys['alice']}"}
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=served.url, headers=headers, timeout=10) as http:
        while time.monotonic() < deadline:
            for item in http.get("/v1/approvals").json():
                if any(x["arn"] == arn for x in item["request"]["resources"]):
                    did = str(item["decision"]["id"])
                    http.post(f"/v1/approvals/{did}/approve",
                              json={"comment": "ok"}).raise_for_status()  # fmt: skip
                    return did
            time.sleep(0.1)
    pytest.fail(f"no approval appeared for {arn}")


def test_url_elicitation_names_the_link_and_the_call_runs_once_approved(
    served: Served, tmp_path: Path
) -> None:
    log = tmp_path / "calls.jsonl"
    params = toy_params(served, log, "--hold", "60")
    elicited: list[types.ElicitRequestURLParams] = []

    async def on_elicit(
        ctx: ClientRequestContext, p: types.ElicitRequestParams
    ) -> types.ElicitResult | types.ErrorData:
        assert isinstance(p, types.ElicitRequestURLParams)
        elicited.append(p)
        await anyio.to_thread.run_sync(_approve_when_pending, served, ROLE + "prod-elicit")
        return types.ElicitResult(action="accept")

    async def run() -> Any:
        with (tmp_path / "err.log").open("a") as err:
            async with (
                stdio_client(params, errlog=err) as (r, w),
                ClientSession(r, w, elicitation_callback=on_elicit) as s,
            ):
                await s.initialize()
                return await s.call_tool(
                    "delete_role_policy",
                    {"role_name": "prod-elicit", "policy_name": "p"},
                    meta=meta(FIND),
                )

    result = anyio.run(run)
    assert not result.is_error, result.content
    did = result.meta["remit/decision_id"]
    assert result.meta["remit/tier"] == "approve"
    (e,) = elicited
    assert e.url == f"{served.url}/v1/decisions/{did}" and did in e.message
    assert e.elicitation_id == f"remit-{did}"
    args = {"role_name": "prod-elicit", "policy_name": "p"}
    assert received(log) == [{"tool": "delete_role_policy", "arguments": args}]


def test_without_elicitation_a_progress_message_names_the_link(
    served: Served, tmp_path: Path
) -> None:
    log = tmp_path / "calls.jsonl"
    params = toy_params(served, log, "--hold", "60")
    progress: list[str] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(message or "")

    async def run() -> tuple[Any, str]:
        with (tmp_path / "err.log").open("a") as err:
            async with stdio_client(params, errlog=err) as (r, w), ClientSession(r, w) as s:
                await s.initialize()
                async with anyio.create_task_group() as tg:
                    approved: list[str] = []

                    async def approver() -> None:
                        approved.append(await anyio.to_thread.run_sync(
                            _approve_when_pending, served, ROLE + "prod-progress"))  # fmt: skip

                    tg.start_soon(approver)
                    result = await s.call_tool(
                        "delete_role_policy",
                        {"role_name": "prod-progress", "policy_name": "p"},
                        progress_callback=on_progress,
                        meta=meta(FIND),
                    )
                return result, approved[0]

    result, did = anyio.run(run)
    assert not result.is_error, result.content
    assert result.meta["remit/decision_id"] == did
    assert any(f"approve at {served.url}/v1/decisions/{did}" in m for m in progress), progress
    assert [c["tool"] for c in received(log)] == ["delete_role_policy"]


def test_a_call_without_remit_meta_is_decided_as_such(served: Served, tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"

    async def run() -> Any:
        with (tmp_path / "err.log").open("a") as err:
            params = toy_params(served, log)
            async with stdio_client(params, errlog=err) as (r, w), ClientSession(r, w) as s:
                await s.initialize()
                return await s.call_tool("echo", {"bare": True})

    result = anyio.run(run)
    did = (result.meta or {}).get("remit/decision_id") or result.structured_content["remit"][
        "decision_id"
    ]
    (d,) = [d for d in ledger(served, "decision") if d["decision"]["id"] == did]
    reasoning = d["request"]["reasoning"]  # recorded without reasoning: nothing invented
    assert reasoning["summary"] is None and reasoning["confidence"] is None
    assert reasoning["signals"] == [] and reasoning["alternatives"] == []
    # the envelope's autonomous tier requires reasoning: this call is not given it
    assert d["decision"]["tier"] != "autonomous"


def test_intent_the_declared_workflow_step_and_the_agent_key_on_the_receipt(
    served: Served, tmp_path: Path
) -> None:
    """A call is forwarded under the workflow step that declares its action and held under
    one that does not (the stated intent is part of the decision); each receipt names the
    agent key that asked."""
    import json as _json

    from remit.ledger.open import open_store

    log = tmp_path / "calls.jsonl"
    revoke = {"workflow": {"name": "iam-hygiene", "run": "r-intent", "step": "revoke-stale"}}
    args = {"role_name": "stale-intent", "policy_name": "p"}
    other = {"role_name": "stale-intent", "policy_name": "q"}  # same arguments: the held one

    async def run() -> tuple[Any, Any]:
        with (tmp_path / "err.log").open("a") as err:
            params = toy_params(served, log, "--hold", "0")
            async with stdio_client(params, errlog=err) as (r, w), ClientSession(r, w) as s:
                await s.initialize()
                off_step = await s.call_tool("delete_role_policy", args, meta=meta(FIND))
                on_step = await s.call_tool("delete_role_policy", other, meta=meta(revoke))
                return off_step, on_step

    off_step, on_step = anyio.run(run)
    held = off_step.structured_content["remit"]
    assert off_step.is_error and held["refused"] == "pending"
    assert any("workflow" in r["message"].lower() for r in held["reasons"]), held["reasons"]
    assert not on_step.is_error and on_step.meta["remit/tier"] == "notify"
    assert [c["arguments"] for c in received(log)] == [other]  # only the in-step call ran
    store = open_store(served.db, create=False)
    try:
        actors = {
            _json.loads(e.body)["data"]["decision"]["id"]: _json.loads(e.body)["actor"]
            for e in store.entries()
            if e.kind == "decision"
        }
    finally:
        store.close()
    assert actors[held["decision_id"]] == actors[on_step.meta["remit/decision_id"]]
    assert "bot" in actors[held["decision_id"]]
