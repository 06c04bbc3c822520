"""Notifications link to the dashboard (issue 16 §1): a held decision's webhook message
and e-mail carry the address of its approval page under the service's public URL, and
that address opens the approval for a signed-in approver; a notify decision links to its
decision page. Real local webhook receiver and SMTP server, a real app."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi.testclient import TestClient
from tests.dashboard.uikit import sign_in
from tests.notify.conftest import Mailbox, Receiver
from tests.server.srvkit import bearer, example_request, held_request

from remit.identity.model import Role
from remit.server.app import create_app
from remit.server.config import ServerConfig
from remit.server.runtime import Runtime

PUBLIC = "https://remit.example.com"


def _wait(pred: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_webhook_and_mail_link_to_the_approval_page(
    server_config: ServerConfig, receiver: Receiver, mailbox: Mailbox
) -> None:
    notify = {
        "webhook": {"url": receiver.url()},
        "smtp": {"host": mailbox.host, "port": mailbox.port, "sender": "remit@example.com",
                 "recipients": ["oncall@example.com"]},
    }  # fmt: skip
    config = {**server_config.model_dump(), "notify": notify, "public_url": PUBLIC}
    rt = Runtime(ServerConfig.model_validate(config))
    _, agent = rt.keys.create("bot", Role.AGENT, "remediator", rt.clock(), "test-setup")
    _, approver = rt.keys.create("alice", Role.APPROVER, None, rt.clock(), "test-setup")
    try:
        with TestClient(create_app(rt)) as c:
            held = c.post("/v1/decisions", json=held_request(), headers=bearer(agent)).json()
            assert held["tier"] == "approve"
            told = c.post("/v1/decisions", json=example_request(), headers=bearer(agent)).json()
            assert told["tier"] == "notify"
            assert _wait(lambda: len(receiver.hits) >= 2 and len(mailbox.mails) >= 2)
            approval = f"{PUBLIC}/ui/approvals/{held['id']}"
            decision = f"{PUBLIC}/ui/decisions/{told['id']}"
            hooks = " ".join(str(hit.json()) for hit in receiver.hits)
            assert approval in hooks and decision in hooks
            mails = []
            for _, _, message in mailbox.mails:
                part = message.get_body(("plain",))
                assert part is not None
                mails.append(part.get_content())
            assert any(approval in m for m in mails) and any(decision in m for m in mails)
            sign_in(c, approver)
            page = c.get(approval.removeprefix(PUBLIC))
            assert page.status_code == 200
            assert held["id"] in page.text and 'action="/ui/approvals/' in page.text
    finally:
        rt.close()
