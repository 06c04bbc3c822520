"""Helpers for the grant, revocation and rollback tests: one AWS world (a real moto server
process and a Runtime using the STS backend against it) per test module, a settable
clock, an SDK client routed through the in-process app with a given API key, capture of
the AssumeRole parameters Remit sends, envelope edits (re-signed), and ledger readers."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.support.aws_world import (
    PROVENANCE,
    REASONING,
    AwsWorld,
    build_world,
)

import remit
from remit.identity.model import Role

FIND_STALE = {"name": "iam-hygiene", "run": "r-1", "step": "find-stale"}
REVOKE_STALE = {"name": "iam-hygiene", "run": "r-1", "step": "revoke-stale"}


class Clock:
    """The real time plus a settable offset, for `Runtime(clock=...)`. moto stamps
    credentials with the real time, so the offset moves Remit past their expiry."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)

    def reset(self) -> None:
        self.offset = timedelta(0)


def open_world(
    tmp_path_factory: pytest.TempPathFactory, *, enforce_iam: bool = False
) -> Iterator[tuple[AwsWorld, Clock]]:
    """For a module-scoped fixture: an AwsWorld with an injected clock, plus a second
    agent key ("scanner") and a second key of the same agent ("agent-2")."""
    clock = Clock()
    with pytest.MonkeyPatch.context() as mp:
        gen = build_world(
            tmp_path_factory.mktemp("world"), mp, enforce_iam=enforce_iam, clock=clock
        )
        world = next(gen)
        try:
            now = clock()
            world.keys["scanner"] = world.runtime.keys.create(
                "scanner", Role.AGENT, "scanner", now, "test-setup"
            )[1]
            world.keys["agent-2"] = world.runtime.keys.create(
                "agent-2", Role.AGENT, "remediator", now, "test-setup"
            )[1]
            yield world, clock
        finally:
            gen.close()


def sdk(world: AwsWorld, key: str = "agent", **kw: Any) -> remit.Client:
    """An SDK client whose HTTP goes through the in-process app, sending `key`.

    (`AwsWorld.client()` swaps in the shared TestClient, which does not carry the SDK's
    Authorization header, so its requests are unauthenticated.)"""
    c = remit.Client(
        "http://testserver", world.keys[key], agent="remediator", provenance=PROVENANCE, **kw
    )
    c._http.close()
    c._http = TestClient(world.http.app, base_url="http://testserver", headers=c.headers)  # type: ignore[assignment]
    return c


def request_body(
    action: str,
    arns: list[str],
    *,
    workflow: dict[str, str] | None = None,
    confidence: float = 0.9,
    agent: str = "remediator",
    parameters: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A decision request body; reads belong to the find-stale step, changes to
    revoke-stale."""
    if workflow is None:
        reads = action.split(":", 1)[1].startswith(("Get", "List"))
        workflow = FIND_STALE if reads else REVOKE_STALE
    body: dict[str, Any] = {
        "agent": agent,
        "action": action,
        "resources": [{"arn": a} for a in arns],
        "environment": "prod",
        "reasoning": {**REASONING, "confidence": confidence},
        "provenance": {**PROVENANCE, "workflow": workflow},
    }
    if parameters is not None:
        body["parameters"] = parameters
    body.update(extra)
    return body


def decide(
    world: AwsWorld, action: str, arns: list[str], key: str = "agent", **kw: Any
) -> dict[str, Any]:
    r = world.http.post(
        "/v1/decisions", json=request_body(action, arns, **kw), headers=world.headers(key)
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def grant(world: AwsWorld, decision_id: str, key: str = "agent") -> Any:
    return world.http.post(f"/v1/decisions/{decision_id}/grant", headers=world.headers(key))


def entries(world: AwsWorld, kind: str | None = None) -> list[dict[str, Any]]:
    """Ledger entries (parsed), optionally of one kind, with their raw bytes under `_raw`."""
    out = []
    for e in world.runtime.store.entries():
        if kind is None or e.kind == kind:
            out.append({**json.loads(e.body), "_raw": e.body, "_index": e.index})
    return out


def entries_for(world: AwsWorld, kind: str, decision_id: str) -> list[dict[str, Any]]:
    return [e for e in entries(world, kind) if e["data"].get("decision_id") == decision_id]


@contextlib.contextmanager
def assume_role_calls(world: AwsWorld) -> Iterator[list[dict[str, Any]]]:
    """The parameters of every sts:AssumeRole call Remit's backend makes in the block,
    captured from botocore's own events on the backend's STS client (what was sent)."""
    calls: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        calls.append(json.loads(json.dumps(params)))

    events = world.runtime.grants.backend._sts.meta.events  # type: ignore[attr-defined]
    events.register("provide-client-params.sts.AssumeRole", record, unique_id="grant-tests")
    try:
        yield calls
    finally:
        events.unregister("provide-client-params.sts.AssumeRole", unique_id="grant-tests")


def role_policy(world: AwsWorld, name: str = "RemitRevokedSessions") -> dict[str, Any] | None:
    """The execution role's inline policy as moto stores it (None if there is none)."""
    iam = world.iam()
    try:
        doc = iam.get_role_policy(RoleName=world.boot["role_name"], PolicyName=name)
    except iam.exceptions.NoSuchEntityException:
        return None
    got = doc["PolicyDocument"]
    return got if isinstance(got, dict) else json.loads(got)  # type: ignore[no-any-return]


def revoked_ids(world: AwsWorld) -> list[str] | None:
    doc = role_policy(world)
    if doc is None:
        return None
    (stmt,) = doc["Statement"]
    assert stmt["Effect"] == "Deny"
    return list(stmt["Condition"]["StringEquals"]["aws:SourceIdentity"])


def rule(data: dict[str, Any], rule_id: str) -> dict[str, Any]:
    return next(r for r in data["rules"] if r["id"] == rule_id)
