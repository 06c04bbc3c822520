"""The notifier's settings as one typed model, `NotifySettings`: every webhook and SMTP
server it can send to, how it retries, how much it queues. `remit serve --config` (the
`notify:` section) and `Notifier.from_config` both validate through it, so the file
accepts exactly what the notifier supports.

This module describes and checks settings; it sends nothing and builds no channel (the
dispatcher does that). A `password_env` variable is read when the channels are built
(`SmtpSettings.password_value`), not when the settings are validated.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from remit.notify.channels import is_one_address, webhook_endpoint
from remit.settings_errors import describe

# Strict: a number written as "5", a port as "25" or a flag as "yes" is refused, not guessed.
_SETTINGS = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


Text = Annotated[str, AfterValidator(_not_blank)]
"""A string with something in it besides white space."""


class WebhookSettings(BaseModel):
    """One Slack-compatible incoming webhook; each notification is POSTed to it as JSON."""

    model_config = _SETTINGS
    url: Text = Field(
        description="The webhook's absolute http:// or https:// URL. Its path is treated "
        "as a secret (for Slack it is one): errors and the ledger show only scheme, host "
        "and port."
    )
    timeout: float = Field(5.0, gt=0, description="Seconds to wait for one POST to answer.")
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Extra HTTP headers sent with every POST (e.g. Authorization). Values "
        "of 8 characters or more are hidden in recorded errors.",
    )
    name: Text | None = Field(
        None,
        description="The channel's name in the ledger's delivery records. Default "
        "`webhook`, or `webhook[i]` for the i-th entry of a list. Names must be unique.",
    )

    @field_validator("url")
    @classmethod
    def _absolute_http(cls, url: str) -> str:
        webhook_endpoint(url)
        return url


class SmtpSettings(BaseModel):
    """One SMTP server and who gets the e-mail; one connection per message."""

    model_config = _SETTINGS
    host: Text = Field(description="The SMTP server's host name or address.")
    port: int = Field(25, ge=1, le=65535, description="The SMTP server's port.")
    sender: Text = Field(description="The From address: one e-mail address.")
    recipients: list[Text] = Field(
        min_length=1, description="Who gets every notification: a list of e-mail addresses."
    )
    starttls: bool = Field(
        False,
        description="Upgrade the connection with STARTTLS, verified against the system's "
        "certificate authorities, before logging in or sending.",
    )
    username: Text | None = Field(
        None, description="Log in as this user; needs `password` or `password_env`."
    )
    password: SecretStr | None = Field(
        None,
        description="The login password, written in the file. Prefer `password_env`.",
    )
    password_env: Text | None = Field(
        None,
        description="The name of an environment variable holding the login password, "
        "read when the service starts. Give this or `password`, not both.",
    )
    timeout: float = Field(10.0, gt=0, description="Seconds to wait for the server at each step.")
    local_hostname: Text | None = Field(
        None,
        description="The name Remit gives itself in EHLO; default: this machine's fully "
        "qualified domain name.",
    )
    name: Text | None = Field(
        None,
        description="The channel's name in the ledger's delivery records. Default `smtp`, "
        "or `smtp[i]` for the i-th entry of a list. Names must be unique.",
    )

    @field_validator("sender")
    @classmethod
    def _one_sender(cls, sender: str) -> str:
        if not is_one_address(sender):
            raise ValueError(f"{sender!r} is not one e-mail address")
        return sender

    @field_validator("recipients", mode="before")
    @classmethod
    def _a_list(cls, value: object) -> object:
        if isinstance(value, str):
            raise ValueError(f"must be a list of addresses, not one string (write [{value!r}])")
        return value

    @field_validator("recipients")
    @classmethod
    def _each_one_address(cls, recipients: list[str]) -> list[str]:
        for r in recipients:
            if not is_one_address(r):
                raise ValueError(f"recipient {r!r} is not one e-mail address")
        return recipients

    @model_validator(mode="after")
    def _login(self) -> SmtpSettings:
        if self.password is not None and self.password_env is not None:
            raise ValueError("give password or password_env, not both")
        has_password = self.password is not None or self.password_env is not None
        if (self.username is None) == has_password:
            raise ValueError("username and password (or password_env) go together")
        return self

    def password_value(self) -> str | None:
        """The login password: `password`, or the `password_env` variable read now.
        Raises ValueError if that variable is not set."""
        if self.password_env is not None:
            value = os.environ.get(self.password_env)
            if value is None:
                raise ValueError(
                    f"password_env: environment variable {self.password_env} is not set"
                )
            return value
        return None if self.password is None else self.password.get_secret_value()


class RetrySettings(BaseModel):
    """How a failed delivery is tried again, per channel and notification."""

    model_config = _SETTINGS
    max_attempts: int = Field(
        5, ge=1, description="Attempts in all, the first included, before giving up."
    )
    base_delay: float = Field(
        0.5, ge=0, description="Seconds before the second attempt; doubled for each next."
    )
    max_delay: float = Field(
        30.0, ge=0, description="The longest wait between attempts, in seconds."
    )
    jitter: float = Field(
        0.2,
        ge=0,
        lt=0.5,
        description="Up to this fraction of each wait is taken off at random, so that "
        "retries of many notifications do not arrive together.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> RetrySettings:
        if self.max_delay < self.base_delay:
            raise ValueError(
                f"max_delay ({self.max_delay:g}) must be at least base_delay ({self.base_delay:g})"
            )
        return self


class NotifySettings(BaseModel):
    """Everything the notifier supports. `webhook` and `smtp` each take one entry or a
    list of entries; at least one channel is needed."""

    model_config = _SETTINGS
    webhook: list[WebhookSettings] = Field(
        default_factory=list,
        description="Slack-compatible webhooks: one mapping, or a list of them.",
    )
    smtp: list[SmtpSettings] = Field(
        default_factory=list,
        description="SMTP servers to send e-mail through: one mapping, or a list of them.",
    )
    retry: RetrySettings = Field(
        default_factory=RetrySettings, description="How failed deliveries are retried."
    )
    queue_size: int = Field(
        1000,
        ge=1,
        description="Notifications waiting for delivery at most; beyond it, a "
        "notification is recorded as not delivered (the decision is never held up).",
    )

    @field_validator("webhook", "smtp", mode="before")
    @classmethod
    def _one_or_a_list(cls, value: object, info: ValidationInfo) -> object:
        """One entry is a list of one; entries without a name get their default name."""
        kind = info.field_name or "channel"
        if isinstance(value, Mapping | BaseModel):
            return [_named(value, kind)]
        if isinstance(value, list):
            return [_named(entry, f"{kind}[{i}]") for i, entry in enumerate(value)]
        raise ValueError(
            f"must be a mapping of settings, or a list of them, not {type(value).__name__}"
        )

    @model_validator(mode="after")
    def _channels(self) -> NotifySettings:
        if not self.webhook and not self.smtp:
            raise ValueError("names no channels: add a 'webhook' and/or an 'smtp' section")
        names = self.channel_names()
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(
                f"channel names must be unique; repeated: {', '.join(repeated)} "
                "(set 'name' on each entry)"
            )
        return self

    def channels(self) -> list[WebhookSettings | SmtpSettings]:
        """Every channel's settings, webhooks first, in the order written."""
        return [*self.webhook, *self.smtp]

    def channel_names(self) -> list[str]:
        """The channels' names, in the order of `channels()`."""
        return [str(e.name) for e in self.channels()]

    @classmethod
    def parse(cls, data: object) -> NotifySettings:
        """`data` (a mapping, or settings already) as settings; raises ValueError naming
        every bad setting by its path, e.g. `webhook[1].url: …`."""
        if isinstance(data, NotifySettings):
            return data
        if not isinstance(data, Mapping):
            raise ValueError(f"notification settings must be a mapping, not {type(data).__name__}")
        data = dict(data)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = describe(exc, data)
            raise ValueError(
                "notification settings are not valid: " + "; ".join(problems)
            ) from None


def _named(entry: object, default: str) -> object:
    if isinstance(entry, Mapping) and entry.get("name") is None:
        return {**entry, "name": default}
    if isinstance(entry, WebhookSettings | SmtpSettings) and entry.name is None:
        return entry.model_copy(update={"name": default})
    return entry
