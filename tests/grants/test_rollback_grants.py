"""Rollback of a granted change, against a real moto server: the grant records a plan
(snapshot taken before the change), the plan is readable by humans, and running it is a
new, human-initiated, governed decision (R20-rollback-by-humans: an approver must
approve) whose ledger entry names the original decision as parent.

Once through the SDK against the in-process app, once through the real CLI
(`remit rollback ... --yes`) against a real `remit serve` process. And: an action Remit
cannot undo says `rollback: "unavailable"` in the decision itself, and with
`defaults.irreversible: approve` it is held with IRREVERSIBLE_ACTION."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from tests.grants.gkit import (
    Clock,
    decide,
    entries,
    grant,
    sdk,
)
from tests.support.aws_world import ACCOUNT, PROVENANCE, REASONING, AwsWorld, envelope_changed

import remit
from remit.aws.moto_server import free_port
from remit.ledger.open import open_store

REMIT = Path(sys.executable).with_name("remit")


def _target(world: AwsWorld, name: str) -> tuple[str, str]:
    policy_arn = world.managed_policy(f"{name}-s3")
    return world.role(name, policy_arn), policy_arn


def _attached(world: AwsWorld, role: str) -> list[str]:
    got = world.iam().list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    return [p["PolicyArn"] for p in got]


def _detach_through_remit(
    client: remit.Client, world: AwsWorld, role: str, policy_arn: str
) -> dict[str, Any]:
    """The agent's governed step: decide, grant, detach with the scoped credentials."""
    params = {"RoleName": role, "PolicyArn": policy_arn}
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
    with client.step(
        "iam:DetachRolePolicy", [role_arn], reasoning=REASONING, parameters=params
    ) as aws:
        aws.client("iam").detach_role_policy(**params)
        decision, granted = aws.decision, aws.grant
    assert _attached(world, role) == []
    return {"decision": decision, "grant": granted, "params": params, "role_arn": role_arn}


def _expected_plan_call(role_arn: str, params: dict[str, str]) -> dict[str, Any]:
    return {
        "action": "iam:AttachRolePolicy",
        "service": "iam",
        "operation": "attach_role_policy",
        "params": params,
        "resource": role_arn,
    }


