"""End to end: the real awslabs.iam-mcp-server behind `remit mcp proxy`, driven by the
`mcp` SDK's client, against `remit serve` (STS backend) and a local moto server."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import anyio
from tests.mcp.mcpkit import (
    FIND,
    REVOKE,
    Approver,
    Served,
    ledger,
    mcp_client,
    meta,
    proxy_params,
    recorded_requests,
    text_of,
)

INLINE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


def _role_with_inline_policy(served: Served, name: str) -> str:
    iam = served.world.iam()
    served.world.role(name)
    iam.put_role_policy(RoleName=name, PolicyName="s3-all", PolicyDocument=json.dumps(INLINE))
    return f"arn:aws:iam::123456789012:role/{name}"


def _inline(served: Served, name: str) -> list[str]:
    names: list[str] = served.world.iam().list_role_policies(RoleName=name)["PolicyNames"]
    return names


def _access_key(req: dict[str, Any]) -> str:
    auth = {k.lower(): v for k, v in req["headers"].items()}.get("authorization", "")
    m = re.search(r"Credential=([A-Z0-9]+)/", auth)
    return m.group(1) if m else ""


def _requests_for(served: Served, action: str) -> list[dict[str, Any]]:
    out = []
    for req in recorded_requests(served):
        body = req.get("body") or ""
        if f"Action={action}" in body or f"Action={action}" in req.get("qs", ""):
            out.append(req)
    return out


def _grant(served: Served, decision_id: str) -> dict[str, Any]:
    (g,) = [g for g in ledger(served, "grant") if g["decision_id"] == decision_id]
    return g


def test_list_delete_approve_and_deny_through_the_proxy(served: Served) -> None:
    _role_with_inline_policy(served, "stale-ci-role")
    served.world.iam().create_role(
        RoleName="ci-runner", Path="/ci/", AssumeRolePolicyDocument=json.dumps(INLINE)
    )
    prod = _role_with_inline_policy(served, "prod-batch")
    _role_with_inline_policy(served, "OrganizationAccountAccessRole")
    approver = Approver(served, prod)

    async def run() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with mcp_client(proxy_params(served, "--hold", "60")) as s:
            tools = {t.name for t in (await s.list_tools()).tools}
            assert {"list_roles", "delete_role_policy"} <= tools
            out["list"] = await s.call_tool("list_roles", {"path_prefix": "/ci/"}, meta=meta(FIND))
            out["delete"] = await s.call_tool(
                "delete_role_policy",
                {"role_name": "stale-ci-role", "policy_name": "s3-all"},
                meta=meta(REVOKE),
            )
            approver.start()
            out["approved"] = await s.call_tool(
                "delete_role_policy",
                {"role_name": "prod-batch", "policy_name": "s3-all"},
                meta=meta(REVOKE),
            )
            out["denied"] = await s.call_tool(
                "delete_role_policy",
                {"role_name": "OrganizationAccountAccessRole", "policy_name": "s3-all"},
                meta=meta(REVOKE),
            )
        return out

    out = anyio.run(run)
    approver.join(5)
    assert approver.error is None and approver.seen is not None

    # list roles: autonomous, forwarded, the upstream's own answer
    listed = out["list"]
    assert not listed.is_error, text_of(listed)
    assert listed.meta["remit/tier"] == "autonomous"
    assert "ci-runner" in json.dumps(listed.structured_content) + text_of(listed)

    # delete an inline policy (autonomous under R7): done in moto, with the decision's session
    deleted = out["delete"]
    assert not deleted.is_error, text_of(deleted)
    assert _inline(served, "stale-ci-role") == []
    assert deleted.meta["remit/tier"] == "notify"  # Permissions management: notify floor
    did = deleted.meta["remit/decision_id"]
    grant = _grant(served, did)
    assert grant["source_identity"] == did
    (aws_call,) = [
        r for r in _requests_for(served, "DeleteRolePolicy") if "stale-ci-role" in r["body"]
    ]
    assert _access_key(aws_call) == grant["access_key_id"]
    assert _access_key(aws_call) != served.world.boot["remit_access_key_id"]

    # the protected role: held, approved through the API while the client waited, forwarded
    approved = out["approved"]
    assert not approved.is_error, text_of(approved)
    assert approved.meta["remit/decision_id"] == approver.seen["id"]
    assert approved.meta["remit/tier"] == "approve"
    assert _inline(served, "prod-batch") == []
    (paid,) = [r for r in _requests_for(served, "DeleteRolePolicy") if "prod-batch" in r["body"]]
    assert _access_key(paid) == _grant(served, approver.seen["id"])["access_key_id"]

    # the break-glass role: denied with the reason, never forwarded
    denied = out["denied"]
    assert denied.is_error
    assert "denied" in text_of(denied) and "R9-break-glass-role" in json.dumps(
        denied.structured_content
    )
    assert _inline(served, "OrganizationAccountAccessRole") == ["s3-all"]
    assert not [
        r for r in _requests_for(served, "DeleteRolePolicy")
        if "OrganizationAccountAccessRole" in r["body"]
    ]  # fmt: skip

    # every forwarded call has its outcome on the ledger, and the _meta reasoning was recorded
    outcomes = {o["decision_id"]: o for o in ledger(served, "outcome")}
    assert outcomes[did]["status"] == "succeeded"
    decisions = {d["decision"]["id"]: d for d in ledger(served, "decision")}
    request = decisions[did]["request"]
    assert request["reasoning"]["summary"].startswith("Inline policy grants s3:*")
    assert request["provenance"]["workflow"]["step"] == "revoke-stale"
    mcp = request["parameters"]["remit:mcp"]
    assert mcp["tool"] == "delete_role_policy" and len(mcp["arguments_sha256"]) == 64


if __name__ == "__main__":  # pragma: no cover
    asyncio.run(asyncio.sleep(0))
