"""Tests for remit.notify.channels against a real HTTP receiver and a real SMTP server."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.notify.conftest import PASSWORD, USER, Mailbox, Receiver

from remit.notify import Channel, DeliveryError, Notification, SmtpChannel, WebhookChannel


def test_channels_satisfy_the_protocol(receiver: Receiver, mailbox: Mailbox) -> None:
    assert isinstance(WebhookChannel(receiver.url()), Channel)
    assert isinstance(SmtpChannel("127.0.0.1", 25, "r@example.com", ["a@example.com"]), Channel)


def test_webhook_posts_slack_compatible_json(
    receiver: Receiver, make_notification: Callable[..., Notification]
) -> None:
    n = make_notification("approve")
    WebhookChannel(receiver.url(), headers={"X-Team": "sec"}).send(n)
    [hit] = receiver.hits
    assert hit.path == "/services/T000/B000/secret-token"
    assert hit.headers["Content-Type"] == "application/json"
    assert hit.headers["X-Team"] == "sec"
    body = hit.json()
    assert isinstance(body["text"], str) and isinstance(body["blocks"], list)
    assert body["blocks"][0]["type"] == "header"
    dumped = str(body)
    for needle in (
        "remediator",
        "iam:DetachRolePolicy",
        "APPROVE",
        "Role unused for 42 days and writes to 5 buckets",
        "RULE_MATCHED",
        *[r["message"] for r in n.decision["reasons"]],
    ):
        assert needle in dumped, needle


def test_webhook_non_2xx_names_the_status_and_hides_the_secret_path(
    receiver: Receiver, make_notification: Callable[..., Notification]
) -> None:
    receiver.script.extend([500, 404, 429])
    channel = WebhookChannel(receiver.url())
    expected = [(500, True), (404, False), (429, True)]
    for status, retryable in expected:
        with pytest.raises(DeliveryError) as caught:
            channel.send(make_notification())
        reason = str(caught.value)
        assert f"HTTP {status}" in reason and "invalid_payload" in reason
        assert reason.startswith(f"webhook http://127.0.0.1:{receiver.port} answered")
        assert "secret-token" not in reason
        assert caught.value.retryable is retryable
    assert "secret-token" not in repr(channel)


def test_webhook_unreachable_and_timeout(
    receiver: Receiver, dead_port: int, make_notification: Callable[..., Notification]
) -> None:
    with pytest.raises(DeliveryError, match="unreachable") as caught:
        WebhookChannel(f"http://127.0.0.1:{dead_port}/hooks/secret-token").send(make_notification())
    assert "secret-token" not in str(caught.value) and caught.value.retryable
    receiver.delay = 1.0
    with pytest.raises(DeliveryError, match=r"timed out after 0\.2 s"):
        WebhookChannel(receiver.url(), timeout=0.2).send(make_notification())


def test_webhook_rejects_bad_urls() -> None:
    with pytest.raises(ValueError, match="absolute http"):
        WebhookChannel("ftp://example.com/x")
    with pytest.raises(ValueError, match="absolute http"):
        WebhookChannel("/relative")
    with pytest.raises(ValueError, match="positive number"):
        WebhookChannel("https://example.com/x", timeout=0)


def test_smtp_delivers_to_every_recipient(
    mailbox: Mailbox, make_notification: Callable[..., Notification]
) -> None:
    n = make_notification("approve")
    channel = SmtpChannel(
        mailbox.host,
        mailbox.port,
        "remit@example.com",
        ["oncall@example.com", "sec@example.com"],
        local_hostname="remit.test",
    )
    channel.send(n)
    [(mail_from, rcpt_tos, message)] = mailbox.mails
    assert mail_from == "remit@example.com"
    assert rcpt_tos == ["oncall@example.com", "sec@example.com"]
    assert message["Subject"] == (
        "[Remit] APPROVE needed: remediator wants iam:DetachRolePolicy on 1 resource"
    )
    assert message["To"] == "oncall@example.com, sec@example.com"
    assert message["X-Remit-Notification"] == n.id
    body = message.get_content()
    assert "Role unused for 42 days and writes to 5 buckets" in body
    assert "Review and approve: https://remit.example/approvals/apr_1" in body
    assert "[SEVERITY_FLOOR]" in body


def test_smtp_unreachable(dead_port: int, make_notification: Callable[..., Notification]) -> None:
    channel = SmtpChannel(
        "127.0.0.1", dead_port, "remit@example.com", ["a@example.com"], password=None
    )
    with pytest.raises(DeliveryError, match=f"smtp 127.0.0.1:{dead_port} unreachable"):
        channel.send(make_notification())


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_smtp_logs_in(
    auth_mailbox: Mailbox, make_notification: Callable[..., Notification]
) -> None:
    def channel(password: str) -> SmtpChannel:
        return SmtpChannel(
            auth_mailbox.host,
            auth_mailbox.port,
            "remit@example.com",
            ["a@example.com"],
            username=USER,
            password=password,
        )

    with pytest.raises(DeliveryError, match="refused the login: 535") as caught:
        channel("wrong-password").send(make_notification())
    assert caught.value.retryable is False and "wrong-password" not in str(caught.value)
    assert auth_mailbox.mails == []
    channel(PASSWORD).send(make_notification())
    assert len(auth_mailbox.mails) == 1


def test_smtp_without_auth_or_starttls_support_is_not_retried(
    mailbox: Mailbox, make_notification: Callable[..., Notification]
) -> None:
    # aiosmtpd offers no AUTH here, so logging in must fail, readably and for good
    channel = SmtpChannel(
        mailbox.host,
        mailbox.port,
        "remit@example.com",
        ["a@example.com"],
        username="remit",
        password="hunter2-password",
    )
    with pytest.raises(DeliveryError, match="SMTP AUTH extension not supported") as caught:
        channel.send(make_notification())
    assert "hunter2" not in str(caught.value)
    assert caught.value.retryable is False
    tls = SmtpChannel(
        mailbox.host, mailbox.port, "remit@example.com", ["a@example.com"], starttls=True
    )
    with pytest.raises(DeliveryError, match="STARTTLS extension not supported") as caught:
        tls.send(make_notification())
    assert caught.value.retryable is False
    assert mailbox.mails == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"host": ""}, "host must be a non-empty string"),
        ({"port": 0}, "port must be an integer from 1 to 65535"),
        ({"port": True}, "port must be an integer"),
        ({"sender": "remit"}, "sender must be one e-mail address"),
        ({"recipients": "a@example.com"}, "list of addresses, not one string"),
        ({"recipients": []}, "at least one address"),
        ({"recipients": ["a@example.com\r\nb"]}, "is not one e-mail address"),
        ({"username": "u"}, "username and password must be given together"),
    ],
)
def test_smtp_rejects_bad_settings(kwargs: dict[str, object], message: str) -> None:
    settings: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 25,
        "sender": "remit@example.com",
        "recipients": ["a@example.com"],
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        SmtpChannel(**settings)  # type: ignore[arg-type]
