"""Getting notifications out without ever holding up a decision: the `Notifier`.

`submit` only puts the notification on a bounded queue and returns; one daemon worker
thread delivers it on every channel, retrying each failed channel with exponential
backoff, and reports every attempt, successful or not, to the `record` callback (the
service writes each one to the ledger). Nothing a channel or the callback does can stop
the worker. Building channels from configuration lives here too (`Notifier.from_config`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Final

from remit.notify.channels import Channel, DeliveryError, SmtpChannel, WebhookChannel
from remit.notify.message import Notification, clean

log = logging.getLogger(__name__)

Record = Callable[["DeliveryResult"], None]

QUEUE_FULL: Final = "queue full"
CLOSED: Final = "notifier closed before delivery"
_ERROR_MAX: Final = 1000


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome of one delivery attempt of one notification on one channel.

    `attempt` counts from 1; it is 0 when the notification never reached the channel
    (queue full, or the notifier was closed). `final` is True when no further attempt
    will follow for this notification on this channel: it was delivered, the attempts
    ran out, the error was not worth retrying, or the notifier shut down.
    """

    notification_id: str
    channel: str
    attempt: int
    ok: bool
    error: str | None
    at: datetime
    final: bool = True

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (for the ledger)."""
        return {
            "notification_id": self.notification_id,
            "channel": self.channel,
            "attempt": self.attempt,
            "ok": self.ok,
            "error": self.error,
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "final": self.final,
        }


def _utc_now() -> datetime:
    return datetime.now(UTC)


class _Stop:
    """Queue marker: everything before it is delivered, then the worker ends."""


_STOP: Final = _Stop()


class Notifier:
    """Delivers notifications on a set of channels in the background.

    `max_attempts` is per channel and notification. Before attempt k+1 the worker waits
    `min(max_delay, base_delay * 2**(k-1))`, less up to `jitter` of it at random, so waits
    grow strictly until they reach `max_delay`. `clock` stamps results; `sleep` waits
    (inject both in tests). Channels are tried in turn on each round, so one failing or
    slow channel delays, but never prevents, delivery on the others.
    """

    def __init__(
        self,
        channels: Sequence[Channel],
        record: Record,
        *,
        max_attempts: int = 5,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        jitter: float = 0.2,
        queue_size: int = 1000,
        clock: Callable[[], datetime] = _utc_now,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        channel_list = list(channels)
        if not channel_list:
            raise ValueError("a notifier needs at least one channel")
        names = [c.name for c in channel_list]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"channel names must be unique; repeated: {', '.join(duplicates)}")
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise ValueError(f"max_attempts must be an integer of at least 1, not {max_attempts!r}")
        if not base_delay >= 0:
            raise ValueError(f"base_delay must be zero or more seconds, not {base_delay!r}")
        if not max_delay >= base_delay:
            raise ValueError(
                f"max_delay ({max_delay!r}) must be at least base_delay ({base_delay!r})"
            )
        if not 0 <= jitter < 0.5:
            raise ValueError(
                f"jitter must be a fraction from 0 up to (not including) 0.5, not {jitter!r}"
            )
        if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
            raise ValueError(f"queue_size must be an integer of at least 1, not {queue_size!r}")
        self.channels: tuple[Channel, ...] = tuple(channel_list)
        self.max_attempts = max_attempts
        self.base_delay = float(base_delay)
        self.max_delay = float(max_delay)
        self.jitter = float(jitter)
        self._record = record
        self._clock = clock
        self._abandon = threading.Event()
        self._sleep: Callable[[float], None] = sleep if sleep is not None else self._wait
        self._queue: queue.Queue[Notification | _Stop] = queue.Queue(maxsize=queue_size)
        self._lock = threading.Lock()
        self._closed = False
        self._worker = threading.Thread(target=self._run, name="remit-notifier", daemon=True)
        self._worker.start()

    # --- building from configuration ------------------------------------------------------

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], record: Record, **options: Any) -> Notifier:
        """A notifier for the channels `cfg` describes (see `channels_from_config`).

        `cfg` may also carry `retry: {max_attempts, base_delay, max_delay}` and
        `queue_size`; keyword `options` (e.g. `clock`, `sleep`) override them.
        """
        channels = channels_from_config(cfg)
        settings: dict[str, Any] = {}
        retry = cfg.get("retry")
        if retry is not None:
            retry_map = _section(retry, "retry")
            _reject_unknown(retry_map, {"max_attempts", "base_delay", "max_delay"}, "retry")
            for key in ("base_delay", "max_delay"):
                if key in retry_map:
                    settings[key] = _number(retry_map[key], f"retry.{key}", allow_zero=True)
            if "max_attempts" in retry_map:
                settings["max_attempts"] = _integer(retry_map["max_attempts"], "retry.max_attempts")
        if "queue_size" in cfg:
            settings["queue_size"] = _integer(cfg["queue_size"], "queue_size")
        settings.update(options)
        return cls(channels, record, **settings)

    # --- the public surface ---------------------------------------------------------------

    def submit(self, n: Notification) -> None:
        """Queue `n` for delivery and return at once; never raises for delivery problems.

        If the queue is full (or the notifier is closed) a failed result is recorded for
        every channel instead, so the ledger still shows that nobody was told.
        """
        with self._lock:
            if self._closed:
                error: str | None = CLOSED
            else:
                try:
                    self._queue.put_nowait(n)
                    error = None
                except queue.Full:
                    error = QUEUE_FULL
        if error is not None:
            log.error("notification %s not delivered: %s", n.id, error)
            for channel in self.channels:
                self._emit(n, channel, 0, error, final=True)

    def close(self, timeout: float = 5.0) -> bool:
        """Deliver what is queued, then stop; give up after `timeout` seconds.

        Returns True if everything queued was handled (delivered or finally failed). On
        giving up, pending retries are abandoned and queued notifications are recorded as
        not delivered by the worker as it winds down. Later `submit`s record failures.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        with self._lock:
            self._closed = True
        with contextlib.suppress(queue.Full):
            self._queue.put(_STOP, timeout=max(0.0, timeout))
        self._worker.join(max(0.0, deadline - time.monotonic()))
        if not self._worker.is_alive():
            return True
        log.warning("notifier did not drain within %.1f s; abandoning pending deliveries", timeout)
        self._abandon.set()
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(_STOP)
        return False

    def __enter__(self) -> Notifier:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def pending(self) -> int:
        """Roughly how many notifications wait in the queue."""
        return self._queue.qsize()

    # --- the worker -----------------------------------------------------------------------

    def delay_before(self, attempt: int) -> float:
        """How long to wait before `attempt` (2, 3, …), jitter included."""
        exponent = min(max(attempt - 2, 0), 62)
        delay = min(self.max_delay, self.base_delay * (2.0**exponent))
        return delay * (1.0 - self.jitter * random.random())  # noqa: S311 (not crypto)

    def _wait(self, seconds: float) -> None:
        self._abandon.wait(seconds)

    def _run(self) -> None:
        while True:
            if self._abandon.is_set():
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    return
            else:
                item = self._queue.get()
            if isinstance(item, _Stop):
                return
            try:
                if self._abandon.is_set():
                    for channel in self.channels:
                        self._emit(item, channel, 0, CLOSED, final=True)
                else:
                    self._deliver(item)
            except Exception:  # the worker must survive anything
                log.exception("notifier worker failed on notification %s", item.id)

    def _deliver(self, n: Notification) -> None:
        pending: list[Channel] = list(self.channels)
        attempt = 1
        while True:
            retry: list[Channel] = []
            for channel in pending:
                error, retryable = self._attempt(channel, n)
                final = error is None or not retryable or attempt >= self.max_attempts
                self._emit(n, channel, attempt, error, final=final)
                if not final:
                    retry.append(channel)
            if not retry:
                return
            attempt += 1
            try:
                self._sleep(self.delay_before(attempt))
            except Exception:
                log.exception("notifier sleep failed; retrying at once")
            if self._abandon.is_set():
                for channel in retry:
                    self._emit(n, channel, attempt, f"{CLOSED} (retry abandoned)", final=True)
                return
            pending = retry

    def _attempt(self, channel: Channel, n: Notification) -> tuple[str | None, bool]:
        """(error or None, whether retrying may help) for one send."""
        try:
            channel.send(n)
        except DeliveryError as exc:
            return _bounded(str(exc)) or "delivery failed", exc.retryable
        except Exception as exc:
            log.exception("channel %s raised unexpectedly", channel.name)
            return _bounded(f"unexpected {type(exc).__name__}: {exc}"), True
        return None, True

    def _emit(
        self, n: Notification, channel: Channel, attempt: int, error: str | None, *, final: bool
    ) -> None:
        try:
            at = self._clock()
        except Exception:
            log.exception("notifier clock failed; using the system clock")
            at = _utc_now()
        result = DeliveryResult(n.id, channel.name, attempt, error is None, error, at, final)
        if error is not None:
            log.warning(
                "notification %s on %s, attempt %d failed%s: %s",
                n.id,
                channel.name,
                attempt,
                "" if final else " (will retry)",
                error,
            )
        try:
            self._record(result)
        except Exception:
            log.exception("recording delivery result %r failed", result)


