"""Where notifications go: the `Channel` protocol and its webhook and SMTP implementations.

A channel makes exactly one delivery attempt per `send` call and either returns (delivered)
or raises `DeliveryError` with a readable reason. Retrying, queueing and recording are the
dispatcher's job. Error reasons end up in the ledger, so they never contain a webhook's
path (for Slack, the path is the secret), header values or SMTP passwords.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable
from urllib.parse import urlsplit

import httpx

from remit.notify.message import Notification, clean, email_message, slack_payload

log = logging.getLogger(__name__)

_BODY_SNIPPET = 200
# HTTP statuses worth retrying besides 5xx: timeout, too early, rate limited.
_RETRYABLE_4XX = frozenset({408, 425, 429})


class DeliveryError(Exception):
    """One delivery attempt failed; `str(error)` is the readable reason.

    `retryable` is False when trying again cannot help (the endpoint rejected the message
    or the credentials), so the dispatcher stops early instead of repeating it.
    """

    def __init__(self, reason: str, *, retryable: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


@runtime_checkable
class Channel(Protocol):
    """Something that can deliver a notification, once, or raise `DeliveryError`."""

    name: str

    def send(self, n: Notification) -> None: ...


def webhook_endpoint(url: object) -> str:
    """The scheme, host and port of a webhook `url` (safe to show: the path of a Slack
    webhook is its secret); raises ValueError unless `url` is an absolute http(s) URL."""
    if not isinstance(url, str):
        raise ValueError(f"webhook url must be a string, not {type(url).__name__}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("webhook url must be an absolute http:// or https:// URL")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("webhook url has an invalid port") from None
    return f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port else "")


def is_one_address(value: object) -> bool:
    """Whether `value` is one e-mail address, fit to go in a header as it is."""
    return isinstance(value, str) and "@" in value and clean(value) == value and "," not in value


def _positive(value: float, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{what} must be a positive number of seconds, not {value!r}")
    return float(value)


class WebhookChannel:
    """POSTs `slack_payload(n)` as JSON to a Slack-compatible incoming webhook.

    Redirects are not followed; any status outside 2xx is a failure. 5xx, 408, 425 and
    429 are worth retrying; other 4xx mean the endpoint refuses this message for good.
    """

    def __init__(
        self,
        url: str,
        timeout: float = 5.0,
        headers: Mapping[str, str] | None = None,
        *,
        name: str = "webhook",
    ) -> None:
        self.name = name
        self._url = url
        self.endpoint = webhook_endpoint(url)
        """Scheme, host and port only: safe to show and record."""
        self._timeout = _positive(timeout, "webhook timeout")
        self._headers = {"User-Agent": "remit-notify", **dict(headers or {})}

    def __repr__(self) -> str:
        return f"WebhookChannel(name={self.name!r}, endpoint={self.endpoint!r})"

    def _scrub(self, text: str) -> str:
        text = text.replace(self._url, self.endpoint)
        for value in self._headers.values():
            if len(value) >= 8:
                text = text.replace(value, "***")
        return clean(text)

    def send(self, n: Notification) -> None:
        where = f"webhook {self.endpoint}"
        try:
            response = httpx.post(
                self._url,
                json=slack_payload(n),
                headers=self._headers,
                timeout=self._timeout,
                follow_redirects=False,
            )
        except httpx.TimeoutException:
            raise DeliveryError(f"{where} timed out after {self._timeout:g} s") from None
        except httpx.HTTPError as exc:
            detail = self._scrub(str(exc)) or type(exc).__name__
            raise DeliveryError(f"{where} unreachable: {detail}") from None
        status = response.status_code
        if 200 <= status < 300:
            return
        snippet = self._scrub(response.text[:_BODY_SNIPPET])
        reason = f"{where} answered HTTP {status} {response.reason_phrase}".rstrip()
        if snippet:
            reason += f": {snippet}"
        retryable = status >= 500 or status in _RETRYABLE_4XX
        raise DeliveryError(reason, retryable=retryable)


class SmtpChannel:
    """Sends `email_message(n, ...)` through an SMTP server with the standard library.

    One connection per message: connect, optional STARTTLS (verified against the system's
    CAs), optional login, send, quit. SMTP 5xx replies and refused logins are not retried.
    """

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        recipients: Sequence[str],
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        *,
        name: str = "smtp",
        local_hostname: str | None = None,
    ) -> None:
        if not isinstance(host, str) or not host.strip():
            raise ValueError("smtp host must be a non-empty string")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"smtp port must be an integer from 1 to 65535, not {port!r}")
        if not is_one_address(sender):
            raise ValueError(f"smtp sender must be one e-mail address, not {sender!r}")
        if isinstance(recipients, str):
            raise ValueError("smtp recipients must be a list of addresses, not one string")
        recipient_list = list(recipients)
        if not recipient_list:
            raise ValueError("smtp recipients must list at least one address")
        for r in recipient_list:
            if not is_one_address(r):
                raise ValueError(f"smtp recipient {r!r} is not one e-mail address")
        if (username is None) != (password is None):
            raise ValueError("smtp username and password must be given together")
        if username is not None and not starttls and host not in ("127.0.0.1", "localhost", "::1"):
            log.warning(
                "smtp channel %r logs in to %s without STARTTLS: the password crosses the "
                "network in clear text",
                name,
                host,
            )
        self.name = name
        self.host = host
        self.port = port
        self.sender = sender
        self.recipients = recipient_list
        self.starttls = bool(starttls)
        self._username = username
        self._password = password
        self._timeout = _positive(timeout, "smtp timeout")
        self._local_hostname = local_hostname

    def __repr__(self) -> str:
        return (
            f"SmtpChannel(name={self.name!r}, host={self.host!r}, port={self.port}, "
            f"recipients={self.recipients!r})"
        )

    def send(self, n: Notification) -> None:
        where = f"smtp {self.host}:{self.port}"
        message = email_message(n, self.sender, self.recipients)
        try:
            with smtplib.SMTP(
                self.host, self.port, local_hostname=self._local_hostname, timeout=self._timeout
            ) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self._username is not None and self._password is not None:
                    smtp.login(self._username, self._password)
                refused = smtp.send_message(
                    message, from_addr=self.sender, to_addrs=self.recipients
                )
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _msg in exc.recipients.values()]
            raise DeliveryError(
                f"{where} refused every recipient: {_refusals(exc.recipients)}",
                retryable=any(code < 500 for code in codes),
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"{where} refused the login: {_reply(exc.smtp_code, exc.smtp_error)}",
                retryable=False,
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(f"{where}: {clean(str(exc))}", retryable=False) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"{where} answered {_reply(exc.smtp_code, exc.smtp_error)}",
                retryable=exc.smtp_code < 500,
            ) from None
        except smtplib.SMTPException as exc:
            raise DeliveryError(
                f"{where} failed: {clean(str(exc)) or type(exc).__name__}"
            ) from None
        except TimeoutError:
            raise DeliveryError(f"{where} timed out after {self._timeout:g} s") from None
        except ssl.SSLError as exc:
            raise DeliveryError(f"{where} TLS failed: {clean(str(exc))}") from None
        except OSError as exc:
            detail = clean(exc.strerror or str(exc)) or type(exc).__name__
            raise DeliveryError(f"{where} unreachable: {detail}") from None
        if refused:
            # Some recipients got it; retrying would send them duplicates.
            raise DeliveryError(
                f"{where} delivered, but refused {_refusals(refused)}", retryable=False
            )


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {clean(text)}".strip()


def _refusals(refused: Mapping[str, tuple[int, bytes]]) -> str:
    return ", ".join(
        f"{clean(addr)} ({_reply(code, msg)})" for addr, (code, msg) in refused.items()
    )
