"""Bad input at the proxy, against a real (small) upstream that records every call it
receives (tests/mcp/toy_upstream.py): malformed tool calls on the wire, arguments and
`_meta` that cannot be decided, an upstream that crashes or hangs, and a client that
disconnects while its call is held for approval. Each ends in a clear error, and the
upstream's own record shows that nothing reached it that Remit did not decide."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from tests.mcp.mcpkit import (
    FIND,
    Served,
    ledger,
    mcp_client,
    meta,
    received,
    text_of,
    toy_params,
)

ROLE = "arn:aws:iam::123456789012:role/"


def _decisions(served: Served) -> int:
    return len(ledger(served, "decision"))


def _outcome(served: Served, decision_id: str, timeout: float = 20) -> dict[str, Any]:
    """The outcome recorded for `decision_id`, waited for: a proxy whose client went away
    records it as it shuts down, after the client has already returned."""
    deadline = time.monotonic() + timeout
    while True:
        found = [o for o in ledger(served, "outcome") if o["decision_id"] == decision_id]
        if found or time.monotonic() > deadline:
            (o,) = found
            return o
        time.sleep(0.1)


class _Wire:
    """The proxy as a child process spoken to in raw JSON-RPC lines, so a test can send
    what no SDK client would."""

    def __init__(self, proc: anyio.abc.Process) -> None:
        self.proc = proc
        self.buffer = b""

    async def send(self, message: dict[str, Any] | str) -> None:
        line = message if isinstance(message, str) else json.dumps(message)
        assert self.proc.stdin is not None
        await self.proc.stdin.send(line.encode() + b"\n")

    async def initialize(self) -> dict[str, Any]:
        """The handshake as request 1; its answer."""
        await self.send({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "raw", "version": "0"}}})  # fmt: skip
        answer = await self.answer(1)
        await self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return answer

    async def answer(self, rid: int, timeout: float = 20) -> dict[str, Any]:
        assert self.proc.stdout is not None
        with anyio.fail_after(timeout):
            while True:
                while b"\n" in self.buffer:
                    line, self.buffer = self.buffer.split(b"\n", 1)
                    msg = json.loads(line)
                    if msg.get("id") == rid and ("result" in msg or "error" in msg):
                        return dict(msg)
                self.buffer += await self.proc.stdout.receive()


def test_malformed_tool_calls_are_answered_and_nothing_is_forwarded(
    served: Served, tmp_path: Path
) -> None:
    log = tmp_path / "calls.jsonl"
    params = toy_params(served, log)
    before = _decisions(served)
    reasoning = meta(FIND)

    async def run() -> dict[int, dict[str, Any]]:
        out = {}
        with (tmp_path / "proxy-stderr.log").open("wb") as err:
            proc = await anyio.open_process(
                [params.command, *params.args], env=params.env, cwd=params.cwd, stderr=err
            )
            async with proc:
                wire = _Wire(proc)
                out[1] = await wire.initialize()
                calls: dict[int, Any] = {
                    2: {"name": "echo", "arguments": "not an object"},
                    3: {"arguments": {"x": 1}},  # no tool name
                    4: {"name": ["echo"], "arguments": {}},
                    5: {"name": "echo", "arguments": {}, "_meta": {"remit/reasoning": "trust me"}},
                    6: {"name": "crash", "arguments": {"role_name": "a*"}, "_meta": reasoning},
                    7: {"name": "crash", "arguments": {"role_name": ["a", "b"]}},
                    8: {"name": "crash", "arguments": {}, "_meta": reasoning},
                    9: {"name": "format_disk", "arguments": {}},
                }
                await wire.send("this is not JSON {")
                for rid, p in calls.items():
                    await wire.send({"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                                     "params": p})  # fmt: skip
                    out[rid] = await wire.answer(rid)
                # still serving: a good call after all that is decided and forwarded
                await wire.send({"jsonrpc": "2.0", "id": 10, "method": "tools/call", "params": {
                    "name": "echo", "arguments": {"ok": True}, "_meta": reasoning}})  # fmt: skip
                out[10] = await wire.answer(10)
                assert proc.stdin is not None
                await proc.stdin.aclose()
                with anyio.fail_after(20):
                    await proc.wait()
        return out

    out = anyio.run(run)
    assert out[1]["result"]["serverInfo"]["name"] == "remit-mcp-proxy"
    for rid in (2, 3, 4):  # not a tools/call the protocol accepts: a JSON-RPC error
        assert out[rid]["error"]["code"] == -32602, out[rid]
    tool_errors = {rid: out[rid]["result"] for rid in (5, 6, 7, 8, 9)}
    for r in tool_errors.values():
        assert r["isError"] is True, r
        assert r["structuredContent"]["remit"]["refused"] in ("bad-arguments", "unmapped")
    text = {rid: r["content"][0]["text"] for rid, r in tool_errors.items()}
    assert "_meta 'remit/reasoning' must be an object" in text[5]
    assert "'role_name'" in text[6] and "cannot name a resource" in text[6]
    assert "must be a single value" in text[7]
    assert "'role_name' is missing" in text[8]
    assert "'format_disk' has no mapping" in text[9]
    assert out[10]["result"].get("isError") is not True, out[10]
    # only the good call was decided, and only it reached the upstream
    assert _decisions(served) == before + 1
    assert received(log) == [{"tool": "echo", "arguments": {"ok": True}}]


def test_an_upstream_that_crashes_is_a_clear_error_recorded_as_failed(
    served: Served, tmp_path: Path
) -> None:
    log = tmp_path / "calls.jsonl"

    async def run() -> tuple[Any, Any]:
        async with mcp_client(toy_params(served, log)) as s:
            crashed = await s.call_tool("crash", {"role_name": "ci"}, meta=meta(FIND))
            after = await s.call_tool("echo", {"x": 1}, meta=meta(FIND))
            return crashed, after

    crashed, after = anyio.run(run)
    assert crashed.is_error and crashed.structured_content["remit"]["refused"] == "upstream"
    assert "failed on crash" in text_of(crashed)
    did = crashed.structured_content["remit"]["decision_id"]
    outcome = _outcome(served, did)
    assert outcome["status"] == "failed" and "crash" in outcome["error"]
    # the upstream is gone: the next call is decided, then fails clearly, never "done"
    assert after.is_error and after.structured_content["remit"]["refused"] == "upstream"
    assert _outcome(served, after.structured_content["remit"]["decision_id"])["status"] == "failed"
    assert received(log) == [{"tool": "crash", "arguments": {"role_name": "ci"}}]


def test_an_upstream_that_hangs_times_out_and_nothing_is_recorded_as_done(
    served: Served, tmp_path: Path
) -> None:
    log = tmp_path / "calls.jsonl"

    async def run() -> tuple[Any, float]:
        async with mcp_client(toy_params(served, log, "--call-timeout", "1")) as s:
            t0 = time.monotonic()
            hung = await s.call_tool("hang", {"role_name": "ci"}, meta=meta(FIND))
            return hung, time.monotonic() - t0

    hung, took = anyio.run(run)
    assert took < 10
    assert hung.is_error and hung.structured_content["remit"]["refused"] == "upstream"
    assert "did not answer hang within 1s" in text_of(hung)
    outcome = _outcome(served, hung.structured_content["remit"]["decision_id"])
    assert outcome["status"] == "failed" and "within 1s" in outcome["error"]


def _pending_for(served: Served, arn: str, timeout: float = 20) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {served.keys['alice']}"}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for item in httpx.get(f"{served.url}/v1/approvals", headers=headers, timeout=10).json():
            if any(x["arn"] == arn for x in item["request"]["resources"]):
                return dict(item["decision"])
        time.sleep(0.1)
    pytest.fail(f"no approval appeared for {arn}")


def test_a_client_that_disconnects_mid_hold_never_gets_its_call_run(
    served: Served, tmp_path: Path
) -> None:
    log = tmp_path / "calls.jsonl"
    arn = ROLE + "prod-left-behind"
    seen: dict[str, Any] = {}

    async def run() -> float:
        async with (
            mcp_client(toy_params(served, log, "--hold", "60")) as s,
            anyio.create_task_group() as tg,
        ):

            async def call() -> None:
                await s.call_tool(
                    "delete_role_policy",
                    {"role_name": "prod-left-behind", "policy_name": "s3-all"},
                    meta=meta(FIND),
                )

            tg.start_soon(call)
            seen.update(await anyio.to_thread.run_sync(_pending_for, served, arn))
            tg.cancel_scope.cancel()  # the client gives up ...
        return time.monotonic()  # ... and closes the session (the proxy's stdin)

    anyio.run(run)
    did = seen["id"]
    outcome = _outcome(served, did)  # recorded by the proxy as it went away
    assert outcome["status"] == "failed" and "not forwarded" in outcome["error"]
    headers = {"Authorization": f"Bearer {served.keys['alice']}"}
    r = httpx.post(f"{served.url}/v1/approvals/{did}/approve", headers=headers, timeout=10,
                   json={"comment": "approved after the client left"})  # fmt: skip
    assert r.status_code == 409, r.text  # withdrawn: nothing left to approve
    assert "was withdrawn" in r.json()["detail"]
    time.sleep(1.0)
    assert received(log) == []  # the upstream never received the call


def test_a_terminated_proxy_records_its_held_call_as_not_forwarded(
    served: Served, tmp_path: Path
) -> None:
    """SIGTERM (what MCP clients send when the server does not exit soon after stdin
    closes) while a call is held: the proxy records the call as not forwarded, then
    exits; the upstream never receives it."""
    log = tmp_path / "calls.jsonl"
    arn = ROLE + "prod-terminated"
    params = toy_params(served, log, "--hold", "60")

    async def run() -> tuple[dict[str, Any], int | None]:
        with (tmp_path / "proxy-stderr.log").open("wb") as err:
            proc = await anyio.open_process(
                [params.command, *params.args], env=params.env, cwd=params.cwd, stderr=err
            )
            async with proc:
                wire = _Wire(proc)
                await wire.initialize()
                await wire.send({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
                    "name": "delete_role_policy", "_meta": meta(FIND), "arguments": {
                        "role_name": "prod-terminated", "policy_name": "s3-all"}}})  # fmt: skip
                held = await anyio.to_thread.run_sync(_pending_for, served, arn)
                proc.terminate()
                with anyio.fail_after(20):
                    code = await proc.wait()
        return held, code

    held, code = anyio.run(run)
    assert code == 0, (tmp_path / "proxy-stderr.log").read_text()
    outcome = _outcome(served, held["id"], timeout=5)  # written before the proxy exited
    assert outcome["status"] == "failed" and "not forwarded" in outcome["error"]
    assert code == 0
    assert received(log) == []
