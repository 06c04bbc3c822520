"""Tests for remit.notify.dispatcher: queueing, retries, recording, isolation, shutdown.

Deliveries go to a real HTTP receiver and a real SMTP server; only `sleep` is replaced
(by one that records the delays), so the backoff is checked without waiting for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from tests.notify.conftest import Mailbox, Receiver, Recorder, Sleeps

from remit.notify import (
    CLOSED,
    QUEUE_FULL,
    DeliveryResult,
    Notification,
    Notifier,
    SmtpChannel,
    WebhookChannel,
)

FIXED = datetime(2026, 11, 21, 12, 0, 5, tzinfo=UTC)


def smtp(box: Mailbox | None = None, port: int | None = None) -> SmtpChannel:
    return SmtpChannel(
        "127.0.0.1",
        port if port is not None else box.port if box else 25,
        "remit@example.com",
        ["oncall@example.com"],
        timeout=2.0,
        local_hostname="remit.test",
    )


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def timed_submit(notifier: Notifier, n: Notification) -> float:
    start = time.perf_counter()
    notifier.submit(n)
    return time.perf_counter() - start


def test_500_twice_then_200_records_three_attempts_with_growing_delays(
    receiver: Receiver,
    recorder: Recorder,
    sleeps: Sleeps,
    make_notification: Callable[..., Notification],
) -> None:
    receiver.script.extend([500, 500])
    notifier = Notifier(
        [WebhookChannel(receiver.url())], recorder, sleep=sleeps, clock=lambda: FIXED
    )
    n = make_notification()
    notifier.submit(n)
    assert notifier.close(timeout=5)

    assert [(r.attempt, r.ok, r.final) for r in recorder.results] == [
        (1, False, False),
        (2, False, False),
        (3, True, True),
    ]
    assert all(r.notification_id == n.id and r.channel == "webhook" for r in recorder.results)
    assert all(r.at == FIXED for r in recorder.results)
    assert "HTTP 500" in (recorder.results[0].error or "")
    assert recorder.results[2].error is None
    assert len(receiver.hits) == 3
    assert len(sleeps.delays) == 2
    first, second = sleeps.delays
    assert 0.4 <= first <= 0.5 and 0.8 <= second <= 1.0 and second > first


def test_dead_endpoint_records_every_attempt_and_submit_does_not_wait(
    dead_port: int,
    recorder: Recorder,
    sleeps: Sleeps,
    make_notification: Callable[..., Notification],
) -> None:
    url = f"http://127.0.0.1:{dead_port}/hooks/secret-token"
    notifier = Notifier([WebhookChannel(url)], recorder, max_attempts=4, sleep=sleeps)
    assert timed_submit(notifier, make_notification()) < 0.1
    assert notifier.close(timeout=5)

    assert [r.attempt for r in recorder.results] == [1, 2, 3, 4]
    assert not any(r.ok for r in recorder.results)
    assert [r.final for r in recorder.results] == [False, False, False, True]
    assert all("unreachable" in (r.error or "") for r in recorder.results)
    assert all("secret-token" not in (r.error or "") for r in recorder.results)
    assert len(sleeps.delays) == 3
    assert sleeps.delays == sorted(sleeps.delays) and len(set(sleeps.delays)) == 3


def test_submit_returns_at_once_while_the_channel_is_slow(
    receiver: Receiver, recorder: Recorder, make_notification: Callable[..., Notification]
) -> None:
    receiver.delay = 2.0
    notifier = Notifier([WebhookChannel(receiver.url(), timeout=5.0)], recorder)
    durations = [timed_submit(notifier, make_notification()) for _ in range(3)]
    receiver.arrived.wait(2)
    durations.append(timed_submit(notifier, make_notification()))  # worker now mid-request
    assert max(durations) < 0.1, durations
    assert recorder.results == []  # nothing delivered yet: the receiver is still sleeping
    receiver.delay = 0.0
    assert notifier.close(timeout=5)
    assert [r.ok for r in recorder.results] == [True] * 4


def test_a_failing_channel_does_not_stop_the_others(
    dead_port: int,
    mailbox: Mailbox,
    receiver: Receiver,
    recorder: Recorder,
    sleeps: Sleeps,
    make_notification: Callable[..., Notification],
) -> None:
    dead_hook = WebhookChannel(f"http://127.0.0.1:{dead_port}/x", name="dead-hook")
    dead_smtp = SmtpChannel(
        "127.0.0.1", dead_port, "remit@example.com", ["a@example.com"], name="dead-smtp"
    )
    notifier = Notifier(
        [dead_hook, smtp(mailbox), dead_smtp, WebhookChannel(receiver.url())],
        recorder,
        max_attempts=3,
        sleep=sleeps,
    )
    n = make_notification()
    notifier.submit(n)
    assert notifier.close(timeout=5)

    assert [(r.attempt, r.ok) for r in recorder.on("smtp")] == [(1, True)]
    assert [(r.attempt, r.ok) for r in recorder.on("webhook")] == [(1, True)]
    assert [(r.attempt, r.ok) for r in recorder.on("dead-hook")] == [
        (1, False),
        (2, False),
        (3, False),
    ]
    assert [(r.attempt, r.ok) for r in recorder.on("dead-smtp")] == [
        (1, False),
        (2, False),
        (3, False),
    ]
    assert len(mailbox.mails) == 1 and len(receiver.hits) == 1
    # the good channels were recorded before any retry of the bad ones
    order = [(r.channel, r.attempt) for r in recorder.results]
    assert order.index(("smtp", 1)) < order.index(("dead-hook", 2))
    assert order.index(("webhook", 1)) < order.index(("dead-hook", 2))


class Broken:
    """A channel that does not follow the contract: it raises something other than DeliveryError."""

    name = "broken"

    def send(self, n: Notification) -> None:
        raise RuntimeError("boom")


def test_a_channel_raising_anything_is_recorded_not_fatal(
    receiver: Receiver,
    recorder: Recorder,
    sleeps: Sleeps,
    make_notification: Callable[..., Notification],
) -> None:
    notifier = Notifier(
        [Broken(), WebhookChannel(receiver.url())], recorder, max_attempts=2, sleep=sleeps
    )
    notifier.submit(make_notification())
    notifier.submit(make_notification())
    assert notifier.close(timeout=5)
    broken = recorder.on("broken")
    assert len(broken) == 4 and not any(r.ok for r in broken)
    assert broken[0].error == "unexpected RuntimeError: boom"
    assert [r.ok for r in recorder.on("webhook")] == [True, True]


def test_a_record_callback_that_raises_does_not_kill_the_worker(
    receiver: Receiver,
    make_notification: Callable[..., Notification],
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[DeliveryResult] = []

    def record(result: DeliveryResult) -> None:
        seen.append(result)
        if len(seen) == 1:
            raise OSError("ledger unavailable")

    notifier = Notifier([WebhookChannel(receiver.url())], record)
    first, second = make_notification(), make_notification()
    with caplog.at_level(logging.ERROR, logger="remit.notify"):
        notifier.submit(first)
        notifier.submit(second)
        assert notifier.close(timeout=5)
    assert [(r.notification_id, r.ok) for r in seen] == [(first.id, True), (second.id, True)]
    assert len(receiver.hits) == 2
    assert any("recording delivery result" in m for m in caplog.messages)


def test_a_full_queue_records_queue_full_instead_of_blocking(
    receiver: Receiver, recorder: Recorder, make_notification: Callable[..., Notification]
) -> None:
    receiver.gate = threading.Event()
    notifier = Notifier([WebhookChannel(receiver.url())], recorder, queue_size=1)
    busy, queued, dropped = make_notification(), make_notification(), make_notification()
    notifier.submit(busy)
    assert receiver.arrived.wait(5)  # the worker is inside the HTTP request now
    notifier.submit(queued)
    assert timed_submit(notifier, dropped) < 0.1

    [result] = recorder.results  # recorded synchronously, before submit returned
    assert (result.notification_id, result.channel, result.attempt) == (dropped.id, "webhook", 0)
    assert (result.ok, result.error, result.final) == (False, QUEUE_FULL, True)

    receiver.gate.set()
    assert notifier.close(timeout=5)
    delivered = [r.notification_id for r in recorder.results if r.ok]
    assert delivered == [busy.id, queued.id]


def test_close_gives_up_and_records_what_was_abandoned(
    receiver: Receiver,
    recorder: Recorder,
    make_notification: Callable[..., Notification],
) -> None:
    receiver.gate = threading.Event()
    notifier = Notifier([WebhookChannel(receiver.url(), timeout=5.0)], recorder)
    stuck, waiting = make_notification(), make_notification()
    notifier.submit(stuck)
    notifier.submit(waiting)
    assert receiver.arrived.wait(5)

    start = time.perf_counter()
    assert notifier.close(timeout=0.2) is False
    assert time.perf_counter() - start < 0.5

    late = make_notification()
    notifier.submit(late)  # after close: recorded as not delivered, never queued
    assert [(r.notification_id, r.error) for r in recorder.results] == [(late.id, CLOSED)]

    receiver.gate.set()  # the stuck request completes; the queue is then written off
    wait_for(lambda: any(r.notification_id == waiting.id for r in recorder.results))
    by_id = {r.notification_id: r for r in recorder.results}
    assert by_id[stuck.id].ok
    assert (by_id[waiting.id].ok, by_id[waiting.id].error) == (False, CLOSED)
    assert len(receiver.hits) == 1


def test_close_without_injected_sleep_cuts_backoff_short(
    dead_port: int, recorder: Recorder, make_notification: Callable[..., Notification]
) -> None:
    notifier = Notifier(
        [WebhookChannel(f"http://127.0.0.1:{dead_port}/x")],
        recorder,
        base_delay=30.0,
        max_delay=30.0,
    )
    notifier.submit(make_notification())
    wait_for(lambda: len(recorder.results) == 1)  # first attempt failed; now in a 30 s wait
    start = time.perf_counter()
    assert notifier.close(timeout=0.2) is False
    wait_for(lambda: len(recorder.results) == 2, timeout=2)
    assert time.perf_counter() - start < 1.0
    last = recorder.results[-1]
    assert (last.attempt, last.ok, last.final) == (2, False, True)
    assert last.error is not None and last.error.startswith(CLOSED)


def test_non_retryable_errors_stop_early(
    receiver: Receiver,
    recorder: Recorder,
    sleeps: Sleeps,
    make_notification: Callable[..., Notification],
) -> None:
    receiver.script.append(404)
    notifier = Notifier([WebhookChannel(receiver.url())], recorder, sleep=sleeps)
    notifier.submit(make_notification())
    assert notifier.close(timeout=5)
    [result] = recorder.results
    assert (result.attempt, result.ok, result.final) == (1, False, True)
    assert "HTTP 404" in (result.error or "")
    assert sleeps.delays == []


def test_backoff_doubles_up_to_the_cap(receiver: Receiver, recorder: Recorder) -> None:
    notifier = Notifier(
        [WebhookChannel(receiver.url())],
        recorder,
        max_attempts=6,
        base_delay=1.0,
        max_delay=3.0,
        jitter=0.0,
    )
    try:
        assert [notifier.delay_before(k) for k in range(2, 7)] == [1.0, 2.0, 3.0, 3.0, 3.0]
    finally:
        assert notifier.close()


def test_notifier_rejects_bad_arguments(receiver: Receiver, recorder: Recorder) -> None:
    hook = WebhookChannel(receiver.url())
    with pytest.raises(ValueError, match="at least one channel"):
        Notifier([], recorder)
    with pytest.raises(ValueError, match="repeated: webhook"):
        Notifier([hook, WebhookChannel(receiver.url())], recorder)
    with pytest.raises(ValueError, match="max_attempts"):
        Notifier([hook], recorder, max_attempts=0)
    with pytest.raises(ValueError, match="max_delay"):
        Notifier([hook], recorder, base_delay=5.0, max_delay=1.0)
    with pytest.raises(ValueError, match="jitter"):
        Notifier([hook], recorder, jitter=0.9)
    with pytest.raises(ValueError, match="queue_size"):
        Notifier([hook], recorder, queue_size=0)


def test_from_config_delivers_on_both_channels(
    receiver: Receiver,
    mailbox: Mailbox,
    recorder: Recorder,
    sleeps: Sleeps,
    make_notification: Callable[..., Notification],
) -> None:
    receiver.script.append(503)
    cfg = {
        "webhook": {"url": receiver.url(), "timeout": 5},
        "smtp": {
            "host": mailbox.host,
            "port": mailbox.port,
            "sender": "remit@example.com",
            "recipients": ["oncall@example.com"],
        },
        "retry": {"max_attempts": 2, "base_delay": 0.1, "max_delay": 1},
    }
    with Notifier.from_config(cfg, recorder, sleep=sleeps) as notifier:
        assert [c.name for c in notifier.channels] == ["webhook", "smtp"]
        assert notifier.max_attempts == 2
        notifier.submit(make_notification("notify"))
    assert [(r.channel, r.attempt, r.ok) for r in recorder.results] == [
        ("webhook", 1, False),
        ("smtp", 1, True),
        ("webhook", 2, True),
    ]
    assert len(mailbox.mails) == 1
    assert mailbox.mails[0][2]["Subject"].startswith("[Remit] NOTIFY: remediator")
    assert receiver.hits[-1].json()["text"].startswith("[Remit] NOTIFY: remediator")
    assert len(sleeps.delays) == 1 and 0.08 <= sleeps.delays[0] <= 0.1
