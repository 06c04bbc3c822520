"""Telling humans about decisions: render a `Notification`, deliver it on channels, record it.

`settings` is the one model of what the notifier can be told to do, `message` renders
(Slack blocks, e-mail), `channels` sends once (webhook, SMTP) and `dispatcher` queues,
retries and reports every attempt without blocking the decision.
"""

from remit.notify.channels import Channel, DeliveryError, SmtpChannel, WebhookChannel
from remit.notify.dispatcher import (
    CLOSED,
    QUEUE_FULL,
    DeliveryResult,
    Notifier,
    channels_from_config,
)
from remit.notify.message import (
    Notification,
    NotificationKind,
    email_body,
    email_message,
    headline,
    slack_payload,
)
from remit.notify.settings import (
    NotifySettings,
    RetrySettings,
    SmtpSettings,
    WebhookSettings,
)

__all__ = [
    "CLOSED",
    "QUEUE_FULL",
    "Channel",
    "DeliveryError",
    "DeliveryResult",
    "Notification",
    "NotificationKind",
    "Notifier",
    "NotifySettings",
    "RetrySettings",
    "SmtpChannel",
    "SmtpSettings",
    "WebhookChannel",
    "WebhookSettings",
    "channels_from_config",
    "email_body",
    "email_message",
    "headline",
    "slack_payload",
]