def _bounded(text: str) -> str:
    text = clean(text)
    return text if len(text) <= _ERROR_MAX else text[: _ERROR_MAX - 1] + "…"


# --- configuration ------------------------------------------------------------------------

_WEBHOOK_KEYS: Final = frozenset({"url", "timeout", "headers", "name"})
_SMTP_KEYS: Final = frozenset(
    {
        "host",
        "port",
        "sender",
        "recipients",
        "starttls",
        "username",
        "password",
        "password_env",
        "timeout",
        "name",
    }
)
_TOP_KEYS: Final = frozenset({"webhook", "smtp", "retry", "queue_size"})


def channels_from_config(cfg: Mapping[str, Any]) -> list[Channel]:
    """Channels from a plain dict; raises ValueError naming the bad key and why.

    Shape: `{"webhook": {"url", "timeout"?, "headers"?, "name"?},
    "smtp": {"host", "port", "sender", "recipients", "starttls"?, "username"?,
    "password"? | "password_env"?, "timeout"?, "name"?}}`. Each of `webhook` and `smtp`
    may also be a list of such dicts (give each its own `name`). At least one channel.
    """
    if not isinstance(cfg, Mapping):
        raise ValueError(f"notification config must be a mapping, not {type(cfg).__name__}")
    _reject_unknown(cfg, _TOP_KEYS, "notification config")
    channels: list[Channel] = []
    for index, entry in _entries(cfg.get("webhook"), "webhook"):
        channels.append(_webhook(entry, index))
    for index, entry in _entries(cfg.get("smtp"), "smtp"):
        channels.append(_smtp(entry, index))
    if not channels:
        raise ValueError(
            "notification config names no channels: add a 'webhook' and/or an 'smtp' section"
        )
    names = [c.name for c in channels]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(
            f"notification channel names must be unique; repeated: {', '.join(repeated)} "
            "(set 'name' on each entry)"
        )
    return channels


