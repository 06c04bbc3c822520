"""Getting notifications out without ever holding up a decision: the `Notifier`.

`submit` only puts the notification on a bounded queue and returns; one daemon worker
thread delivers it on every channel, retrying each failed channel with exponential
backoff, and reports every attempt, successful or not, to the `record` callback (the
service writes each one to the ledger). Nothing a channel or the callback does can stop
the worker. Building the channels from `NotifySettings` lives here too
(`Notifier.from_config`); what the settings may say is `remit.notify.settings`'s job.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Final

from remit.domain.clock import Clock, utcnow
from remit.notify.channels import Channel, DeliveryError, SmtpChannel, WebhookChannel
from remit.notify.message import Notification, clean
from remit.notify.settings import NotifySettings, SmtpSettings, WebhookSettings

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
        clock: Clock = utcnow,
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
    def from_config(
        cls, cfg: NotifySettings | Mapping[str, Any], record: Record, **options: Any
    ) -> Notifier:
        """A notifier as `cfg` describes it: its channels, `retry` and `queue_size`.

        `cfg` is `NotifySettings`, or a mapping validated into them (ValueError naming
        each bad setting otherwise). Keyword `options` (e.g. `clock`, `sleep`) override
        the settings.
        """
        settings = NotifySettings.parse(cfg)
        channels = channels_from_config(settings)
        retry = settings.retry
        kwargs: dict[str, Any] = {
            "max_attempts": retry.max_attempts,
            "base_delay": retry.base_delay,
            "max_delay": retry.max_delay,
            "jitter": retry.jitter,
            "queue_size": settings.queue_size,
            **options,
        }
        return cls(channels, record, **kwargs)

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
            at = utcnow()
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


def channels_from_config(cfg: NotifySettings | Mapping[str, Any]) -> list[Channel]:
    """The channels `cfg` (settings, or a mapping validated into them) describes, webhooks
    first; raises ValueError naming the bad setting and why."""
    settings = NotifySettings.parse(cfg)
    channels: list[Channel] = []
    for entry in settings.channels():
        try:
            channels.append(_channel(entry))
        except ValueError as exc:
            raise ValueError(f"notification channel {entry.name}: {exc}") from None
    return channels


def _channel(entry: WebhookSettings | SmtpSettings) -> Channel:
    name = str(entry.name)
    if isinstance(entry, WebhookSettings):
        return WebhookChannel(entry.url, timeout=entry.timeout, headers=entry.headers, name=name)
    return SmtpChannel(
        entry.host,
        entry.port,
        entry.sender,
        entry.recipients,
        starttls=entry.starttls,
        username=entry.username,
        password=entry.password_value(),
        timeout=entry.timeout,
        name=name,
        local_hostname=entry.local_hostname,
    )