def _approve_when_held(
    base: Any, approver_headers: dict[str, str], parent: str, timeout: float = 60
) -> dict[str, Any]:
    """Poll the approval queue (as the approver) for the rollback of `parent`; approve it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = base.get("/v1/approvals", headers=approver_headers)
        assert r.status_code == 200, r.text
        for item in r.json():
            if (item["request"].get("provenance") or {}).get("parent_decision") == parent:
                ok = base.post(
                    f"/v1/approvals/{item['decision']['id']}/approve",
                    json={"comment": "undo it"},
                    headers=approver_headers,
                )
                assert ok.status_code == 200, ok.text
                return item  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"no rollback of {parent} was held for approval within {timeout}s")


def _rollback_decision(records: list[dict[str, Any]], parent: str) -> dict[str, Any]:
    (entry,) = [
        e
        for e in records
        if e["kind"] == "decision"
        and (e["data"]["request"].get("provenance") or {}).get("parent_decision") == parent
    ]
    return entry


# -- the plan ------------------------------------------------------------------------------


def test_detach_records_a_rollback_plan_readable_by_humans(world: AwsWorld) -> None:
    role_arn, policy_arn = _target(world, "plan-target")
    done = _detach_through_remit(sdk(world), world, "plan-target", policy_arn)
    did = done["decision"]["id"]
    assert done["decision"]["rollback"] == "available"

    rb = done["grant"]["rollback"]
    assert rb["status"] == "available"
    assert rb["plan"]["action"] == "iam:DetachRolePolicy"
    assert rb["plan"]["calls"] == [_expected_plan_call(role_arn, done["params"])]
    assert policy_arn in rb["plan"]["snapshot"]["attached_policy_arns"]  # taken before
    (issued,) = [
        e
        for e in entries(world, "grant")
        if e["data"]["decision_id"] == did and e["data"]["status"] == "issued"
    ]
    assert issued["data"]["rollback"] == rb

    r = world.http.get(f"/v1/decisions/{did}/rollback", headers=world.headers("admin"))
    assert r.status_code == 200, r.text
    assert r.json() == {
        "decision_id": did,
        "agent": "remediator",
        "action": "iam:DetachRolePolicy",
        "rollback": rb,
    }
    assert (
        world.http.get(
            f"/v1/decisions/{did}/rollback", headers=world.headers("auditor")
        ).status_code
        == 200
    )
    forbidden = world.http.get(f"/v1/decisions/{did}/rollback", headers=world.headers("agent"))
    assert forbidden.status_code == 403


def test_rollback_through_the_sdk_is_a_governed_human_decision(world: AwsWorld) -> None:
    _, policy_arn = _target(world, "sdk-rollback-target")
    done = _detach_through_remit(sdk(world), world, "sdk-rollback-target", policy_arn)
    did = done["decision"]["id"]
    plan = sdk(world, "admin").rollback_plan(did)["rollback"]["plan"]
    (call,) = plan["calls"]

    admin = remit.Client("http://testserver", world.keys["admin"], agent="remediator")
    admin._http.close()
    admin._http = sdk(world, "admin")._http
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            with admin.step(
                call["action"],
                [call["resource"]],
                origin="human",
                on_behalf_of="operator-olga",
                provenance={"parent_decision": did},
                reasoning={"summary": f"Rollback of {did}: the batch job broke"},
                parameters=call["params"],
                approval_timeout=60,
            ) as aws:
                getattr(aws.client(call["service"]), call["operation"])(**call["params"])
                outcome["decision"] = aws.decision
                outcome["grant"] = aws.grant
        except BaseException as exc:
            outcome["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    try:
        held = _approve_when_held(world.http, world.headers("approver"), did)
    finally:
        worker.join(90)
    assert "error" not in outcome, outcome.get("error")
    assert held["decision"]["tier"] == "approve"
    assert "R20-rollback-by-humans" in held["decision"]["rules"]

    assert _attached(world, "sdk-rollback-target") == [policy_arn]
    entry = _rollback_decision(entries(world), did)
    req = entry["data"]["request"]
    assert req["origin"] == "human"
    assert req["on_behalf_of"] == "operator-olga"
    assert req["provenance"]["parent_decision"] == did
    assert req["action"] == "iam:AttachRolePolicy"
    rid = entry["data"]["decision"]["id"]
    assert outcome["decision"]["id"] == rid
    kinds = [
        (e["kind"], e["data"].get("status"))
        for e in entries(world)
        if e["data"].get("decision_id") == rid
    ]
    assert ("grant", "issued") in kinds
    assert ("outcome", "succeeded") in kinds
    assert any(k == "revocation" for k, _ in kinds)


# -- the real CLI against a real `remit serve` ----------------------------------------------


def _env(world: AwsWorld) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REMIT_", "AWS_"))}
    env.update(
        COLUMNS="250",
        NO_COLOR="1",
        TERM="dumb",
        AWS_ACCESS_KEY_ID=world.boot["remit_access_key_id"],
        AWS_SECRET_ACCESS_KEY=world.boot["remit_secret_access_key"],
        AWS_DEFAULT_REGION="us-east-1",
    )
    return env


def _cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REMIT), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def served(
    wc: tuple[AwsWorld, Clock], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    """`remit serve` as a child process with the STS backend against the world's moto
    server, its own SQLite ledger, and keys made with `remit keys create`."""
    world = wc[0]
    folder = tmp_path_factory.mktemp("served")
    db = str(folder / "serve.db")
    env = _env(world)
    keys = {}
    for name, role, agent in (
        ("bot", "agent", "remediator"),
        ("ops", "admin", None),
        ("alice", "approver", None),
    ):
        args = ["keys", "create", "--role", role, "--name", name, "--db", db, "--init"]
        if agent:
            args += ["--agent", agent]
        r = _cli(env, folder, *args)
        assert r.returncode == 0, r.stdout + r.stderr
        keys[name] = r.stdout.rstrip("\n").splitlines()[-1]
    port = free_port()
    config = folder / "remit.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "envelope": str(world.folder / "envelope.yaml"),
                "trusted_keys": [str(world.folder / "ciso.pub")],
                "db": db,
                "port": port,
                "aws": {"backend": "sts", "endpoint_url": world.moto.endpoint_url},
            }
        )
    )
    log = (folder / "serve.log").open("wb")
    proc = subprocess.Popen(
        [str(REMIT), "serve", "--config", str(config)],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 40
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"remit serve exited {proc.returncode}: {(folder / 'serve.log').read_text()}"
                )
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"remit serve not ready: {(folder / 'serve.log').read_text()}")
            time.sleep(0.2)
        yield {"url": url, "keys": keys, "db": db, "env": env, "folder": folder}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def test_cli_rollback_against_a_real_server(world: AwsWorld, served: dict[str, Any]) -> None:
    url, keys = served["url"], served["keys"]
    role_arn, policy_arn = _target(world, "cli-rollback-target")
    with remit.Client(url, keys["bot"], agent="remediator", provenance=PROVENANCE) as bot:
        done = _detach_through_remit(bot, world, "cli-rollback-target", policy_arn)
    did = done["decision"]["id"]
    assert done["grant"]["rollback"]["plan"]["calls"] == [
        _expected_plan_call(role_arn, done["params"])
    ]

    proc = subprocess.Popen(
        [
            str(REMIT), "rollback", did,
            "--url", url,
            "--api-key", keys["ops"],
            "--operator", "operator-olga",
            "--why", "the batch job broke",
            "--approval-timeout", "60",
            "--yes",
        ],
        cwd=served["folder"],
        env=served["env"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    try:
        with httpx.Client(base_url=url, timeout=10) as http:
            held = _approve_when_held(http, {"Authorization": f"Bearer {keys['alice']}"}, did)
        out, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, out
    assert "done" in out and "iam:AttachRolePolicy" in out, out
    assert held["request"]["origin"] == "human"
    assert "R20-rollback-by-humans" in held["decision"]["rules"]

    assert _attached(world, "cli-rollback-target") == [policy_arn]

    store = open_store(served["db"], create=False)
    try:
        records = [json.loads(e.body) for e in store.entries()]
    finally:
        store.close()
    entry = _rollback_decision(records, did)
    req = entry["data"]["request"]
    assert req["origin"] == "human"
    assert req["on_behalf_of"] == "operator-olga"
    assert req["provenance"]["parent_decision"] == did
    assert req["action"] == "iam:AttachRolePolicy"
    assert "the batch job broke" in req["reasoning"]["summary"]
    rid = entry["data"]["decision"]["id"]
    assert entry["data"]["decision"]["tier"] == "approve"
    related = [
        (r["kind"], r["data"].get("status"), r["data"].get("state"))
        for r in records
        if r["data"].get("decision_id") == rid
    ]
    assert ("approval", None, "approved") in related
    assert ("grant", "issued", None) in related
    assert ("outcome", "succeeded", None) in related


def test_cli_refuses_to_roll_back_what_has_no_plan(world: AwsWorld, served: dict[str, Any]) -> None:
    url, keys = served["url"], served["keys"]
    with remit.Client(url, keys["bot"], agent="remediator") as bot:
        d = bot.decide(
            "iam:GetRole",
            [f"arn:aws:iam::{ACCOUNT}:role/read-only"],
            reasoning=REASONING,
            provenance={**PROVENANCE, "workflow": {"name": "iam-hygiene", "step": "find-stale"}},
        )
        bot.grant(d["id"])
    r = _cli(
        served["env"],
        served["folder"],
        "rollback",
        d["id"],
        "--url",
        url,
        "--api-key",
        keys["ops"],
        "--yes",
    )
    assert r.returncode == 1, r.stdout + r.stderr
    assert "not_needed" in r.stdout + r.stderr


# -- what cannot be undone -------------------------------------------------------------------


def _allow_create_access_key(data: dict[str, Any]) -> None:
    data["workflows"]["iam-hygiene"]["steps"]["revoke-stale"]["actions"].append(
        "iam:CreateAccessKey"
    )
    data["rules"].insert(
        0,
        {
            "id": "R30-keys",
            "agents": ["remediator"],
            "actions": ["iam:CreateAccessKey"],
            "resources": [f"arn:aws:iam::{ACCOUNT}:user/*"],
            "tier": "autonomous",
        },
    )


def test_unsupported_change_says_rollback_unavailable(world: AwsWorld) -> None:
    user_arn = f"arn:aws:iam::{ACCOUNT}:user/deploy-bot"
    with envelope_changed(world, _allow_create_access_key):
        d = decide(world, "iam:CreateAccessKey", [user_arn], parameters={"UserName": "deploy-bot"})
        assert d["status"] == "allowed", d
        assert d["rollback"] == "unavailable"
        r = grant(world, d["id"])
    assert r.status_code == 200, r.text
    assert r.json()["rollback"]["status"] == "unavailable"
    assert "plan" not in r.json()["rollback"]
    got = world.http.get(f"/v1/decisions/{d['id']}", headers=world.headers("agent")).json()
    assert got["rollback"] == "unavailable"
    plan = world.http.get(f"/v1/decisions/{d['id']}/rollback", headers=world.headers("admin"))
    assert plan.json()["rollback"]["status"] == "unavailable"


def test_irreversible_change_is_held_when_the_envelope_says_so(world: AwsWorld) -> None:
    def change(data: dict[str, Any]) -> None:
        _allow_create_access_key(data)
        data["defaults"]["irreversible"] = "approve"

    user_arn = f"arn:aws:iam::{ACCOUNT}:user/deploy-bot"
    with envelope_changed(world, change):
        d = decide(world, "iam:CreateAccessKey", [user_arn], parameters={"UserName": "deploy-bot"})
        # A change Remit can undo is not held by that default.
        undoable = decide(
            world,
            "iam:DetachRolePolicy",
            [f"arn:aws:iam::{ACCOUNT}:role/x"],
            parameters={"RoleName": "x", "PolicyArn": f"arn:aws:iam::{ACCOUNT}:policy/p"},
        )
    assert d["tier"] == "approve"
    assert d["status"] == "pending"
    assert d["rollback"] == "unavailable"
    assert "IRREVERSIBLE_ACTION" in [r["code"] for r in d["reasons"]]
    assert "IRREVERSIBLE_ACTION" not in [r["code"] for r in undoable["reasons"]]
    assert undoable["status"] == "allowed"
