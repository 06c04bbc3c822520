"""What the proxy refuses, and how: an unmapped tool (named), arguments that do not fill
the template, Remit unreachable or its ledger down (distinct from a denial), an approval
that does not come within the budget (pending link; the same arguments later are
forwarded once approved, other arguments are a new decision, and an approval forwards one
call only), and a client that goes away while a call is held (recorded as never
forwarded)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
from tests.mcp.mcpkit import (
    FIND,
    REVOKE,
    Served,
    ledger,
    mcp_client,
    meta,
    proxy_params,
    received,
    text_of,
    toy_params,
)

from remit.aws.moto_server import free_port

INLINE = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*",
                                                  "Resource": "*"}]}  # fmt: skip


def _role(served: Served, name: str) -> None:
    served.world.role(name)
    served.world.iam().put_role_policy(
        RoleName=name, PolicyName="s3-all", PolicyDocument=json.dumps(INLINE)
    )


def _inline(served: Served, name: str) -> list[str]:
    got: list[str] = served.world.iam().list_role_policies(RoleName=name)["PolicyNames"]
    return got


def _approve(served: Served, decision_id: str) -> None:
    headers = {"Authorization": f"Bearer {served.keys['alice']}"}
    r = httpx.post(
        f"{served.url}/v1/approvals/{decision_id}/approve",
        json={"comment": "approved after the budget ran out"},
        headers=headers,
        timeout=10,
    )
    assert r.status_code == 200, r.text


def test_unmapped_and_unfillable_calls_are_refused_naming_what(served: Served) -> None:
    before = len(ledger(served, "decision"))

    async def run() -> tuple[Any, Any]:
        async with mcp_client(proxy_params(served)) as s:
            unmapped = await s.call_tool("launch_rockets", {"count": 3})
            unfilled = await s.call_tool(
                "delete_role_policy", {"policy_name": "s3-all"}, meta=meta(REVOKE)
            )
            return unmapped, unfilled

    unmapped, unfilled = anyio.run(run)
    assert unmapped.is_error and "'launch_rockets' has no mapping" in text_of(unmapped)
    assert unmapped.structured_content["remit"]["refused"] == "unmapped"
    assert unfilled.is_error and "'role_name' is missing" in text_of(unfilled)
    assert unfilled.structured_content["remit"]["refused"] == "bad-arguments"
    assert len(ledger(served, "decision")) == before  # nothing asked, nothing forwarded


def test_remit_unreachable_refuses_and_is_not_a_denial(served: Served) -> None:
    _role(served, "unreachable-target")
    dead = f"http://127.0.0.1:{free_port()}"

    async def run() -> Any:
        async with mcp_client(proxy_params(served, url=dead)) as s:
            return await s.call_tool(
                "delete_role_policy",
                {"role_name": "unreachable-target", "policy_name": "s3-all"},
                meta=meta(REVOKE),
            )

    r = anyio.run(run)
    assert r.is_error and r.structured_content["remit"]["refused"] == "unavailable"
    assert "unavailable" in text_of(r) and "not denied" in text_of(r)
    assert _inline(served, "unreachable-target") == ["s3-all"]


def test_approval_after_the_budget_binds_to_the_exact_arguments(served: Served) -> None:
    _role(served, "prod-late")
    _role(served, "prod-other")
    args = {"role_name": "prod-late", "policy_name": "s3-all"}

    async def run() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with mcp_client(proxy_params(served, "--hold", "1")) as s:
            out["first"] = await s.call_tool("delete_role_policy", args, meta=meta(REVOKE))
            held = out["first"].structured_content["remit"]["decision_id"]
            # other arguments: a new decision, not the held one
            out["other"] = await s.call_tool(
                "delete_role_policy",
                {"role_name": "prod-other", "policy_name": "s3-all"},
                meta=meta(REVOKE),
            )
            await anyio.to_thread.run_sync(_approve, served, held)
            out["again"] = await s.call_tool("delete_role_policy", args, meta=meta(REVOKE))
            assert _inline(served, "prod-late") == []
            served.world.iam().put_role_policy(  # put it back: a replay would delete it again
                RoleName="prod-late", PolicyName="s3-all", PolicyDocument=json.dumps(INLINE)
            )
            out["replay"] = await s.call_tool("delete_role_policy", args, meta=meta(REVOKE))
        return out

    out = anyio.run(run)
    first = out["first"].structured_content["remit"]
    assert first["refused"] == "pending" and first["approval_link"].endswith(first["decision_id"])
    assert "pending approval at http://" in text_of(out["first"]) and "call again" in text_of(
        out["first"]
    )
    other = out["other"].structured_content["remit"]
    assert other["refused"] == "pending" and other["decision_id"] != first["decision_id"]
    again = out["again"]
    assert not again.is_error, text_of(again)
    assert again.meta["remit/decision_id"] == first["decision_id"]
    # the approval was used once: the same arguments again are a new decision, held
    replay = out["replay"].structured_content["remit"]
    assert replay["refused"] == "pending" and replay["decision_id"] != first["decision_id"]
    assert _inline(served, "prod-late") == ["s3-all"] and _inline(served, "prod-other") == [
        "s3-all"
    ]


def test_a_client_that_leaves_while_held_is_recorded_as_not_forwarded(served: Served) -> None:
    _role(served, "prod-abandoned")

    async def run() -> str:
        async with mcp_client(proxy_params(served, "--hold", "1")) as s:
            r = await s.call_tool(
                "delete_role_policy",
                {"role_name": "prod-abandoned", "policy_name": "s3-all"},
                meta=meta(REVOKE),
            )
            did: str = r.structured_content["remit"]["decision_id"]
            return did

    did = anyio.run(run)  # the client closed the session with the call held
    outcomes = [o for o in ledger(served, "outcome") if o["decision_id"] == did]
    assert len(outcomes) == 1 and outcomes[0]["status"] == "failed"
    assert "not forwarded" in outcomes[0]["error"]
    r = httpx.post(  # withdrawn: the approver is told there is nothing left to approve
        f"{served.url}/v1/approvals/{did}/approve",
        json={"comment": "approved after the client left"},
        headers={"Authorization": f"Bearer {served.keys['alice']}"},
        timeout=10,
    )
    assert r.status_code == 409 and "was withdrawn" in r.json()["detail"], r.text
    anyio.run(anyio.sleep, 0.5)
    assert _inline(served, "prod-abandoned") == ["s3-all"]


def _children(pid: int) -> list[int]:
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(x) for x in text.split()]


def test_the_ledger_down_refuses_and_is_not_a_denial(served: Served, tmp_path: Path) -> None:
    """`remit serve`'s decision writer is stopped mid-request, then killed: Remit answers
    deny LEDGER_UNAVAILABLE, unrecorded; the proxy refuses the call as unavailable (not
    denied) and forwards nothing. The writer is started again afterwards."""
    log = tmp_path / "calls.jsonl"
    (writer,) = _writers(served.pid)

    async def run() -> Any:
        async with mcp_client(toy_params(served, log)) as s:
            os.kill(writer, signal.SIGSTOP)  # the request waits on a writer that then dies
            try:
                async with anyio.create_task_group() as tg:
                    out: list[Any] = []

                    async def call() -> None:
                        out.append(await s.call_tool("echo", {"ledger": "down"}, meta=meta(FIND)))

                    tg.start_soon(call)
                    await anyio.sleep(0.5)
                    os.kill(writer, signal.SIGKILL)
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(writer, signal.SIGKILL)
            return out[0]

    r = anyio.run(run)
    assert r.is_error and r.structured_content["remit"]["refused"] == "unavailable", text_of(r)
    assert "ledger could not record" in text_of(r) and "not denied" in text_of(r)
    assert "LEDGER_UNAVAILABLE" in text_of(r)
    assert received(log) == []
    deadline = time.monotonic() + 30  # the service starts its writer again
    while time.monotonic() < deadline:
        if httpx.get(f"{served.url}/readyz", timeout=5).status_code == 200:
            break
        time.sleep(0.2)
    assert httpx.get(f"{served.url}/readyz", timeout=5).status_code == 200


def _writers(serve_pid: int) -> list[int]:
    """The decision writer: started by `remit serve`'s multiprocessing fork server."""
    servers = [p for p in _children(serve_pid) if b"forkserver" in _cmdline(p)]
    return [w for f in servers for w in _children(f)]


def _cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()
