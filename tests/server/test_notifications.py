"""Notifications from the running service (issue 4 §4): a notify or approve decision is
sent to the configured channels — a real local HTTP receiver (Slack-compatible webhook)
and a real local SMTP server — without blocking the decision, and every delivery attempt
is a ledger entry; a dead channel is retried and recorded, and decisions still answer."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from tests.notify.conftest import Mailbox, Receiver
from tests.server.srvkit import example_request

from remit.aws.moto_server import free_port
from remit.identity.model import Role
from remit.server.app import create_app
from remit.server.config import ServerConfig
from remit.server.runtime import Runtime


def _runtime(server_config: ServerConfig, notify: dict[str, Any]) -> Runtime:
    return Runtime(ServerConfig.model_validate({**server_config.model_dump(), "notify": notify}))


def _entries(rt: Runtime, kind: str) -> list[dict[str, Any]]:
    return [e.document() for e in rt.store.entries() if e.kind == kind]


def _wait(pred: Any, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_notify_and_approve_reach_the_webhook_and_mail(
    server_config: ServerConfig, receiver: Receiver, mailbox: Mailbox
) -> None:
    notify = {
        "webhook": {"url": receiver.url()},
        "smtp": {"host": mailbox.host, "port": mailbox.port, "sender": "remit@example.com",
                 "recipients": ["oncall@example.com"]},
    }  # fmt: skip
    rt = _runtime(server_config, notify)
    _, key = rt.keys.create("bot", Role.AGENT, "remediator", rt.clock(), "test-setup")
    try:
        with TestClient(create_app(rt)) as c:
            headers = {"Authorization": f"Bearer {key}"}
            d = c.post("/v1/decisions", json=example_request(), headers=headers).json()
            assert d["tier"] == "notify"
            held = example_request()
            held["reasoning"]["confidence"] = 0.5
            h = c.post("/v1/decisions", json=held, headers=headers).json()
            assert h["tier"] == "approve"
            assert _wait(lambda: len(receiver.hits) >= 2 and len(mailbox.mails) >= 2)
            bodies = [hit.json() for hit in receiver.hits]
            texts = " ".join(str(b) for b in bodies)
            assert all("text" in b and "blocks" in b for b in bodies)  # Slack-compatible
            assert "iam:DetachRolePolicy" in texts and "remediator" in texts
            assert "SEVERITY_FLOOR" in texts and "CONFIDENCE_TOO_LOW" in texts
            subjects = sorted(str(m["Subject"]) for _, _, m in mailbox.mails)
            assert any("APPROVE" in s for s in subjects) and any("NOTIFY" in s for s in subjects)
            assert all(rcpt == ["oncall@example.com"] for _, rcpt, _ in mailbox.mails)
            assert _wait(lambda: len(_entries(rt, "notification")) >= 4)
            delivered = _entries(rt, "notification")
            assert {n["data"]["channel"] for n in delivered} == {"webhook", "smtp"}
            assert all(n["data"]["ok"] for n in delivered)
            assert {n["data"]["notification_id"] for n in delivered} == {
                f"ntf_{d['id']}",
                f"ntf_{h['id']}",
            }
    finally:
        rt.close()


def test_a_dead_channel_never_blocks_or_fails_a_decision(
    server_config: ServerConfig, tmp_path: Path
) -> None:
    port = free_port()  # nothing listens there
    notify = {"webhook": {"url": f"http://127.0.0.1:{port}/hook", "timeout": 1}}
    rt = _runtime(server_config, notify)
    _, key = rt.keys.create("bot", Role.AGENT, "remediator", rt.clock(), "test-setup")
    try:
        with TestClient(create_app(rt)) as c:
            started = time.monotonic()
            d = c.post(
                "/v1/decisions", json=example_request(), headers={"Authorization": f"Bearer {key}"}
            ).json()
            assert time.monotonic() - started < 2.0
            assert d["tier"] == "notify" and d["status"] == "allowed" and d["recorded"]
            # the failed attempt is recorded (and will be retried with backoff)
            assert _wait(lambda: bool(_entries(rt, "notification")))
            first = _entries(rt, "notification")[0]["data"]
            assert first["ok"] is False and first["attempt"] == 1 and first["error"]
    finally:
        rt.close()
