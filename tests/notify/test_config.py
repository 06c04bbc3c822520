"""Tests for the notifier's settings (`NotifySettings`) and building channels from them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from tests.notify.conftest import Recorder

from remit.notify import (
    Notifier,
    NotifySettings,
    SmtpChannel,
    WebhookChannel,
    channels_from_config,
)

HOOK = {"url": "https://hooks.slack.com/services/T0/B0/secret"}
SMTP = {
    "host": "127.0.0.1",
    "port": 8025,
    "sender": "remit@example.com",
    "recipients": ["oncall@example.com"],
}


def test_the_documented_shape_builds_both_channels() -> None:
    channels = channels_from_config({"webhook": {**HOOK, "timeout": 5}, "smtp": SMTP})
    hook, mail = channels
    assert isinstance(hook, WebhookChannel) and hook.name == "webhook"
    assert hook.endpoint == "https://hooks.slack.com"
    assert isinstance(mail, SmtpChannel) and mail.name == "smtp"
    assert (mail.host, mail.port, mail.recipients) == ("127.0.0.1", 8025, ["oncall@example.com"])


def test_lists_of_channels_get_distinct_names() -> None:
    channels = channels_from_config(
        {"webhook": [HOOK, {**HOOK, "name": "security-channel"}], "smtp": [SMTP]}
    )
    assert [c.name for c in channels] == ["webhook[0]", "security-channel", "smtp[0]"]


def test_password_can_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMIT_TEST_SMTP_PASSWORD", "from-env")
    [mail] = channels_from_config(
        {"smtp": {**SMTP, "username": "remit", "password_env": "REMIT_TEST_SMTP_PASSWORD"}}
    )
    assert isinstance(mail, SmtpChannel)
    assert "from-env" not in repr(mail)


def test_smtp_port_defaults_to_25() -> None:
    [mail] = channels_from_config({"smtp": {k: v for k, v in SMTP.items() if k != "port"}})
    assert isinstance(mail, SmtpChannel) and mail.port == 25


def test_settings_reach_the_notifier(recorder: Recorder) -> None:
    cfg = {
        "webhook": {**HOOK, "headers": {"Authorization": "Bearer 0123456789"}, "name": "slack"},
        "retry": {"max_attempts": 2, "base_delay": 0.1, "max_delay": 1, "jitter": 0},
        "queue_size": 7,
    }
    with Notifier.from_config(NotifySettings.parse(cfg), recorder) as notifier:
        [hook] = notifier.channels
        assert isinstance(hook, WebhookChannel) and hook.name == "slack"
        assert (notifier.max_attempts, notifier.base_delay, notifier.max_delay) == (2, 0.1, 1)
        assert notifier.jitter == 0 and notifier._queue.maxsize == 7


PREFIX = "notification settings are not valid: "


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({}, PREFIX + "names no channels: add a 'webhook' and/or an 'smtp' section"),
        ([], "notification settings must be a mapping, not list"),
        ({"slack": HOOK}, PREFIX + "slack: unknown setting"),
        (
            {"webhook": "https://example.com"},
            PREFIX + "webhook: must be a mapping of settings, or a list of them, not str",
        ),
        ({"webhook": []}, PREFIX + "names no channels"),
        ({"webhook": {}}, PREFIX + "webhook.url: Field required"),
        ({"webhook": {"url": ""}}, PREFIX + "webhook.url: must not be empty"),
        (
            {"webhook": {"url": "hooks.slack.com/x"}},
            PREFIX + "webhook.url: webhook url must be an absolute",
        ),
        ({"webhook": {**HOOK, "timeout": "5"}}, PREFIX + "webhook.timeout: Input should be a"),
        ({"webhook": {**HOOK, "timeout": 0}}, PREFIX + "webhook.timeout: Input should be greater"),
        ({"webhook": {**HOOK, "headers": {"X": 1}}}, PREFIX + "webhook.headers.X: Input should"),
        ({"webhook": {**HOOK, "tiemout": 5}}, PREFIX + "webhook.tiemout: unknown setting"),
        (
            {"webhook": [HOOK, {**HOOK, "tiemout": 5}]},
            PREFIX + "webhook[1].tiemout: unknown setting",
        ),
        ({"webhook": [HOOK, "x"]}, PREFIX + "webhook[1]: Input should be a valid dictionary"),
        ({"smtp": {**SMTP, "host": None}}, PREFIX + "smtp.host: Input should be a valid string"),
        ({"smtp": {**SMTP, "port": "8025"}}, PREFIX + "smtp.port: Input should be a valid integer"),
        ({"smtp": {**SMTP, "port": 70000}}, PREFIX + "smtp.port: Input should be less than"),
        ({"smtp": {**SMTP, "sender": "remit"}}, PREFIX + "smtp.sender: 'remit' is not one e-mail"),
        (
            {"smtp": {**SMTP, "recipients": "oncall@example.com"}},
            PREFIX + "smtp.recipients: must be a list of addresses, not one string",
        ),
        ({"smtp": {**SMTP, "recipients": []}}, PREFIX + "smtp.recipients: List should have at"),
        (
            {"smtp": {**SMTP, "recipients": ["oncall"]}},
            PREFIX + "smtp.recipients: recipient 'oncall' is not one e-mail",
        ),
        ({"smtp": {**SMTP, "starttls": "yes"}}, PREFIX + "smtp.starttls: Input should be a valid"),
        (
            {"smtp": {**SMTP, "username": "remit"}},
            PREFIX + "smtp: username and password (or password_env) go together",
        ),
        (
            {"smtp": {**SMTP, "username": "u", "password": "p", "password_env": "X"}},
            PREFIX + "smtp: give password or password_env, not both",
        ),
        (
            {"smtp": {**SMTP, "username": "u", "password_env": "REMIT_TEST_UNSET_VARIABLE"}},
            "notification channel smtp: password_env: environment variable "
            "REMIT_TEST_UNSET_VARIABLE is not set",
        ),
        (
            {"webhook": [HOOK, {**HOOK, "name": "webhook[0]"}]},
            PREFIX + "channel names must be unique; repeated: webhook[0]",
        ),
        ({"webhook": HOOK, "retry": {"attempts": 3}}, PREFIX + "retry.attempts: unknown setting"),
        (
            {"webhook": HOOK, "retry": {"max_attempts": 0}},
            PREFIX + "retry.max_attempts: Input should be greater than or equal to 1",
        ),
        (
            {"webhook": HOOK, "retry": {"base_delay": -1}},
            PREFIX + "retry.base_delay: Input should be greater than or equal to 0",
        ),
        (
            {"webhook": HOOK, "retry": {"base_delay": 5, "max_delay": 1}},
            PREFIX + "retry: max_delay (1) must be at least base_delay (5)",
        ),
        ({"webhook": HOOK, "retry": {"jitter": 0.5}}, PREFIX + "retry.jitter: Input should be"),
        (
            {"webhook": HOOK, "queue_size": 0},
            PREFIX + "queue_size: Input should be greater than or equal to 1",
        ),
    ],
)
def test_bad_config_is_refused_clearly(cfg: Any, message: str, recorder: Recorder) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        Notifier.from_config(cfg, recorder)