def _entries(value: object, kind: str) -> Iterable[tuple[str, Mapping[str, Any]]]:
    if value is None:
        return []
    if isinstance(value, list):
        if not value:
            raise ValueError(f"{kind}: the list is empty; remove it or add an entry")
        return [(f"{kind}[{i}]", _section(v, f"{kind}[{i}]")) for i, v in enumerate(value)]
    return [(kind, _section(value, kind))]


def _section(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must be a mapping of settings, not {type(value).__name__}")
    return value


def _reject_unknown(
    section: Mapping[str, Any], known: frozenset[str] | set[str], where: str
) -> None:
    unknown = sorted(str(k) for k in section if k not in known)
    if unknown:
        raise ValueError(
            f"{where}: unknown setting(s) {', '.join(unknown)}; expected {', '.join(sorted(known))}"
        )


def _string(section: Mapping[str, Any], key: str, where: str) -> str:
    if key not in section:
        raise ValueError(f"{where}.{key} is required")
    value = section[key]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}.{key} must be a non-empty string, not {value!r}")
    return value


def _number(value: object, where: str, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where} must be a number of seconds, not {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{where} must be {'zero or more' if allow_zero else 'more than zero'}")
    return float(value)


def _integer(value: object, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{where} must be a whole number of at least 1, not {value!r}")
    return value


def _webhook(entry: Mapping[str, Any], where: str) -> WebhookChannel:
    _reject_unknown(entry, _WEBHOOK_KEYS, where)
    url = _string(entry, "url", where)
    timeout = _number(entry.get("timeout", 5.0), f"{where}.timeout")
    headers = entry.get("headers") or {}
    if not isinstance(headers, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise ValueError(f"{where}.headers must map header names to string values")
    name = _string(entry, "name", where) if "name" in entry else where
    try:
        return WebhookChannel(url, timeout=timeout, headers=dict(headers), name=name)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _smtp(entry: Mapping[str, Any], where: str) -> SmtpChannel:
    _reject_unknown(entry, _SMTP_KEYS, where)
    host = _string(entry, "host", where)
    if "port" not in entry:
        raise ValueError(f"{where}.port is required")
    port = entry["port"]
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"{where}.port must be an integer from 1 to 65535, not {port!r}")
    sender = _string(entry, "sender", where)
    if "recipients" not in entry:
        raise ValueError(f"{where}.recipients is required")
    recipients = entry["recipients"]
    if isinstance(recipients, str):
        raise ValueError(
            f"{where}.recipients must be a list of addresses, not one string "
            f"(write [{recipients!r}])"
        )
    if not isinstance(recipients, list) or not recipients:
        raise ValueError(f"{where}.recipients must be a non-empty list of addresses")
    starttls = entry.get("starttls", False)
    if not isinstance(starttls, bool):
        raise ValueError(f"{where}.starttls must be true or false, not {starttls!r}")
    username = entry.get("username")
    if username is not None and (not isinstance(username, str) or not username):
        raise ValueError(f"{where}.username must be a non-empty string")
    if "password" in entry and "password_env" in entry:
        raise ValueError(f"{where}: give password or password_env, not both")
    password = entry.get("password")
    if "password_env" in entry:
        variable = _string(entry, "password_env", where)
        password = os.environ.get(variable)
        if password is None:
            raise ValueError(f"{where}.password_env: environment variable {variable} is not set")
    if password is not None and not isinstance(password, str):
        raise ValueError(f"{where}.password must be a string")
    if (username is None) != (password is None):
        raise ValueError(f"{where}: username and password (or password_env) go together")
    timeout = _number(entry.get("timeout", 10.0), f"{where}.timeout")
    name = _string(entry, "name", where) if "name" in entry else where
    try:
        return SmtpChannel(
            host,
            port,
            sender,
            recipients,
            starttls=starttls,
            username=username,
            password=password,
            timeout=timeout,
            name=name,
        )
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
