"""One conformance suite, run against every framework adapter through the framework's own
tool-calling path (no LLM), with a real `remit serve`: allowed; denied; approve-then-allowed
(an approver approves through the API while the adapter waits); approval timed out;
arguments changed after approval (a new decision, the old approval not reused, and an
approval used once); the agent's key revoked while the adapter waits; Remit unreachable
(fails closed, with an error that is not a denial)."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from tests.adapters.drivers import DRIVERS, Adapter, Driver, Settings, available
from tests.mcp.mcpkit import Approver, Served, _cli_env, ledger, remit_cmd

from remit.aws.moto_server import free_port

ACCOUNT = "123456789012"


@pytest.fixture(
    params=[
        pytest.param(name, marks=pytest.mark.openai_agents) if name == "openai-agents" else name
        for name in sorted(DRIVERS)
    ]
)
def driver(request: pytest.FixtureRequest) -> Driver:
    """Every adapter. The OpenAI Agents SDK cannot share the default environment (its
    releases for mcp 2.x need websockets<17), so its cases carry the `openai_agents` marker,
    which the default run deselects and `scripts/test-openai-agents.sh` runs in a venv of
    its own. Run where its framework is missing, a case fails: it never skips."""
    why = available(request.param)
    if why is not None:
        pytest.fail(why)
    return DRIVERS[request.param]()


@pytest.fixture
def open_adapter(driver: Driver) -> Iterator[list[Adapter]]:
    opened: list[Adapter] = []
    yield opened
    for a in opened:
        a.close()


def adapter(served: Served, opened: list[Adapter], driver: Driver, **kw: object) -> Adapter:
    settings: Settings = {"url": served.url, "api_key": served.keys["bot"],
                          "agent": "remediator", **kw}  # fmt: skip
    a = driver.adapter(settings)
    opened.append(a)
    return a


def arn(role: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:role/{role}"


def approve(served: Served, decision_id: str) -> None:
    headers = {"Authorization": f"Bearer {served.keys['alice']}"}
    r = httpx.post(f"{served.url}/v1/approvals/{decision_id}/approve",
                   json={"comment": "approved after the budget ran out"},
                   headers=headers, timeout=10)  # fmt: skip
    assert r.status_code == 200, r.text


def held_decision(served: Served, resource: str, timeout: float = 30) -> str:
    """The id of the first held decision naming `resource` (as an approver sees it)."""
    headers = {"Authorization": f"Bearer {served.keys['alice']}"}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for item in httpx.get(f"{served.url}/v1/approvals", headers=headers, timeout=10).json():
            if any(x["arn"] == resource for x in item["request"]["resources"]):
                return str(item["decision"]["id"])
        time.sleep(0.1)
    raise AssertionError(f"no held decision names {resource}")


def outcomes(served: Served) -> dict[str, dict[str, object]]:
    return {o["decision_id"]: o for o in ledger(served, "outcome")}


def test_allowed_runs_the_tool_and_reports_its_outcome(
    served: Served, driver: Driver, open_adapter: list[Adapter]
) -> None:
    a = adapter(served, open_adapter, driver, hold=0)
    out = a.call("list_roles", {})
    assert out.ran and out.kind is None, out
    assert "prod-batch" in out.message
    assert driver.ran.count("list_roles") == 1
    assert out.decision_id is not None
    assert outcomes(served)[out.decision_id]["status"] == "succeeded"
    request = {d["decision"]["id"]: d for d in ledger(served, "decision")}[out.decision_id]
    assert request["request"]["parameters"]["remit:tool"]["tool"] == "list_roles"


def test_denied_does_not_run_and_says_why(
    served: Served, driver: Driver, open_adapter: list[Adapter]
) -> None:
    a = adapter(served, open_adapter, driver, hold=0)
    args = {"role_name": "OrganizationAccountAccessRole", "policy_name": "s3-all"}
    out = a.call("delete_role_policy", args)
    assert not out.ran and out.kind == "denied", out
    assert "R9-break-glass-role" in out.message and "denied" in out.message
    assert driver.ran.count("delete_role_policy") == 0


def test_a_tool_without_a_declaration_is_refused_by_name(
    served: Served, driver: Driver, open_adapter: list[Adapter]
) -> None:
    a = adapter(served, open_adapter, driver, hold=0)
    before = len(ledger(served, "decision"))
    out = a.call("tag_role", {"role_name": "prod-batch", "tag": "x"})
    assert not out.ran and out.kind == "unmapped", out
    assert "'tag_role'" in out.message and "denied by default" in out.message
    assert driver.ran.count("tag_role") == 0
    assert len(ledger(served, "decision")) == before  # nothing asked, nothing run


def test_arguments_that_do_not_fill_the_declaration_are_refused(
    served: Served, driver: Driver, open_adapter: list[Adapter]
) -> None:
    a = adapter(served, open_adapter, driver, hold=0)
    before = len(ledger(served, "decision"))
    out = a.call("delete_role_policy", {"policy_name": "s3-all"})  # role_name missing
    assert not out.ran and "role_name" in out.message, out
    # Remit's own check, or the framework's schema validation before it (Agents SDK)
    assert out.kind in ("bad-arguments", "framework"), out
    assert driver.ran.count("delete_role_policy") == 0
    assert len(ledger(served, "decision")) == before


def test_approve_then_allowed_while_the_adapter_waits(
    served: Served, driver: Driver, open_adapter: list[Adapter]
) -> None:
    role = f"prod-{driver.name}-waits"
    served.world.role(role)
    approver = Approver(served, arn(role))
    approver.start()
    a = adapter(served, open_adapter, driver, hold=30)
    out = a.call("delete_role_policy", {"role_name": role, "policy_name": "s3-all"})
    approver.join(5)
    assert approver.error is None and approver.seen is not None
    assert out.ran and out.kind is None, out
    assert out.decision_id == approver.seen["id"]
    assert driver.ran.count("delete_role_policy", role_name=role) == 1
    assert outcomes(served)[out.decision_id]["status"] == "succeeded"


def test_approval_timed_out_is_pending_with_the_link(
    served: Served, driver: Driver, open_adapter: list[Adapter]
) -> None:
    role = f"prod-{driver.name}-late"
    served.world.role(role)
    a = adapter(served, open_adapter, driver, hold=1)
    started = time.monotonic()
    out = a.call("delete_role_policy", {"role_name": role, "policy_name": "s3-all"})
    assert time.monotonic() - started < 15
    assert not out.ran and out.kind == "pending", out
    assert out.link is not None and out.decision_id is not None
    assert out.link.endswith(out.decision_id) and out.link in out.message
    assert "call again" in out.message
    # the framework's own interrupt where the path has one (the Agents SDK's approval stop;
    # approving it there and resuming still got Remit's "pending"); an error otherwise
    assert out.interrupted == (driver.name == "openai-agents")
    assert driver.ran.count("delete_role_policy", role_name=role) == 0


def test_arguments_changed_after_approval_are_a_new_decision(
    served: Served, driver: Driver, open_adapter: list[Adapter]
) -> None:
    role, other = f"prod-{driver.name}-a", f"prod-{driver.name}-b"
    served.world.role(role)
    served.world.role(other)
    a = adapter(served, open_adapter, driver, hold=1)
    first = a.call("delete_role_policy", {"role_name": role, "policy_name": "s3-all"})
    assert first.kind == "pending" and first.decision_id, first
    approve(served, first.decision_id)
    changed = a.call("delete_role_policy", {"role_name": other, "policy_name": "s3-all"})
    assert not changed.ran and changed.kind == "pending", changed
    assert changed.decision_id != first.decision_id  # the approval was not reused
    also_changed = a.call("delete_role_policy", {"role_name": role, "policy_name": "other"})
    assert not also_changed.ran and also_changed.decision_id not in (None, first.decision_id)
    again = a.call("delete_role_policy", {"role_name": role, "policy_name": "s3-all"})
    assert again.ran and again.decision_id == first.decision_id, again
    replay = a.call("delete_role_policy", {"role_name": role, "policy_name": "s3-all"})
    assert not replay.ran and replay.kind == "pending", replay  # used once, never replayed
    assert replay.decision_id != first.decision_id
    assert driver.ran.count("delete_role_policy", role_name=role) == 1
    assert driver.ran.count("delete_role_policy", role_name=other) == 0


def _new_agent_key(served: Served, name: str) -> str:
    args = ["keys", "create", "--role", "agent", "--agent", "remediator", "--name", name,
            "--db", served.db]  # fmt: skip
    r = subprocess.run(remit_cmd(*args), cwd=served.folder, env=_cli_env(),
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout.rstrip("\n").splitlines()[-1]


def test_key_revoked_while_waiting_refuses_and_never_runs(
    served: Served, driver: Driver, open_adapter: list[Adapter]
) -> None:
    role = f"prod-{driver.name}-revoked"
    served.world.role(role)
    key = _new_agent_key(served, f"bot-{driver.name}")
    seen: list[str] = []

    def revoke_when_held() -> None:
        seen.append(held_decision(served, arn(role)))
        args = ["keys", "revoke", key.split("_")[1], "--db", served.db]
        subprocess.run(remit_cmd(*args), cwd=served.folder, env=_cli_env(), check=True,
                       capture_output=True, timeout=120)  # fmt: skip

    t = threading.Thread(target=revoke_when_held, daemon=True)
    t.start()
    a = adapter(served, open_adapter, driver, hold=40, api_key=key)
    started = time.monotonic()
    out = a.call("delete_role_policy", {"role_name": role, "policy_name": "s3-all"})
    t.join(10)
    assert seen and out.decision_id in (None, seen[0])
    assert time.monotonic() - started < 30  # noticed at the next poll, not the budget's end
    assert not out.ran and out.kind == "refused", out
    assert "revoked" in out.message and "denied" not in out.message
    assert driver.ran.count("delete_role_policy", role_name=role) == 0


def test_remit_unreachable_fails_closed_and_is_not_a_denial(
    served: Served, driver: Driver, open_adapter: list[Adapter]
) -> None:
    a = adapter(served, open_adapter, driver, hold=0, url=f"http://127.0.0.1:{free_port()}")
    out = a.call("list_roles", {})
    assert not out.ran and out.kind == "unavailable", out
    assert "unavailable" in out.message and "not denied" in out.message
    assert driver.ran.count("list_roles") == 0
