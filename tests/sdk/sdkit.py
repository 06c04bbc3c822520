"""Helpers for the SDK tests: one AWS world (a real moto server process, a Runtime with the
STS backend against it, the in-process app) per test module; SDK clients (sync and async)
routed through that app with their own API key; an approver acting from another thread
while the agent waits; envelope edits signed off again; and ledger readers."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.support.aws_world import (
    PROVENANCE,
    REASONING,
    AwsWorld,
    build_world,
)

import remit

FIND_STALE = {**PROVENANCE, "workflow": {"name": "iam-hygiene", "run": "r-1", "step": "find-stale"}}
LOW_CONFIDENCE = {**REASONING, "confidence": 0.3}
S3_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


def open_world(
    tmp_path_factory: pytest.TempPathFactory, *, enforce_iam: bool = False
) -> Iterator[AwsWorld]:
    """For a module-scoped fixture: an AwsWorld, torn down afterwards."""
    with pytest.MonkeyPatch.context() as mp:
        gen = build_world(tmp_path_factory.mktemp("sdk-world"), mp, enforce_iam=enforce_iam)
        world = next(gen)
        try:
            yield world
        finally:
            gen.close()


def sdk(
    world: AwsWorld, key: str = "agent", *, raise_server_exceptions: bool = True, **kw: Any
) -> remit.Client:
    """A sync SDK client sending `key`, its HTTP going through the in-process app.

    Its own TestClient (the world's shared one carries no Authorization header, and is
    also used by the approver thread). With `raise_server_exceptions=False` a server
    error is a 500 answer, as over the network."""
    kw.setdefault("agent", "remediator")
    kw.setdefault("provenance", PROVENANCE)
    c = remit.Client("http://testserver", world.keys[key], **kw)
    c._http.close()
    c._http = TestClient(  # type: ignore[assignment]
        world.http.app,
        base_url="http://testserver",
        headers=c.headers,
        raise_server_exceptions=raise_server_exceptions,
    )
    return c


def async_sdk(world: AwsWorld, key: str = "agent", **kw: Any) -> remit.AsyncClient:
    """An async SDK client sending `key`, through the in-process app (ASGI transport).
    Create it inside the running event loop."""
    kw.setdefault("agent", "remediator")
    kw.setdefault("provenance", PROVENANCE)
    c = remit.AsyncClient("http://testserver", world.keys[key], **kw)
    c._http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.http.app),
        base_url="http://testserver",
        headers=c.headers,
    )
    return c


# -- AWS state ---------------------------------------------------------------------------


def target(world: AwsWorld, name: str) -> tuple[str, str]:
    """A role `name` with a fresh managed policy attached: (role ARN, policy ARN)."""
    policy = world.iam().create_policy(
        PolicyName=f"{name}-s3", PolicyDocument=json.dumps(S3_POLICY)
    )
    policy_arn: str = policy["Policy"]["Arn"]
    return world.role(name, policy_arn), policy_arn


def attached(world: AwsWorld, role: str) -> list[str]:
    got = world.iam().list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    return [p["PolicyArn"] for p in got]


def revoked_ids(world: AwsWorld) -> list[str]:
    """The decision ids in the execution role's RemitRevokedSessions Deny (as moto has it)."""
    iam = world.iam()
    try:
        got = iam.get_role_policy(
            RoleName=world.boot["role_name"], PolicyName="RemitRevokedSessions"
        )
    except iam.exceptions.NoSuchEntityException:
        return []
    doc = got["PolicyDocument"]
    doc = doc if isinstance(doc, dict) else json.loads(doc)
    (stmt,) = doc["Statement"]
    assert stmt["Effect"] == "Deny"
    return list(stmt["Condition"]["StringEquals"]["aws:SourceIdentity"])


# -- the ledger --------------------------------------------------------------------------


def entries(world: AwsWorld, kind: str | None = None) -> list[dict[str, Any]]:
    """Ledger entries (parsed), optionally of one kind, each with its `_index`."""
    out = []
    for e in world.runtime.store.entries():
        if kind is None or e.kind == kind:
            out.append({**json.loads(e.body), "_index": e.index, "_kind": e.kind})
    return out


def entries_for(world: AwsWorld, kind: str, decision_id: str) -> list[dict[str, Any]]:
    return [e for e in entries(world, kind) if e["data"].get("decision_id") == decision_id]


def decision_entry(world: AwsWorld, decision_id: str) -> dict[str, Any]:
    (e,) = [x for x in entries(world, "decision") if x["data"]["decision"]["id"] == decision_id]
    return e


def decisions_since(world: AwsWorld, index: int) -> list[dict[str, Any]]:
    return [e for e in entries(world, "decision") if e["_index"] >= index]


# -- a human approver in another thread ----------------------------------------------------


class Approver(threading.Thread):
    """Waits (on its own HTTP client) until a held decision for `arn` appears in the
    approval queue, then approves or rejects it. `seen` is the decision it resolved."""

    def __init__(self, world: AwsWorld, arn: str, verb: str = "approve", timeout: float = 20.0):
        super().__init__(daemon=True)
        self.http = TestClient(world.http.app, base_url="http://testserver")
        self.headers = world.headers("approver")
        self.arn, self.verb, self.timeout = arn, verb, timeout
        self.seen: dict[str, Any] | None = None
        self.answer: httpx.Response | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline and self.seen is None:
                r = self.http.get("/v1/approvals", headers=self.headers)
                r.raise_for_status()
                for item in r.json():
                    if any(res["arn"] == self.arn for res in item["request"]["resources"]):
                        self.seen = item["decision"]
                        break
                else:
                    time.sleep(0.05)
            if self.seen is not None:
                self.answer = self.http.post(
                    f"/v1/approvals/{self.seen['id']}/{self.verb}",
                    json={"comment": f"{self.verb}d by the test approver"},
                    headers=self.headers,
                )
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def finish(self) -> dict[str, Any]:
        """Join; the decision it resolved (fails the test if it resolved none)."""
        self.join(self.timeout + 5)
        if self.error is not None:
            raise self.error
        assert self.seen is not None, f"no held decision for {self.arn} showed up"
        assert self.answer is not None and self.answer.status_code == 200, self.answer
        return self.seen


@contextlib.contextmanager
def approving(world: AwsWorld, arn: str, verb: str = "approve") -> Iterator[Approver]:
    a = Approver(world, arn, verb)
    a.start()
    try:
        yield a
    finally:
        a.join(a.timeout + 5)


# -- envelope edits --------------------------------------------------------------------------
