"""Tests for building notification channels from plain configuration dicts."""

from __future__ import annotations

import re
from typing import Any

import pytest
from tests.notify.conftest import Recorder

from remit.notify import Notifier, SmtpChannel, WebhookChannel, channels_from_config

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


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({}, "names no channels: add a 'webhook' and/or an 'smtp' section"),
        ([], "must be a mapping, not list"),
        ({"slack": HOOK}, "unknown setting(s) slack"),
        ({"webhook": "https://example.com"}, "webhook must be a mapping of settings, not str"),
        ({"webhook": []}, "webhook: the list is empty"),
        ({"webhook": {}}, "webhook.url is required"),
        ({"webhook": {"url": ""}}, "webhook.url must be a non-empty string"),
        ({"webhook": {"url": "hooks.slack.com/x"}}, "webhook: webhook url must be an absolute"),
        ({"webhook": {**HOOK, "timeout": "5"}}, "webhook.timeout must be a number of seconds"),
        ({"webhook": {**HOOK, "timeout": 0}}, "webhook.timeout must be more than zero"),
        ({"webhook": {**HOOK, "headers": {"X": 1}}}, "webhook.headers must map header names"),
        ({"webhook": {**HOOK, "tiemout": 5}}, "webhook: unknown setting(s) tiemout"),
        ({"smtp": {**SMTP, "host": None}}, "smtp.host must be a non-empty string"),
        ({"smtp": {k: v for k, v in SMTP.items() if k != "port"}}, "smtp.port is required"),
        ({"smtp": {**SMTP, "port": "8025"}}, "smtp.port must be an integer from 1 to 65535"),
        ({"smtp": {**SMTP, "port": 70000}}, "smtp.port must be an integer from 1 to 65535"),
        ({"smtp": {**SMTP, "sender": "remit"}}, "smtp: smtp sender must be one e-mail address"),
        (
            {"smtp": {**SMTP, "recipients": "oncall@example.com"}},
            "smtp.recipients must be a list of addresses, not one string",
        ),
        ({"smtp": {**SMTP, "recipients": []}}, "smtp.recipients must be a non-empty list"),
        ({"smtp": {**SMTP, "recipients": ["oncall"]}}, "recipient 'oncall' is not one e-mail"),
        ({"smtp": {**SMTP, "starttls": "yes"}}, "smtp.starttls must be true or false"),
        ({"smtp": {**SMTP, "username": "remit"}}, "username and password (or password_env)"),
        (
            {"smtp": {**SMTP, "username": "u", "password": "p", "password_env": "X"}},
            "give password or password_env, not both",
        ),
        (
            {"smtp": {**SMTP, "username": "u", "password_env": "REMIT_TEST_UNSET_VARIABLE"}},
            "environment variable REMIT_TEST_UNSET_VARIABLE is not set",
        ),
        (
            {"webhook": [HOOK, {**HOOK, "name": "webhook[0]"}]},
            "channel names must be unique; repeated: webhook[0]",
        ),
        ({"webhook": HOOK, "retry": {"attempts": 3}}, "retry: unknown setting(s) attempts"),
        ({"webhook": HOOK, "retry": {"max_attempts": 0}}, "retry.max_attempts must be a whole"),
        ({"webhook": HOOK, "retry": {"base_delay": -1}}, "retry.base_delay must be zero or more"),
        ({"webhook": HOOK, "queue_size": 0}, "queue_size must be a whole number"),
    ],
)
def test_bad_config_is_refused_clearly(cfg: Any, message: str, recorder: Recorder) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Notifier.from_config(cfg, recorder)
